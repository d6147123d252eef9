/**
 * RaftNode: runs one member of a Raft group for real. It owns the I/O the pure core leaves
 * out: a tick timer, the durable RaftStorage, a transport to the peers, and the application
 * state machine. The loop follows the core's contract (core/index.ts): send what may leave at
 * once, persist, then send what promises durable state, then advance; committed entries are
 * applied as soon as a caller here waits for them (else after the persist). While one Ready is
 * being persisted, new proposals and messages accumulate in the core and go to disk together in
 * the next one: that is the group commit. Meanwhile the appends for them leave at once, and
 * entries that the followers' acks commit are applied and answered at once, without waiting
 * for this node's own write.
 */
import { randomBytes } from 'node:crypto'
import {
  EntryKind,
  TesseraError,
  silentLogger,
  type ConfChange,
  type Entry,
  type HardState,
  type Logger,
  type NodeId,
  type RaftMessage,
  type Snapshot,
} from '@tessera/protocol'
import {
  RaftCore,
  bootstrapState,
  decodeConfChange,
  type InitialState,
  type RaftRng,
  type ReadState,
  type Ready,
  type Role,
  type Status,
} from '../core/index.js'
import type { RaftStorage } from '../storage/index.js'
import type { RaftStateMachine } from './state-machine.js'
import type { RaftTransport } from './transport.js'
import { decodeSnapshotEnvelope, encodeSnapshotEnvelope } from './snapshot-envelope.js'
import { StageTimer, type StageReport } from './stage-timer.js'
import { HeldAppends } from './held-appends.js'

export interface RaftNodeOptions {
  id: NodeId
  storage: RaftStorage
  transport: RaftTransport
  stateMachine: RaftStateMachine
  /** Members known from configuration and where they listen. */
  peers: Record<NodeId, string>
  /** On an empty store: found a new group whose voters are `peers` (every founder does the same). */
  bootstrap: boolean
  logger?: Logger
  /** Milliseconds per Raft tick (default 100). */
  tickMs?: number
  /** Ticks of leader silence before an election (default 10). */
  electionTicks?: number
  /** Ticks between heartbeats (default 1). */
  heartbeatTicks?: number
  /** Take a snapshot and compact the log after this many applied entries (default 20,000). */
  snapshotEntries?: number
  /**
   * Entries kept behind each snapshot (default 5,000), so a follower that is only a little
   * behind catches up from the log instead of needing the whole snapshot (etcd's
   * SnapshotCatchUpEntries).
   */
  catchUpEntries?: number
  maxInflightMsgs?: number
  maxSizePerMsg?: number
  rng?: RaftRng
  /** Time each proposal's stages (persisted, sent, acked, committed, applied); see stageReport(). */
  measureStages?: boolean
  /**
   * How long the leader holds an append without entries (a commit-index notice) so that it
   * leaves with, or is replaced by, the next append to that follower (default 2 ms; 0 sends
   * at once). See held-appends.ts.
   */
  commitNoticeHoldMs?: number
}

export interface ProposeOptions {
  /** Give up waiting after this long (the entry may still commit later). Default 10 s. */
  timeoutMs?: number
}

export interface RaftNodeStatus extends Status {
  /** Member id -> address, as this node knows them. */
  members: Record<NodeId, string>
  snapshotIndex: number
}

interface PendingProposal {
  term: number
  resolve: (result: unknown) => void
  reject: (err: TesseraError) => void
  timer: NodeJS.Timeout
}

interface PendingRead {
  /** Known once the leader has confirmed its leadership for this read. */
  index: number | undefined
  resolve: () => void
  reject: (err: TesseraError) => void
  timer: NodeJS.Timeout
}

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_COMMIT_NOTICE_HOLD_MS = 2
/** Ready cycles snapshotNow() waits for a moment when a snapshot may be taken. */
const SNAPSHOT_NOW_MAX_WAITS = 1000

function cryptoRng(): RaftRng {
  return { next: () => randomBytes(4).readUInt32LE(0) }
}

