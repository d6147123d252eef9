/**
 * One member of the simulated group: a real RaftCore, the real RaftStorage (WAL + snapshots)
 * over a SimDisk, and the replicated KV state machine, driven by the Ready contract. A crash
 * can be armed to strike after a given number of disk operations, i.e. in the middle of
 * persisting, so that unsynced writes are lost or torn exactly as the SimDisk crash model
 * decides. The order is the production driver's:
 * send rd.messages → apply rd.committedEntries → persist (fsync) → send rd.messagesAfterPersist
 * → advance, so a crash can fall between a leader's sending its entries and their being durable.
 * The weather may make a write slow: its persist then starts some ticks later, and meanwhile the
 * node steps messages, sends core.takeMessages() and applies core.takeCommitted(), so a leader
 * applies and answers entries its followers committed before its own write, and may crash
 * before that write (core/index.ts).
 */
import { EntryKind, TesseraError, type Entry, type NodeId, type RaftMessage } from '@tessera/protocol'
import type { Prng, SimDisk } from '@tessera/sim'
import {
  RaftCore,
  bootstrapState,
  decodeConfChange,
  type CommittedBatch,
  type RaftConfig,
  type RaftLogger,
  type ReadState,
  type Ready,
  type Role,
} from '../core/index.js'
import type { Disk, DiskFile, OpenMode } from '../storage/disk.js'
import { RaftStorage } from '../storage/index.js'
import { KvStateMachine, decodeCommand, type KvCommand, type KvResult } from './kv.js'
import type { Violation } from './invariants.js'

/** Thrown through the driver when an armed crash strikes. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash'
}

/** Wraps a Disk view: after `armed` more operations the whole disk crashes (a power cut). */
class CrashingDisk implements Disk {
  armed: number | undefined

  constructor(private readonly inner: Disk, private readonly strike: () => void) {}

  private async op<T>(run: () => Promise<T>): Promise<T> {
    if (this.armed !== undefined) {
      if (this.armed <= 0) {
        this.armed = undefined
        this.strike()
        throw new SimulatedCrash('power cut')
      }
      this.armed--
    }
    return run()
  }

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    const file = await this.op(() => this.inner.open(path, mode))
    return {
      read: (position, length) => this.op(() => file.read(position, length)),
      write: (position, data) => this.op(() => file.write(position, data)),
      truncate: (size) => this.op(() => file.truncate(size)),
      size: () => file.size(),
      sync: () => this.op(() => file.sync()),
      close: () => file.close(),
    }
  }

  list(dir: string): Promise<string[]> {
    return this.inner.list(dir)
  }

  exists(path: string): Promise<boolean> {
    return this.inner.exists(path)
  }

  rename(from: string, to: string): Promise<void> {
    return this.op(() => this.inner.rename(from, to))
  }

  remove(path: string): Promise<void> {
    return this.op(() => this.inner.remove(path))
  }

  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir)
  }

  syncDir(dir: string): Promise<void> {
    return this.op(() => this.inner.syncDir(dir))
  }
}

export interface SimNodeEnv {
  /** The world's tick. */
  now(): number
  /** `count` entries were applied while this node, leading, had not written them itself yet. */
  appliedBeforeOwnWrite(count: number): void
  /** Sends a message through the simulated network. */
  send(m: RaftMessage): void
  /** A client request this node accepted was answered. */
  reply(client: string, seq: number, result: KvResult): void
  onApply(node: NodeId, e: Entry): Violation | undefined
  violation(v: Violation): void
  trace(line: string): void
}

export interface SimNodeOptions {
  id: NodeId
  disk: SimDisk
  /** The node's own stream: election jitter and crash decisions. */
  prng: Prng
  config: Omit<RaftConfig, 'id' | 'rng' | 'logger'>
  /** Founding members persist the bootstrap entries on first start; others start empty. */
  founders: NodeId[] | undefined
  /** Take a snapshot once this many entries were applied since the last one (0: never). */
  snapshotEvery: number
  /** Entries kept in the log behind each snapshot for followers that lag a little. */
  snapshotKeepEntries: number
  /** A write of a Ready with entries starts 1..maxTicks ticks late with this probability (draws from `prng`). */
  slowWrites: { chance: number; maxTicks: number; prng: Prng }
  env: SimNodeEnv
}

interface WaitingRead {
  client: string
  seq: number
  key: string
}

export class SimNode {
  readonly id: NodeId
  readonly disk: SimDisk
  private readonly opts: SimNodeOptions
  private wrapped: CrashingDisk | undefined
  private storage: RaftStorage | undefined
  core: RaftCore | undefined
  kv = new KvStateMachine()
  status: 'down' | 'up' | 'retired' = 'down'
  role: Role = 'follower'
  private lastSnapshotIndex = 0
  /** Client commands this node proposed: "client/seq". */
  private readonly waitingWrites = new Set<string>()
  private readonly waitingReads = new Map<string, WaitingRead>()
  private readStates: Array<ReadState & { read: WaitingRead }> = []
  private readCounter = 0
  /** A Ready whose write waits for the slow disk, and the tick the write starts at. */
  private delayed: { rd: Ready; startTick: number } | undefined
  /** The end of the log as durable in the WAL (the last completed save), for the stats. */
  private durableThrough = 0

  constructor(opts: SimNodeOptions) {
    this.id = opts.id
    this.disk = opts.disk
    this.opts = opts
  }

  get up(): boolean {
    return this.status === 'up' && this.core !== undefined
  }

  /** Opens (recovers) the storage and builds the core from it. */
  async start(): Promise<void> {
    const view = this.disk.isDown() ? this.disk.restart() : this.disk.view()
    this.wrapped = new CrashingDisk(view, () => this.disk.crash(this.opts.prng.fork()))
    const storage = await RaftStorage.open(this.wrapped)
    const st = storage.state
    const fresh = st.entries.length === 0 && st.snapshot === undefined && st.hardState.term === 0
    let hardState = st.hardState
    let entries = st.entries
    if (fresh && this.opts.founders !== undefined) {
      const boot = bootstrapState(this.opts.founders)
      await storage.save({ hardState: boot.hardState, entries: boot.entries })
      hardState = boot.hardState
      entries = boot.entries
    }
    const snapshot = await storage.loadSnapshot()
    this.kv = KvStateMachine.restore(snapshot?.data)
    this.lastSnapshotIndex = snapshot?.meta.index ?? 0
    this.core = RaftCore.create(
      { ...this.opts.config, id: this.id, rng: this.opts.prng, logger: this.traceLogger() },
      {
        hardState,
        conf: snapshot?.meta.conf ?? { voters: [], learners: [] },
        ...(snapshot !== undefined ? { snapshot } : {}),
        entries,
        applied: snapshot?.meta.index ?? 0,
      },
    )
    this.storage = storage
    this.durableThrough = entries[entries.length - 1]?.index ?? this.lastSnapshotIndex
    this.status = 'up'
    this.role = 'follower'
    this.opts.env.trace(`${this.id} up: term ${hardState.term} commit ${hardState.commit} entries ${entries.length} snapshot ${this.lastSnapshotIndex}`)
  }

  /** Arms a power cut after `ops` more disk operations. */
  armCrash(ops: number): void {
    if (this.wrapped !== undefined) this.wrapped.armed = ops
  }

  disarm(): void {
    if (this.wrapped !== undefined) this.wrapped.armed = undefined
  }

  isArmed(): boolean {
    return this.wrapped?.armed !== undefined
  }

  /** A crash now (between operations): unsynced data is subject to the disk's crash model. */
  crash(): void {
    if (!this.disk.isDown()) this.disk.crash(this.opts.prng.fork())
    this.down()
  }