export class RaftNode {
  readonly id: NodeId
  private readonly core: RaftCore
  private readonly storage: RaftStorage
  private readonly transport: RaftTransport
  private readonly stateMachine: RaftStateMachine
  private readonly logger: Logger
  private readonly members = new Map<NodeId, string>()
  private readonly proposals = new Map<number, PendingProposal>()
  private readonly reads = new Map<string, PendingRead>()
  private readonly roleListeners: ((role: Role, leader: NodeId) => void)[] = []
  private readonly fatalListeners: ((err: Error) => void)[] = []
  private readonly snapshotEntries: number
  private readonly catchUpEntries: number
  private readonly tickMs: number
  private ticker: NodeJS.Timeout | undefined
  private scheduled = false
  /** Resolved after the next core.advance() (or on stop). */
  private advanceWaiters: (() => void)[] = []
  /** A send of core.takeMessages() (and a take of committed entries) is scheduled while a Ready is being persisted. */
  private sendScheduled = false
  /** The Ready being persisted, when its committed entries wait for the persist (a follower's). */
  private unapplied: Ready | undefined
  private running = false
  private stopped = false
  private failure: Error | undefined
  private applied: number
  private appliedTerm: number
  private snapshotIndex: number
  private snapshotting: Promise<void> | undefined
  /** The newest hard state when only its commit index changed since the last save. */
  private deferredHardState: HardState | undefined
  /** True while a snapshot from the leader is being saved: taking our own must wait for it. */
  private installing = false
  private nextReadId = 1
  private role: Role = 'follower'
  private leader: NodeId = ''
  private readonly stages: StageTimer | undefined
  private readonly heldAppends: HeldAppends

  private constructor(options: RaftNodeOptions, initial: InitialState, members: Map<NodeId, string>) {
    this.id = options.id
    this.storage = options.storage
    this.transport = options.transport
    this.stateMachine = options.stateMachine
    this.logger = options.logger ?? silentLogger()
    this.snapshotEntries = options.snapshotEntries ?? 20_000
    this.catchUpEntries = options.catchUpEntries ?? 5_000
    this.tickMs = options.tickMs ?? 100
    this.stages = options.measureStages === true ? new StageTimer(undefined, Math.max(1, members.size - 1)) : undefined
    this.heldAppends = new HeldAppends(options.commitNoticeHoldMs ?? DEFAULT_COMMIT_NOTICE_HOLD_MS, (held) => this.sendNow(held))
    this.applied = initial.applied
    this.snapshotIndex = initial.snapshot?.meta.index ?? 0
    this.appliedTerm = initial.snapshot?.meta.term ?? 0
    for (const [id, address] of members) this.members.set(id, address)
    this.core = RaftCore.create(
      {
        id: options.id,
        electionTick: options.electionTicks ?? 10,
        heartbeatTick: options.heartbeatTicks ?? 1,
        rng: options.rng ?? cryptoRng(),
        preVote: true,
        checkQuorum: true,
        maxInflightMsgs: options.maxInflightMsgs ?? 256,
        maxSizePerMsg: options.maxSizePerMsg ?? 1024 * 1024,
        logger: this.logger,
      },
      initial,
    )
  }

  /** Recovers from storage (or bootstraps a new group) and starts ticking. */
  static async start(options: RaftNodeOptions): Promise<RaftNode> {
    const recovered = options.storage.state
    const members = new Map(Object.entries(options.peers))
    let snapshot: Snapshot | undefined
    if (recovered.snapshot !== undefined) {
      snapshot = await options.storage.loadSnapshot()
      if (snapshot === undefined) throw new TesseraError('EIO', `raft: snapshot ${recovered.snapshot.index} is recorded but cannot be read`)
      const envelope = decodeSnapshotEnvelope(snapshot.data)
      options.stateMachine.restore(envelope.app)
      for (const [id, address] of Object.entries(envelope.members)) members.set(id, address)
    }
    let initial: InitialState = {
      hardState: recovered.hardState,
      conf: snapshot?.meta.conf ?? { voters: [], learners: [] },
      entries: recovered.entries,
      applied: snapshot?.meta.index ?? 0,
      ...(snapshot === undefined ? {} : { snapshot }),
    }
    const empty = snapshot === undefined && recovered.entries.length === 0 && recovered.hardState.term === 0
    if (empty && options.bootstrap) {
      initial = bootstrapState(Object.keys(options.peers))
      await options.storage.save({ hardState: initial.hardState, entries: initial.entries })
    }
    const node = new RaftNode(options, initial, members)
    node.transport.setPeers(node.members)
    node.ticker = setInterval(() => node.onTick(), node.tickMs)
    node.kick()
    return node
  }