  /** The node is gone (crashed mid-operation or removed); its memory is lost. */
  down(status: 'down' | 'retired' = 'down'): void {
    this.status = status
    this.core = undefined
    this.storage = undefined
    this.wrapped = undefined
    this.waitingWrites.clear()
    this.waitingReads.clear()
    this.readStates = []
    this.role = 'follower'
    this.delayed = undefined
  }

  /** A Ready handed out here is not yet written (a crash now loses it). */
  writeOutstanding(): boolean {
    return this.delayed !== undefined
  }

  /** Leading, this node applied (and answered) an entry that is not yet durable in its WAL. */
  leaderAppliedUnwritten(): boolean {
    return this.up && this.role === 'leader' && this.core!.status().applied > this.durableThrough
  }

  propose(cmd: KvCommand, data: Uint8Array): TesseraError | undefined {
    if (!this.up) return new TesseraError('UNAVAILABLE', `${this.id} is down`)
    const r = this.core!.propose(data)
    if (r instanceof TesseraError) return r
    this.waitingWrites.add(`${cmd.client}/${cmd.seq}`)
    return undefined
  }

  read(client: string, seq: number, key: string): TesseraError | undefined {
    if (!this.up) return new TesseraError('UNAVAILABLE', `${this.id} is down`)
    const n = ++this.readCounter
    const ctx = new TextEncoder().encode(`${this.id}:${n}`)
    const err = this.core!.readIndex(ctx)
    if (err !== undefined) return err
    this.waitingReads.set(`${this.id}:${n}`, { client, seq, key })
    return undefined
  }

  /**
   * Runs Ready cycles until none is left, or until one waits for the slow disk (its write then
   * starts at a later call). Throws SimulatedCrash if an armed crash strikes.
   */
  async process(): Promise<void> {
    const core = this.core
    const storage = this.storage
    if (core === undefined || storage === undefined) return
    if (this.delayed !== undefined) {
      // Our own write has not started: what may leave at once leaves, and what the others'
      // acks committed meanwhile is applied and answered now.
      for (const m of core.takeMessages()) this.opts.env.send(m)
      this.applyBatch(core.takeCommitted(), storage)
      if (this.opts.env.now() < this.delayed.startTick) return
      const { rd } = this.delayed
      this.delayed = undefined
      await this.finish(core, storage, rd)
    }
    while (core.hasReady()) {
      const rd = core.ready()
      // The leader's appends leave before its own write (thesis §10.2.1): an armed crash below
      // then strikes after they are on the wire and before they are durable here.
      for (const m of rd.messages) this.opts.env.send(m)
      // Committed entries need not wait for this node's write: apply them first.
      this.applyBatch(rd, storage)
      if (rd.softState !== undefined) {
        if (rd.softState.role !== this.role) this.opts.env.trace(`${this.id} is ${rd.softState.role} (leader '${rd.softState.leader}')`)
        if (this.role === 'leader' && rd.softState.role !== 'leader') {
          // Requests accepted as leader may never be answered now; clients time out and retry.
          this.waitingWrites.clear()
          this.waitingReads.clear()
          this.readStates = []
        }
        this.role = rd.softState.role
      }
      const slow = this.opts.slowWrites
      if (rd.entries.length > 0 && slow.chance > 0 && slow.prng.chance(slow.chance)) {
        const ticks = slow.prng.int(1, slow.maxTicks + 1)
        this.delayed = { rd, startTick: this.opts.env.now() + ticks }
        this.opts.env.trace(`${this.id} write of ${rd.entries.length} entries starts in ${ticks} ticks`)
        return
      }
      await this.finish(core, storage, rd)
    }
  }

  /** Persists `rd`, then sends what promises it durable, then advances. */
  private async finish(core: RaftCore, storage: RaftStorage, rd: Ready): Promise<void> {
    if (rd.snapshot !== undefined) {
      await storage.saveSnapshot(rd.snapshot)
      this.kv = KvStateMachine.restore(rd.snapshot.data)
      this.lastSnapshotIndex = rd.snapshot.meta.index
      this.durableThrough = rd.snapshot.meta.index
      this.opts.env.trace(`${this.id} installed snapshot at ${rd.snapshot.meta.index}`)
    }
    if (rd.hardState !== undefined || rd.entries.length > 0) {
      await storage.save({ ...(rd.hardState !== undefined ? { hardState: rd.hardState } : {}), entries: rd.entries })
      const last = rd.entries[rd.entries.length - 1]
      if (last !== undefined) this.durableThrough = last.index
    }
    for (const m of rd.messagesAfterPersist) this.opts.env.send(m)
    core.advance(rd)
    this.serveReads()
    await this.maybeSnapshot()
  }

  private applyBatch(batch: CommittedBatch, storage: RaftStorage): void {
    if (this.role === 'leader') {
      const unwritten = batch.committedEntries.filter((e) => e.index > this.lastSnapshotIndex && !storage.holds(e.index, e.term)).length
      if (unwritten > 0) this.opts.env.appliedBeforeOwnWrite(unwritten)
    }
    for (const e of batch.committedEntries) this.apply(e)
    for (const rs of batch.readStates) {
      const key = new TextDecoder().decode(rs.context)
      const read = this.waitingReads.get(key)
      if (read === undefined) continue
      this.waitingReads.delete(key)
      this.readStates.push({ ...rs, read })
    }
    this.serveReads()
  }

  private apply(e: Entry): void {
    const v = this.opts.env.onApply(this.id, e)
    if (v !== undefined) this.opts.env.violation(v)
    if (e.kind === EntryKind.ConfChange) {
      const cc = decodeConfChange(e.data)
      if (!(cc instanceof TesseraError)) this.opts.env.trace(`${this.id} applies conf change ${cc.type} ${cc.node} at ${e.index}`)
      return
    }
    const cmd = decodeCommand(e.data)
    if (cmd === undefined) return
    const result = this.kv.apply(cmd)
    const key = `${cmd.client}/${cmd.seq}`
    if (result !== undefined && this.waitingWrites.delete(key)) this.opts.env.reply(cmd.client, cmd.seq, result)
  }

  private serveReads(): void {
    const applied = this.core!.status().applied
    const keep: typeof this.readStates = []
    for (const rs of this.readStates) {
      if (rs.index <= applied) this.opts.env.reply(rs.read.client, rs.read.seq, this.kv.read(rs.read.key))
      else keep.push(rs)
    }
    this.readStates = keep
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.opts.snapshotEvery
    const core = this.core!
    const st = core.status()
    if (every <= 0 || st.applied - this.lastSnapshotIndex < every || st.applied < st.firstIndex) return
    const term = core.termAt(st.applied)
    if (term === undefined) return
    // Entries applied before our own write may not be in the WAL yet: a snapshot waits for them.
    if (!this.storage!.holds(st.applied, term)) return
    const snapshot = { meta: { index: st.applied, term, conf: st.conf }, data: this.kv.snapshot() }
    await this.storage!.saveSnapshot(snapshot)
    const keep = this.opts.snapshotKeepEntries
    core.compact(snapshot, keep)
    await this.storage!.compact(Math.max(0, st.applied - keep))
    this.lastSnapshotIndex = st.applied
    this.opts.env.trace(`${this.id} snapshot at ${st.applied}`)
  }

  private traceLogger(): RaftLogger {
    const line = (level: string) => (obj: object | string, msg?: string): void => {
      const text = typeof obj === 'string' ? obj : `${msg ?? ''} ${JSON.stringify(obj)}`
      this.opts.env.trace(`${this.id} ${level} ${text}`)
    }
    return { debug: () => {}, info: line('info'), warn: line('warn'), error: line('error') }
  }
}