  // ------------------------------------------------------------------ inputs

  /** Messages from peers (already validated by the transport). */
  step(messages: readonly RaftMessage[]): void {
    if (this.stopped) return
    this.stages?.received(messages)
    for (const message of messages) {
      if (message.to !== this.id) continue
      this.core.step(message)
    }
    this.kick()
  }

  /**
   * Replicates `data` and resolves with the state machine's answer once the entry is applied
   * here. Rejects with NOT_LEADER (with a hint) on a follower, ETIMEDOUT when the outcome is
   * unknown after the timeout, UNAVAILABLE when the entry was lost to a leader change.
   */
  propose(data: Uint8Array, options: ProposeOptions = {}): Promise<unknown> {
    const refused = this.refusal()
    if (refused !== undefined) return Promise.reject(refused)
    const proposed = this.core.propose(data)
    if (proposed instanceof TesseraError) return Promise.reject(this.withLeaderHint(proposed))
    this.stages?.proposed(proposed.index)
    this.kick()
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.proposals.get(proposed.index)?.timer !== timer) return
        this.proposals.delete(proposed.index)
        reject(new TesseraError('ETIMEDOUT', `raft: entry ${proposed.index} not applied within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`))
      }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
      this.proposals.set(proposed.index, { term: proposed.term, resolve, reject, timer })
    })
  }

  /** Proposes one membership change; resolves when it is applied here. */
  async changeMembership(change: ConfChange, options: ProposeOptions = {}): Promise<void> {
    const refused = this.refusal()
    if (refused !== undefined) throw refused
    const proposed = this.core.proposeConfChange(change)
    if (proposed instanceof TesseraError) throw this.withLeaderHint(proposed)
    this.kick()
    await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.proposals.get(proposed.index)?.timer !== timer) return
        this.proposals.delete(proposed.index)
        reject(new TesseraError('ETIMEDOUT', `raft: membership change ${change.type} ${change.node} not applied in time`))
      }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
      this.proposals.set(proposed.index, { term: proposed.term, resolve, reject, timer })
    })
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves once this node has applied everything
   * committed when the call was made, confirmed by a quorum that this node still leads.
   */
  readBarrier(options: ProposeOptions = {}): Promise<void> {
    const refused = this.refusal()
    if (refused !== undefined) return Promise.reject(refused)
    const key = String(this.nextReadId++)
    const failure = this.core.readIndex(Buffer.from(key))
    if (failure !== undefined) return Promise.reject(this.withLeaderHint(failure))
    this.kick()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.reads.delete(key)) reject(new TesseraError('ETIMEDOUT', 'raft: read index not confirmed in time'))
      }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
      this.reads.set(key, { index: undefined, resolve, reject, timer })
    })
  }

  transferLeadership(to: NodeId): void {
    this.checkRunning()
    const failure = this.core.transferLeadership(to)
    if (failure !== undefined) throw this.withLeaderHint(failure)
    this.kick()
  }

  /** Takes a snapshot of the applied state now and compacts the log behind it. */
  async snapshotNow(): Promise<number> {
    this.checkRunning()
    // A snapshot needs every entry it covers applied here and handed to storage; under a
    // steady load that holds at some Ready boundary soon (at once when idle).
    for (let waited = 0; this.running && this.applied > this.snapshotIndex && !this.canSnapshot() && waited < SNAPSHOT_NOW_MAX_WAITS; waited++) {
      await new Promise<void>((resolve) => this.advanceWaiters.push(resolve))
    }
    await this.takeSnapshot()
    return this.snapshotIndex
  }

  // ------------------------------------------------------------------ queries

  isLeader(): boolean {
    return this.role === 'leader'
  }

  leaderId(): NodeId {
    return this.leader
  }

  addressOf(id: NodeId): string | undefined {
    return this.members.get(id)
  }

  appliedIndex(): number {
    return this.applied
  }

  status(): RaftNodeStatus {
    return { ...this.core.status(), members: Object.fromEntries(this.members), snapshotIndex: this.snapshotIndex }
  }

  /** Stage latencies since the start (or the last clearStageReport()); undefined unless measureStages. */
  stageReport(): StageReport | undefined {
    return this.stages?.report()
  }

  clearStageReport(): void {
    this.stages?.clear()
  }

  onRoleChange(listener: (role: Role, leader: NodeId) => void): void {
    this.roleListeners.push(listener)
  }

  /** Called once if the node stops because its storage failed (it can no longer promise durability). */
  onFatal(listener: (err: Error) => void): void {
    this.fatalListeners.push(listener)
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.ticker !== undefined) clearInterval(this.ticker)
    this.heldAppends.clear()
    this.failAll(new TesseraError('UNAVAILABLE', 'raft: node stopped'))
    this.wakeAdvanceWaiters()
    await this.snapshotting?.catch(() => undefined)
    await this.transport.close()
    const deferred = this.deferredHardState
    this.deferredHardState = undefined
    if (deferred !== undefined && this.failure === undefined) await this.storage.save({ hardState: deferred }).catch(() => undefined)
    await this.storage.close()
  }

  // ------------------------------------------------------------------ the loop

  private onTick(): void {
    if (this.stopped) return
    this.core.tick()
    this.kick()
  }

  private kick(): void {
    if (this.stopped) return
    if (this.running) {
      this.scheduleSend()
      return
    }
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.process()
    })
  }

  /**
   * While a Ready is being persisted, what may leave at once (appends for new proposals,
   * heartbeats) goes out now instead of waiting for the disk write: the followers start their
   * own writes sooner. And when callers here wait, entries committed meanwhile by the
   * followers' acks are applied now, not after this node's own write (core/index.ts).
   */
  private scheduleSend(): void {
    if (this.sendScheduled) return
    this.sendScheduled = true
    setImmediate(() => {
      this.sendScheduled = false
      if (this.stopped || !this.running) return
      this.send(this.core.takeMessages())
      if (this.callersWait()) this.applyTaken()
    })
  }

  /** A proposal or read made here waits for an apply: applying early answers it sooner. */
  private callersWait(): boolean {
    return this.proposals.size > 0 || this.reads.size > 0
  }

  private applyTaken(): void {
    this.applyUnapplied()
    const batch = this.core.takeCommitted()
    const last = batch.committedEntries[batch.committedEntries.length - 1]
    if (last !== undefined) this.stages?.committed(last.index)
    this.applyBatch(batch.committedEntries, batch.readStates)
  }

  private async process(): Promise<void> {
    if (this.running || this.stopped) return
    this.running = true
    try {
      while (!this.stopped && this.core.hasReady()) {
        const rd = this.core.ready()
        if (rd.hardState !== undefined) this.stages?.committed(rd.hardState.commit)
        // The leader's appends go out while its own write is in flight (core/index.ts, step 1).
        this.send(rd.messages)
        // Committed entries are durable on a majority, so they may be applied before this
        // node's write of newer entries: done so when a caller here waits for them (a leader
        // answering clients). Otherwise (a follower) they are applied after the acks have
        // left, keeping the apply off the path of the next commit.
        if (this.callersWait()) this.applyBatch(rd.committedEntries, rd.readStates)
        else this.unapplied = rd
        await this.persist(rd)
        if (this.stopped) return
        const lastEntry = rd.entries[rd.entries.length - 1]
        if (lastEntry !== undefined) this.stages?.persisted(lastEntry.index)
        this.send(rd.messagesAfterPersist)
        this.applyUnapplied()
        this.noteSoftState(rd)
        this.core.advance(rd)
        this.wakeAdvanceWaiters()
        this.serveReads()
        this.maybeSnapshot()
      }
    } catch (err) {
      this.fail(err as Error)
    } finally {
      this.running = false
    }
  }

  /** Applies the committed entries of the Ready being persisted, if they still wait. */
  private applyUnapplied(): void {
    const rd = this.unapplied
    if (rd === undefined) return
    this.unapplied = undefined
    this.applyBatch(rd.committedEntries, rd.readStates)
  }

  private applyBatch(entries: readonly Entry[], readStates: readonly ReadState[]): void {
    this.applyCommitted(entries)
    this.stages?.applied(this.applied)
    this.noteReadStates(readStates)
    this.serveReads()
  }

  private send(messages: readonly RaftMessage[]): void {
    if (messages.length === 0) return
    this.sendNow(this.heldAppends.pass(messages))
  }

  private sendNow(messages: readonly RaftMessage[]): void {
    if (messages.length === 0 || this.stopped) return
    this.transport.send(messages)
    this.stages?.sent(messages)
  }

  private wakeAdvanceWaiters(): void {
    if (this.advanceWaiters.length === 0) return
    const waiters = this.advanceWaiters
    this.advanceWaiters = []
    for (const wake of waiters) wake()
  }

  private async persist(rd: Ready): Promise<void> {
    if (rd.snapshot !== undefined) {
      // A snapshot of our own still being written is older than the leader's: let it finish
      // first, or storage would refuse it as "not newer" after the leader's was saved.
      this.installing = true
      await this.snapshotting?.catch(() => undefined)
      await this.storage.saveSnapshot(rd.snapshot)
      this.installing = false
      const envelope = decodeSnapshotEnvelope(rd.snapshot.data)
      this.stateMachine.restore(envelope.app)
      for (const [id, address] of Object.entries(envelope.members)) this.members.set(id, address)
      this.transport.setPeers(this.members)
      this.applied = rd.snapshot.meta.index
      this.appliedTerm = rd.snapshot.meta.term
      this.snapshotIndex = rd.snapshot.meta.index
      this.logger.info({ index: rd.snapshot.meta.index, term: rd.snapshot.meta.term }, 'raft: restored from a leader snapshot')
    }
    if (rd.hardState !== undefined && !rd.mustSync) {
      // Only the commit index moved. It needs no fsync of its own (a lost commit index is
      // learned again from the leader), so it rides along with the next save that does.
      this.deferredHardState = rd.hardState
      if (rd.entries.length === 0) return
    }
    const hardState = rd.hardState ?? this.deferredHardState
    this.deferredHardState = undefined
    if (hardState !== undefined || rd.entries.length > 0) {
      await this.storage.save({
        ...(hardState === undefined ? {} : { hardState }),
        ...(rd.entries.length > 0 ? { entries: rd.entries } : {}),
      })
    }
  }

  private applyCommitted(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index <= this.applied) continue
      let result: unknown
      if (entry.kind === EntryKind.ConfChange) {
        this.noteMembershipChange(entry)
      } else if (entry.data.byteLength > 0) {
        result = this.stateMachine.apply(entry)
      }
      this.applied = entry.index
      this.appliedTerm = entry.term
      const pending = this.proposals.get(entry.index)
      if (pending === undefined) continue
      this.proposals.delete(entry.index)
      clearTimeout(pending.timer)
      if (pending.term === entry.term) pending.resolve(result)
      else pending.reject(new TesseraError('UNAVAILABLE', `raft: entry ${entry.index} was replaced after a leader change; retry`))
    }
  }

  private noteMembershipChange(entry: Entry): void {
    const change = decodeConfChange(entry.data)
    if (change instanceof TesseraError) return // the core rejects such an entry as a no-op too
    if (change.type === 'remove') this.members.delete(change.node)
    else if (change.address !== undefined) this.members.set(change.node, change.address)
    this.transport.setPeers(this.members)
    this.logger.info({ change, index: entry.index }, 'raft: membership change applied')
  }

  private noteReadStates(readStates: readonly ReadState[]): void {
    for (const state of readStates) {
      const read = this.reads.get(Buffer.from(state.context).toString())
      if (read !== undefined) read.index = state.index
    }
  }

  private serveReads(): void {
    for (const [key, read] of this.reads) {
      if (read.index === undefined || read.index > this.applied) continue
      this.reads.delete(key)
      clearTimeout(read.timer)
      read.resolve()
    }
  }

  private noteSoftState(rd: Ready): void {
    if (rd.softState === undefined) return
    const wasLeader = this.role === 'leader'
    this.stages?.reset()
    this.role = rd.softState.role
    this.leader = rd.softState.leader
    if (wasLeader && this.role !== 'leader') {
      // The core drops unconfirmed reads when leadership is lost; so do we.
      for (const [key, read] of this.reads) {
        this.reads.delete(key)
        clearTimeout(read.timer)
        read.reject(this.notLeader())
      }
    }
    this.logger.info({ role: this.role, leader: this.leader, term: this.core.status().term }, 'raft: role changed')
    for (const listener of this.roleListeners) listener(this.role, this.leader)
  }

  private maybeSnapshot(): void {
    if (this.snapshotting !== undefined || this.applied - this.snapshotIndex < this.snapshotEntries) return
    void this.takeSnapshot().catch((err: Error) => this.fail(err))
  }

  /**
   * A snapshot at the applied index may be taken: everything handed out is applied (so the
   * core's membership is the one at that index), and the WAL holds or has queued the entry at
   * that index (so, by Log Matching, every entry the snapshot covers). The second matters
   * because entries are applied once a quorum has them, possibly before this node saved them
   * (see RaftStorage.holds).
   */
  private canSnapshot(): boolean {
    return this.core.status().applied === this.applied && this.storage.holds(this.applied, this.appliedTerm)
  }

  private takeSnapshot(): Promise<void> {
    if (this.snapshotting !== undefined) return this.snapshotting
    const index = this.applied
    const term = this.appliedTerm
    if (index <= this.snapshotIndex || this.installing || !this.canSnapshot()) return Promise.resolve()
    const conf = this.core.status().conf
    const members = Object.fromEntries(this.members)
    const appBytes = this.stateMachine.snapshot()
    this.snapshotting = (async () => {
      try {
        const app = await appBytes
        if (this.stopped || this.installing || index <= this.snapshotIndex) return
        const snapshot: Snapshot = { meta: { index, term, conf }, data: encodeSnapshotEnvelope({ members, app }) }
        await this.storage.saveSnapshot(snapshot)
        if (this.stopped) return
        this.core.compact(snapshot, this.catchUpEntries)
        this.snapshotIndex = Math.max(this.snapshotIndex, index)
        if (index > this.catchUpEntries) await this.storage.compact(index - this.catchUpEntries)
        this.logger.info({ index, term, bytes: snapshot.data.byteLength }, 'raft: snapshot taken, log compacted')
      } finally {
        this.snapshotting = undefined
      }
    })()
    return this.snapshotting
  }

  // ------------------------------------------------------------------ failures

  private checkRunning(): void {
    const refused = this.refusal()
    if (refused !== undefined) throw refused
  }

  /** Why this node takes no more requests, if it does not. */
  private refusal(): TesseraError | undefined {
    if (this.failure !== undefined) return new TesseraError('EIO', `raft: node failed: ${this.failure.message}`)
    if (this.stopped) return new TesseraError('UNAVAILABLE', 'raft: node stopped')
    return undefined
  }

  private notLeader(): TesseraError {
    return this.withLeaderHint(new TesseraError('NOT_LEADER', `raft: ${this.id} is not the leader`))
  }

  private withLeaderHint(err: TesseraError): TesseraError {
    if (err.code !== 'NOT_LEADER') return err
    const leaderId = this.leader
    const leaderHint = leaderId === '' ? undefined : this.members.get(leaderId)
    return new TesseraError('NOT_LEADER', err.message, {
      ...(leaderId === '' ? {} : { leaderId }),
      ...(leaderHint === undefined ? {} : { leaderHint }),
    })
  }

  private failAll(err: TesseraError): void {
    for (const [index, proposal] of this.proposals) {
      this.proposals.delete(index)
      clearTimeout(proposal.timer)
      proposal.reject(err)
    }
    for (const [key, read] of this.reads) {
      this.reads.delete(key)
      clearTimeout(read.timer)
      read.reject(err)
    }
  }

  /** Storage failed: this node can no longer promise durability, so it stops participating. */
  private fail(err: Error): void {
    if (this.failure !== undefined || this.stopped) return
    this.failure = err
    this.logger.error({ err }, 'raft: fatal storage failure; the node stops')
    this.failAll(new TesseraError('EIO', `raft: node failed: ${err.message}`))
    void this.stop().catch(() => undefined)
    for (const listener of this.fatalListeners) listener(err)
  }
}
