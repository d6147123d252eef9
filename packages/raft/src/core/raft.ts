/**
 * RaftCore: the Raft consensus algorithm as a pure, deterministic state machine (the shape of
 * etcd-io/raft's RawNode). Inputs: tick(), step(message), propose(), proposeConfChange(),
 * readIndex(), transferLeadership(), campaign(), compact(). Output: Ready batches.
 * No I/O, no clock, no ambient randomness: the same inputs give the same outputs.
 *
 * Structure follows etcd's raft.go: step() applies the term rules to every message, answers
 * vote requests, then dispatches to the role's step function (stepLeader / stepCandidate /
 * stepFollower), each an exhaustive switch.
 */
import {
  EntryKind,
  LIMITS,
  TesseraError,
  type AppendRequest,
  type AppendResponse,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type NodeId,
  type RaftMessage,
  type Snapshot,
  type SnapshotChunk,
  type SnapshotChunkResponse,
  type SnapshotMeta,
  type VoteRequest,
  type VoteResponse,
} from '@tessera/protocol'
import { assertNever } from './assert.js'
import { applyConfChange, checkConfChange, decodeConfChange, encodeConfChange, isMember } from './confchange.js'
import { RaftLog } from './log.js'
import { Progress } from './progress.js'
import { committedIndex, voteResult } from './quorum.js'
import { ReadOnly } from './read-only.js'
import type {
  CommittedBatch,
  InitialState,
  PeerStatus,
  PlantedBugs,
  Proposed,
  RaftConfig,
  RaftLogger,
  ReadState,
  Ready,
  Role,
  SoftState,
  Status,
} from './types.js'
import { invalidReason } from './validate.js'

/** Longest context a readIndex request may carry. */
export const MAX_READ_CONTEXT_BYTES = 256
/** ReadIndex requests a leader queues while waiting for its first commit in the term. */
const MAX_PENDING_READS = 4096
const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024

const noopLogger: RaftLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** A snapshot being received in chunks from the leader. */
interface IncomingSnapshot {
  meta: SnapshotMeta
  from: NodeId
  term: number
  parts: Uint8Array[]
  received: number
}

type ResolvedConfig = Required<Omit<RaftConfig, 'logger' | 'plantedBugs'>> & { plantedBugs: PlantedBugs }

export class RaftCore {
  readonly id: NodeId
  private readonly cfg: ResolvedConfig
  private readonly logger: RaftLogger
  private readonly log: RaftLog

  private term = 0
  private vote: NodeId = ''
  private leader: NodeId = ''
  private role: Role = 'follower'
  private conf: ConfState

  private electionElapsed = 0
  private heartbeatElapsed = 0
  private randomizedElectionTimeout = 0

  /** Leader only: one entry per member (self included). */
  private progress = new Map<NodeId, Progress>()
  /** Candidate / pre-candidate only. */
  private readonly votes = new Map<NodeId, boolean>()
  private leadTransferee: NodeId = ''
  /** Index of the newest conf change (or the term's no-op) the leader appended; no other change until it is applied. */
  private pendingConfIndex = 0
  private readonly readOnly = new ReadOnly()
  /** Reads received before the leader committed an entry of its term. */
  private pendingReads: Uint8Array[] = []

  /** The newest snapshot this node holds durably, sent to followers whose next entry is compacted. */
  private snapshot: Snapshot | undefined
  private incoming: IncomingSnapshot | undefined

  /** Messages that may leave at once (see Ready.messages). */
  private msgs: RaftMessage[] = []
  /** Messages that leave once the Ready they are handed out with is durable (Ready.messagesAfterPersist). */
  private msgsAfterPersist: RaftMessage[] = []
  private readStates: ReadState[] = []
  private prevSoft: SoftState
  private prevHard: HardState
  /** A Ready was handed out and not yet advanced. */
  private outstanding = false

  static create(config: RaftConfig, initial: InitialState): RaftCore {
    return new RaftCore(config, initial)
  }

  private constructor(config: RaftConfig, initial: InitialState) {
    if (typeof config.id !== 'string' || config.id.length === 0) throw new Error('raft: config.id must be a non-empty string')
    if (!Number.isInteger(config.heartbeatTick) || config.heartbeatTick < 1) throw new Error('raft: heartbeatTick must be >= 1')
    if (!Number.isInteger(config.electionTick) || config.electionTick <= config.heartbeatTick) {
      throw new Error('raft: electionTick must be an integer above heartbeatTick')
    }
    if (!Number.isInteger(config.maxInflightMsgs) || config.maxInflightMsgs < 1) throw new Error('raft: maxInflightMsgs must be >= 1')
    if (!(config.maxSizePerMsg >= 1)) throw new Error('raft: maxSizePerMsg must be >= 1')
    this.id = config.id
    this.cfg = {
      id: config.id,
      electionTick: config.electionTick,
      heartbeatTick: config.heartbeatTick,
      rng: config.rng,
      preVote: config.preVote,
      checkQuorum: config.checkQuorum,
      maxInflightMsgs: config.maxInflightMsgs,
      maxSizePerMsg: Math.min(config.maxSizePerMsg, LIMITS.maxAppendBytes),
      snapshotChunkBytes: Math.max(1, Math.min(config.snapshotChunkBytes ?? LIMITS.maxSnapshotChunkBytes, LIMITS.maxSnapshotChunkBytes)),
      maxSnapshotBytes: config.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
      plantedBugs: config.plantedBugs ?? {},
    }
    this.logger = config.logger ?? noopLogger
    const { hardState } = initial
    this.log = new RaftLog(initial.snapshot?.meta, initial.entries, hardState.commit, initial.applied)
    this.snapshot = initial.snapshot
    this.conf = { voters: [...initial.conf.voters].sort(), learners: [...initial.conf.learners].sort() }
    this.becomeFollower(hardState.term, '')
    this.vote = hardState.vote
    this.prevHard = this.hardState()
    this.prevSoft = this.softState()
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick: election timeouts, heartbeats, CheckQuorum, transfer abort. */
  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat()
    else this.tickElection()
  }

  /** Processes one message from a peer. Invalid messages are dropped with a warning. */
  step(m: RaftMessage): void {
    const invalid = invalidReason(this.id, m)
    if (invalid !== undefined) {
      this.logger.warn({ from: m?.from, type: m?.type, reason: invalid }, 'raft: dropping invalid message')
      return
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const inLease = this.cfg.checkQuorum && this.leader !== '' && this.electionElapsed < this.cfg.electionTick
        if (inLease && !m.transfer) {
          // Leader lease: we heard from a leader within the election timeout, so a candidate is
          // not needed; ignoring it keeps a partitioned node from disrupting a healthy group.
          this.logger.debug({ from: m.from, term: m.term }, 'raft: ignoring vote request within leader lease')
          return
        }
      }
      if (m.type === 'preVote') {
        // A pre-vote carries the term the candidate would use; it never changes ours.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // Granted pre-votes carry the future term; we adopt it only when we win the pre-vote.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, '')
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader (e.g. healed from a partition): tell it our term so it steps down. The
        // answer claims no entry (index 0): by the time it arrives its sender may lead in our
        // term, and an index here would count as a match of a log this append never checked.
        this.send<AppendResponse>({ type: 'appendResp', to: m.from, term: this.term, reject: false, index: 0, hintIndex: 0, hintTerm: 0 })
      } else if (m.type === 'preVote') {
        this.send<VoteResponse>({ type: 'preVoteResp', to: m.from, term: this.term, reject: true })
      }
      return
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m)
      return
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m)
        return
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m)
        return
      case 'follower':
        this.stepFollower(m)
        return
      default:
        assertNever(this.role, 'role')
    }
  }

  /** Appends an application command. Only the leader accepts proposals. */
  propose(data: Uint8Array): Proposed | TesseraError {
    const refused = this.refuseProposal(data)
    if (refused !== undefined) return refused
    return this.appendProposal(EntryKind.Normal, data)
  }

  /**
   * Proposes one single-server membership change. Refused while another change is not yet
   * applied, before the leader has committed an entry of its own term, and when it does not
   * fit the current configuration.
   */
  proposeConfChange(cc: ConfChange): Proposed | TesseraError {
    const data = encodeConfChange(cc)
    const refused = this.refuseProposal(data)
    if (refused !== undefined) return refused
    if (this.pendingConfIndex > this.log.applied) {
      return new TesseraError('EBUSY', `a configuration change at index ${this.pendingConfIndex} is not applied yet`)
    }
    if (this.log.term(this.log.committed) !== this.term) {
      return new TesseraError('EBUSY', 'the leader has not committed an entry of its term yet')
    }
    const invalid = checkConfChange(this.conf, cc)
    if (invalid !== undefined) return invalid
    const proposed = this.appendProposal(EntryKind.ConfChange, data)
    this.pendingConfIndex = proposed.index
    return proposed
  }

  /**
   * Asks for a linearizable read point. The answer arrives as a ReadState with the same
   * context in a later Ready; `context` must be unique among pending requests.
   */
  readIndex(context: Uint8Array): TesseraError | undefined {
    if (!(context instanceof Uint8Array) || context.length === 0 || context.length > MAX_READ_CONTEXT_BYTES) {
      return new TesseraError('EINVAL', `read context must be 1..${MAX_READ_CONTEXT_BYTES} bytes`)
    }
    if (this.role !== 'leader') return this.notLeader()
    if (this.readOnly.has(context) || this.pendingReads.some((c) => sameBytes(c, context))) {
      return new TesseraError('EINVAL', 'a read with this context is already pending')
    }
    if (!this.committedInCurrentTerm()) {
      if (this.pendingReads.length >= MAX_PENDING_READS) return new TesseraError('UNAVAILABLE', 'too many reads waiting for the first commit of the term')
      this.pendingReads.push(context)
      return undefined
    }
    this.startRead(context)
    return undefined
  }

  /** Hands leadership to `to` once it has caught up (TimeoutNow); aborted after an election timeout. */
  transferLeadership(to: NodeId): TesseraError | undefined {
    if (this.role !== 'leader') return this.notLeader()
    if (to === this.id) {
      if (this.leadTransferee !== '') this.abortLeaderTransfer()
      return undefined
    }
    if (!this.conf.voters.includes(to)) return new TesseraError('EINVAL', `${to} is not a voter`)
    if (this.leadTransferee === to) return undefined
    if (this.leadTransferee !== '') this.abortLeaderTransfer()
    this.logger.info({ term: this.term, to }, 'raft: starting leadership transfer')
    this.electionElapsed = 0
    this.leadTransferee = to
    const pr = this.progress.get(to)!
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to)
    else this.sendAppend(to)
    return undefined
  }

  /** Starts an election now (a pre-vote first when enabled). */
  campaign(): void {
    this.hup(false)
  }

  /**
   * The application took `snapshot` of its state at an applied index (and persisted it):
   * keep it for followers that lag behind the log, and drop the entries it covers except the
   * last `keepEntries` (etcd's SnapshotCatchUpEntries: a follower slightly behind catches up
   * from the log instead of needing a snapshot that may be stale by the time it arrives).
   */
  compact(snapshot: Snapshot, keepEntries = 0): void {
    const { index, term } = snapshot.meta
    if (index > this.log.applied) throw new Error(`raft: snapshot at ${index} beyond applied ${this.log.applied}`)
    const ourTerm = this.log.term(index)
    if (ourTerm !== undefined && ourTerm !== term) throw new Error(`raft: snapshot term ${term} at ${index} does not match log term ${ourTerm}`)
    if (this.snapshot === undefined || index > this.snapshot.meta.index) this.snapshot = snapshot
    const to = index - Math.max(0, Math.floor(keepEntries))
    const toTerm = this.log.term(to)
    if (to > this.log.snapshotIndex() && toTerm !== undefined) this.log.compact(to, toTerm)
  }

  // ---------------------------------------------------------------- Ready

  /**
   * True when there is something to persist, send or apply. False while a Ready is outstanding
   * (committed entries are then taken with takeCommitted(), messages with takeMessages()).
   */
  hasReady(): boolean {
    if (this.outstanding) return false
    return (
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.log.pendingSnapshot !== undefined ||
      this.log.unstableEntries().length > 0 ||
      this.log.hasNextCommittedEntries() ||
      !sameHard(this.hardState(), this.prevHard) ||
      !sameSoft(this.softState(), this.prevSoft)
    )
  }

  /**
   * The outstanding work. The driver sends messages (at once, in parallel with its disk
   * write), persists hardState, entries and snapshot (fsync when mustSync), THEN sends
   * messagesAfterPersist, THEN calls advance(rd). It applies committedEntries whenever it likes
   * (before or after the persist), in order, before anything handed out later.
   */
  ready(): Ready {
    if (this.outstanding) throw new Error('raft: ready() called again before advance()')
    const hard = this.hardState()
    const soft = this.softState()
    const entries = this.log.unstableEntries()
    const snapshot = this.log.pendingSnapshot
    const rd: Ready = {
      entries,
      committedEntries: this.log.nextCommittedEntries(),
      messages: this.msgs,
      messagesAfterPersist: this.msgsAfterPersist,
      readStates: this.readStates,
      mustSync: entries.length > 0 || snapshot !== undefined || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    }
    if (!sameHard(hard, this.prevHard)) rd.hardState = hard
    if (!sameSoft(soft, this.prevSoft)) rd.softState = soft
    if (snapshot !== undefined) rd.snapshot = snapshot
    this.msgs = []
    this.msgsAfterPersist = []
    this.readStates = []
    this.prevHard = hard
    this.prevSoft = soft
    this.outstanding = true
    this.handOut(rd.committedEntries)
    return rd
  }

  /**
   * Committed entries not handed out yet, and read states, for the driver to apply and serve
   * now; callable at any time, and meant for while a Ready is outstanding. A committed entry is
   * durable on a quorum, so it may be applied before this node's own write of it (or of
   * anything) finishes: a leader answers its clients as soon as its followers' acks commit an
   * entry, instead of after its own disk write (etcd's async storage writes allow the same).
   * The entries follow those of earlier Readies; the driver applies them in that order.
   */
  takeCommitted(): CommittedBatch {
    const batch: CommittedBatch = { committedEntries: this.log.nextCommittedEntries(), readStates: this.readStates }
    this.readStates = []
    this.handOut(batch.committedEntries)
    return batch
  }

  /**
   * Entries handed to the driver count as applied from now on (it applies them in order before
   * it applies anything handed out later); membership changes take effect here at once.
   */
  private handOut(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.log.applied) continue
      this.log.appliedTo(e.index)
      if (e.kind === EntryKind.ConfChange) this.applyConfEntry(e)
    }
  }

  /**
   * Hands out the messages that may leave at once (those a Ready puts in `messages`) without
   * waiting for the next Ready; callable while a Ready is outstanding. The driver uses it to
   * send appends for proposals that arrive while its disk write is in flight.
   */
  takeMessages(): RaftMessage[] {
    const msgs = this.msgs
    this.msgs = []
    return msgs
  }

  /**
   * Acknowledges that `rd` was persisted and sent. On the leader, this is where its own entries
   * start to count toward a commit: only once durable (it sent them to the followers before
   * writing them, Raft thesis §10.2.1). (Committed entries count as applied, and membership
   * changes take effect, when they are handed out: see takeCommitted().)
   */
  advance(rd: Ready): void {
    if (!this.outstanding) throw new Error('raft: advance() without an outstanding ready()')
    this.outstanding = false
    if (rd.snapshot !== undefined) {
      this.log.stableSnapTo(rd.snapshot.meta.index)
      if (this.snapshot === undefined || rd.snapshot.meta.index > this.snapshot.meta.index) this.snapshot = rd.snapshot
    }
    const last = rd.entries[rd.entries.length - 1]
    if (last !== undefined) this.log.stableTo(last.index, last.term)
    if (this.role === 'leader' && last !== undefined) {
      const self = this.progress.get(this.id)
      if (self !== undefined && self.maybeUpdate(this.log.stableIndex()) && this.maybeCommit()) this.bcastAppend()
    }
  }

  status(): Status {
    const progress: Record<NodeId, PeerStatus> = {}
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, learner: pr.learner, recentActive: pr.recentActive, inflight: pr.inflights.count }
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      conf: { voters: [...this.conf.voters], learners: [...this.conf.learners] },
      progress,
      leadTransferee: this.leadTransferee,
    }
  }

  /** The log entries this node holds in [lo, lastIndex] (for checkers and tests). */
  entriesFrom(lo: number): Entry[] {
    return this.log.entriesFrom(lo)
  }

  /** The term of the entry at `index`, undefined when compacted or absent (for checkers and tests). */
  termAt(index: number): number | undefined {
    return this.log.term(index)
  }

  // ---------------------------------------------------------------- role transitions

  private becomeFollower(term: number, leader: NodeId): void {
    this.reset(term)
    this.role = 'follower'
    this.leader = leader
    this.logger.debug({ term, leader }, 'raft: became follower')
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> preCandidate')
    // A pre-candidate changes neither term nor vote (that is the point of PreVote).
    this.role = 'preCandidate'
    this.votes.clear()
    this.leader = ''
    this.logger.info({ term: this.term }, 'raft: became pre-candidate')
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> candidate')
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
    this.logger.info({ term: this.term }, 'raft: became candidate')
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new Error('raft: invalid transition follower -> leader')
    this.reset(this.term)
    this.role = 'leader'
    this.leader = this.id
    this.progress.get(this.id)?.becomeReplicate()
    // No membership change until this term's no-op is applied (single-server change safety).
    this.pendingConfIndex = this.log.lastIndex() + 1
    this.appendEntries([{ term: 0, index: 0, kind: EntryKind.Normal, data: new Uint8Array(0) }])
    this.logger.info({ term: this.term, lastIndex: this.log.lastIndex() }, 'raft: became leader')
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term
      this.vote = ''
    }
    this.leader = ''
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.randomizedElectionTimeout = this.cfg.electionTick + (this.cfg.rng.next() % this.cfg.electionTick)
    this.leadTransferee = ''
    this.votes.clear()
    this.pendingConfIndex = 0
    this.readOnly.clear()
    this.pendingReads = []
    this.progress = new Map()
    for (const id of [...this.conf.voters, ...this.conf.learners]) this.progress.set(id, this.newProgress(id))
  }

  private newProgress(id: NodeId): Progress {
    const pr = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflightMsgs, this.conf.learners.includes(id))
    // Our own match is what is durable here: the leader counts itself only for persisted entries.
    if (id === this.id) pr.match = this.log.stableIndex()
    return pr
  }

  // ---------------------------------------------------------------- ticks and elections

  private tickElection(): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.hup(false)
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.logger.warn({ term: this.term }, 'raft: stepping down: no quorum heard within an election timeout')
        this.becomeFollower(this.term, '')
        return
      }
      if (this.leadTransferee !== '') {
        this.logger.warn({ term: this.term, to: this.leadTransferee }, 'raft: leadership transfer timed out')
        this.abortLeaderTransfer()
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat(this.readOnly.lastContext())
      this.resendStalledSnapshotChunks()
    }
  }

  /** CheckQuorum: did a quorum of voters (self included) talk to us since the last check? */
  private quorumActive(): boolean {
    const active = new Map<NodeId, boolean>()
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.recentActive) active.set(id, true)
      if (id !== this.id) pr.recentActive = false
    }
    return voteResult(this.conf.voters, active) === 'won'
  }

  private promotable(): boolean {
    return this.conf.voters.includes(this.id)
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader') return
    if (!this.promotable()) {
      this.logger.debug({ term: this.term }, 'raft: not a voter; cannot campaign')
      return
    }
    if (this.hasUnappliedConfChange()) {
      this.logger.warn({ term: this.term }, 'raft: cannot campaign: a committed configuration change is not applied yet')
      return
    }
    if (this.cfg.preVote && !transfer) this.startCampaign('preElection', false)
    else this.startCampaign('election', transfer)
  }

  private hasUnappliedConfChange(): boolean {
    if (this.log.committed <= this.log.applied || this.log.pendingSnapshot !== undefined) return false
    const from = this.log.entriesFrom(this.log.applied + 1)
    const count = this.log.committed - this.log.applied
    for (let k = 0; k < count && k < from.length; k++) if (from[k]!.kind === EntryKind.ConfChange) return true
    return false
  }

  private startCampaign(kind: 'preElection' | 'election', transfer: boolean): void {
    let voteTerm: number
    if (kind === 'preElection') {
      this.becomePreCandidate()
      voteTerm = this.term + 1
    } else {
      this.becomeCandidate()
      voteTerm = this.term
    }
    this.votes.set(this.id, true)
    if (voteResult(this.conf.voters, this.votes) === 'won') {
      // A single-voter group wins at once.
      if (kind === 'preElection') this.startCampaign('election', transfer)
      else this.becomeLeader()
      return
    }
    const lastLogIndex = this.log.lastIndex()
    const lastLogTerm = this.log.lastTerm()
    for (const id of this.conf.voters) {
      if (id === this.id) continue
      this.send<VoteRequest>({ type: kind === 'preElection' ? 'preVote' : 'vote', to: id, term: voteTerm, lastLogIndex, lastLogTerm, transfer })
    }
  }

  private handleVoteRequest(m: VoteRequest): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === '' && this.leader === '') ||
      (m.type === 'preVote' && m.term > this.term)
    const upToDate = this.cfg.plantedBugs.voteWithoutLogCheck === true || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp'
    if (canVote && upToDate) {
      // A granted answer carries the candidate's term so that the candidate counts it.
      this.send<VoteResponse>({ type: respType, to: m.from, term: m.term, reject: false })
      if (m.type === 'vote') {
        this.electionElapsed = 0
        this.vote = m.from
      }
    } else {
      this.send<VoteResponse>({ type: respType, to: m.from, term: this.term, reject: true })
    }
  }

  // ---------------------------------------------------------------- per-role step functions

  private stepLeader(m: RaftMessage): void {
    switch (m.type) {
      case 'appendResp':
        this.handleAppendResponse(m)
        return
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m)
        return
      case 'snapshotResp':
        this.handleSnapshotResponse(m)
        return
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // Election Safety makes a second leader in our term impossible: a peer is broken.
        this.logger.error({ from: m.from, term: m.term, type: m.type }, 'raft: another leader in my term; ignoring')
        return
      case 'voteResp':
      case 'preVoteResp':
      case 'timeoutNow':
      case 'vote':
      case 'preVote':
        return
      default:
        assertNever(m, 'message')
    }
  }

  private stepCandidate(m: RaftMessage): void {
    switch (m.type) {
      case 'append':
        this.becomeFollower(m.term, m.from)
        this.handleAppend(m)
        return
      case 'heartbeat':
        this.becomeFollower(m.term, m.from)
        this.handleHeartbeat(m)
        return
      case 'snapshot':
        this.becomeFollower(m.term, m.from)
        this.handleSnapshotChunk(m)
        return
      case 'voteResp':
      case 'preVoteResp': {
        // Only answers to the kind of election we are running count.
        if ((m.type === 'voteResp') !== (this.role === 'candidate')) return
        this.votes.set(m.from, !m.reject)
        const result = voteResult(this.conf.voters, this.votes)
        if (result === 'won') {
          if (this.role === 'preCandidate') this.startCampaign('election', false)
          else {
            this.becomeLeader()
            this.bcastAppend()
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, '')
        }
        return
      }
      case 'appendResp':
      case 'heartbeatResp':
      case 'snapshotResp':
      case 'timeoutNow':
      case 'vote':
      case 'preVote':
        return
      default:
        assertNever(m, 'message')
    }
  }

  private stepFollower(m: RaftMessage): void {
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0
        this.leader = m.from
        this.handleAppend(m)
        return
      case 'heartbeat':
        this.electionElapsed = 0
        this.leader = m.from
        this.handleHeartbeat(m)
        return
      case 'snapshot':
        this.electionElapsed = 0
        this.leader = m.from
        this.handleSnapshotChunk(m)
        return
      case 'timeoutNow':
        this.logger.info({ term: this.term, from: m.from }, 'raft: leadership transfer: campaigning now')
        this.hup(true)
        return
      case 'appendResp':
      case 'heartbeatResp':
      case 'snapshotResp':
      case 'voteResp':
      case 'preVoteResp':
      case 'vote':
      case 'preVote':
        return
      default:
        assertNever(m, 'message')
    }
  }

  // ---------------------------------------------------------------- follower side of replication

  private handleAppend(m: AppendRequest): void {
    if (m.prevIndex < this.log.committed) {
      this.send<AppendResponse>({ type: 'appendResp', to: m.from, term: this.term, reject: false, index: this.log.committed, hintIndex: 0, hintTerm: 0 })
      return
    }
    // From here prevIndex >= committed, so no entry of the append can touch a committed one.
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries)
    if (lastNew !== undefined) {
      this.send<AppendResponse>({ type: 'appendResp', to: m.from, term: this.term, reject: false, index: lastNew, hintIndex: 0, hintTerm: 0 })
      return
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm)
    this.send<AppendResponse>({ type: 'appendResp', to: m.from, term: this.term, reject: true, index: m.prevIndex, hintIndex: hint.index, hintTerm: hint.term })
  }

  private handleHeartbeat(m: HeartbeatRequest): void {
    // The leader sends min(match, commit), so everything up to it matches the leader's log.
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit)
    this.send<HeartbeatResponse>({ type: 'heartbeatResp', to: m.from, term: this.term, context: m.context })
  }

  private handleSnapshotChunk(m: SnapshotChunk): void {
    const reply = (nextOffset: number, reject: boolean): void =>
      this.send<SnapshotChunkResponse>({ type: 'snapshotResp', to: m.from, term: this.term, snapshotIndex: m.meta.index, nextOffset, reject })
    let inc = this.incoming
    const sameStream = inc !== undefined && inc.meta.index === m.meta.index && inc.meta.term === m.meta.term && inc.from === m.from && inc.term === m.term
    if (m.offset === 0 && !sameStream) {
      inc = { meta: m.meta, from: m.from, term: m.term, parts: [], received: 0 }
      this.incoming = inc
    } else if (!sameStream || inc === undefined) {
      reply(0, true)
      return
    }
    if (m.offset !== inc.received) {
      // A duplicate (below) is acknowledged; a gap (above) asks the leader to rewind.
      reply(inc.received, m.offset > inc.received)
      return
    }
    if (inc.received + m.data.length > this.cfg.maxSnapshotBytes) {
      this.logger.warn({ from: m.from, index: m.meta.index }, 'raft: snapshot larger than maxSnapshotBytes; refusing')
      this.incoming = undefined
      reply(0, true)
      return
    }
    // Copy: the codec may hand out views into a receive buffer.
    inc.parts.push(m.data.slice())
    inc.received += m.data.length
    if (!m.done) {
      reply(inc.received, false)
      return
    }
    this.incoming = undefined
    const data = new Uint8Array(inc.received)
    let at = 0
    for (const p of inc.parts) {
      data.set(p, at)
      at += p.length
    }
    this.restoreSnapshot({ meta: inc.meta, data })
    reply(inc.received, false)
  }

  private restoreSnapshot(s: Snapshot): void {
    const { index, term } = s.meta
    if (index <= this.log.committed) {
      this.logger.debug({ index, committed: this.log.committed }, 'raft: ignoring snapshot at or below commit')
      return
    }
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: fast-forward the commit instead.
      this.log.commitTo(index)
      return
    }
    this.logger.info({ index, term }, 'raft: restoring from snapshot')
    this.log.restore(s)
    this.setConf(s.meta.conf)
  }

  // ---------------------------------------------------------------- leader side of replication

  private refuseProposal(data: Uint8Array): TesseraError | undefined {
    if (this.role !== 'leader') return this.notLeader()
    if (this.leadTransferee !== '') {
      return new TesseraError('UNAVAILABLE', `leadership transfer to ${this.leadTransferee} in progress; proposal dropped`)
    }
    if (!(data instanceof Uint8Array) || data.length > this.cfg.maxSizePerMsg) {
      return new TesseraError('EINVAL', `proposal must be bytes of at most ${this.cfg.maxSizePerMsg}`)
    }
    return undefined
  }

  private notLeader(): TesseraError {
    return this.leader === ''
      ? new TesseraError('NOT_LEADER', `${this.id} is not the leader; no leader known`)
      : new TesseraError('NOT_LEADER', `${this.id} is not the leader`, { leaderId: this.leader })
  }

  private appendProposal(kind: EntryKind, data: Uint8Array): Proposed {
    this.appendEntries([{ term: 0, index: 0, kind, data }])
    this.bcastAppend()
    return { index: this.log.lastIndex(), term: this.term }
  }

  /**
   * Leader: stamps term and index on new entries and appends them. They count toward a commit
   * for the leader itself only once the driver reports them persisted (advance()).
   */
  private appendEntries(ents: Entry[]): void {
    const last = this.log.lastIndex()
    const stamped = ents.map((e, k) => ({ term: this.term, index: last + 1 + k, kind: e.kind, data: e.data }))
    this.log.append(stamped)
  }

  /** §5.3/§5.4.2: commit the majority-matched index, only if its entry is of the current term. */
  private maybeCommit(): boolean {
    const index = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0)
    if (index <= this.log.committed) return false
    if (this.log.term(index) !== this.term) {
      if (this.cfg.plantedBugs.commitPreviousTermByCounting !== true) return false
      this.logger.warn({ index, term: this.log.term(index) }, 'raft: PLANTED BUG: committing an entry of an earlier term by counting replicas')
    }
    const wasCommittedInTerm = this.committedInCurrentTerm()
    this.log.commitTo(index)
    if (!wasCommittedInTerm && this.committedInCurrentTerm()) this.releasePendingReads()
    return true
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id)
  }

  /** Sends the next append to `to` if its progress allows. Returns true when something was sent. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to)
    if (pr === undefined || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    const entries = prevTerm === undefined
      ? undefined
      : this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxSizePerMsg, LIMITS.maxEntriesPerAppend)
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr)
    if (entries.length === 0 && !sendIfEmpty) return false
    this.send<AppendRequest>({ type: 'append', to, term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed })
    const last = entries[entries.length - 1]
    if (pr.state === 'replicate' && last !== undefined) {
      pr.optimisticUpdate(last.index)
      pr.inflights.add(last.index)
    } else if (pr.state === 'probe') {
      pr.probeSent = true
    }
    return true
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snap = this.snapshot
    if (snap === undefined || snap.meta.index < this.log.snapshotIndex()) {
      this.logger.error({ to, firstIndex: this.log.firstIndex() }, 'raft: follower needs a snapshot but none is held')
      return false
    }
    this.logger.info({ to, index: snap.meta.index, bytes: snap.data.length }, 'raft: sending snapshot')
    pr.becomeSnapshot(snap)
    this.sendSnapshotChunk(to, pr)
    return true
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const t = pr.transfer
    if (t === undefined) return
    const { data, meta } = t.snapshot
    const chunk = data.subarray(t.acked, t.acked + this.cfg.snapshotChunkBytes)
    const done = t.acked + chunk.length >= data.length
    this.send<SnapshotChunk>({ type: 'snapshot', to, term: this.term, meta, offset: t.acked, data: chunk, done })
    t.chunkInFlight = true
    t.heartbeatsSinceSend = 0
  }

  /** A chunk unanswered for two heartbeats is presumed lost and sent again. */
  private resendStalledSnapshotChunks(): void {
    for (const [id, pr] of this.progress) {
      const t = pr.transfer
      if (pr.state !== 'snapshot' || t === undefined) continue
      t.heartbeatsSinceSend++
      if (!t.chunkInFlight || t.heartbeatsSinceSend >= 2) this.sendSnapshotChunk(id, pr)
    }
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    if (m.reject) {
      let probeFrom = m.hintIndex
      if (m.hintTerm > 0) probeFrom = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index
      if (pr.maybeDecrTo(m.index, probeFrom)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.sendAppend(m.from)
      }
      return
    }
    const wasPaused = pr.isPaused()
    if (!pr.maybeUpdate(m.index)) return
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate()
        break
      case 'snapshot':
        if (pr.transfer !== undefined && pr.match >= pr.transfer.snapshot.meta.index) {
          pr.becomeProbe()
          pr.becomeReplicate()
        }
        break
      case 'replicate':
        pr.inflights.freeLE(m.index)
        break
      default:
        assertNever(pr.state, 'progress state')
    }
    if (this.maybeCommit()) this.bcastAppend()
    else if (wasPaused) this.sendAppend(m.from)
    while (this.sendAppend(m.from, false)) {
      // Fill the pipelining window.
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logger.info({ to: m.from }, 'raft: transferee caught up; sending TimeoutNow')
      this.sendTimeoutNow(m.from)
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from)
    if (pr !== undefined) {
      pr.recentActive = true
      pr.probeSent = false
      // Appends may have been lost: let one more through so the follower can answer.
      if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne()
      if (pr.match < this.log.lastIndex()) this.sendAppend(m.from)
    }
    if (m.context.length === 0 || pr === undefined) return
    const acks = this.readOnly.recvAck(m.from, m.context)
    if (acks === undefined) return
    const granted = new Map<NodeId, boolean>()
    for (const id of acks) granted.set(id, true)
    if (voteResult(this.conf.voters, granted) !== 'won') return
    for (const req of this.readOnly.advance(m.context)) this.readStates.push({ index: req.index, context: req.context })
  }

  private handleSnapshotResponse(m: SnapshotChunkResponse): void {
    const pr = this.progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    const t = pr.transfer
    if (pr.state !== 'snapshot' || t === undefined || t.snapshot.meta.index !== m.snapshotIndex) return
    const size = t.snapshot.data.length
    t.chunkInFlight = false
    if (m.reject) {
      t.acked = Math.min(m.nextOffset, size)
      this.sendSnapshotChunk(m.from, pr)
      return
    }
    if (m.nextOffset >= size) {
      // The follower holds (or already had) everything up to the snapshot's index.
      pr.maybeUpdate(m.snapshotIndex)
      pr.becomeProbe()
      this.sendAppend(m.from)
      return
    }
    if (m.nextOffset > t.acked) t.acked = m.nextOffset
    this.sendSnapshotChunk(m.from, pr)
  }

  private bcastHeartbeat(context: Uint8Array | undefined): void {
    const ctx = context ?? new Uint8Array(0)
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue
      this.send<HeartbeatRequest>({ type: 'heartbeat', to: id, term: this.term, commit: Math.min(pr.match, this.log.committed), context: ctx })
    }
  }

  private startRead(context: Uint8Array): void {
    if (this.conf.voters.length === 1 && this.conf.voters[0] === this.id) {
      this.readStates.push({ index: this.log.committed, context })
      return
    }
    this.readOnly.add(this.log.committed, context)
    this.readOnly.recvAck(this.id, context)
    this.bcastHeartbeat(context)
  }

  private releasePendingReads(): void {
    const reads = this.pendingReads
    this.pendingReads = []
    for (const ctx of reads) this.startRead(ctx)
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', to, term: this.term })
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = ''
  }

  // ---------------------------------------------------------------- membership

  private applyConfEntry(e: Entry): void {
    const cc = decodeConfChange(e.data)
    if (cc instanceof TesseraError) {
      this.logger.error({ index: e.index, err: cc.message }, 'raft: undecodable conf change entry; skipped')
      return
    }
    const { conf, error } = applyConfChange(this.conf, cc)
    if (error !== undefined) {
      this.logger.warn({ index: e.index, change: cc, err: error.message }, 'raft: conf change does not apply; skipped')
      return
    }
    this.logger.info({ index: e.index, change: cc, voters: conf.voters, learners: conf.learners }, 'raft: applied conf change')
    this.setConf(conf)
  }

  private setConf(conf: ConfState): void {
    this.conf = { voters: [...conf.voters].sort(), learners: [...conf.learners].sort() }
    const added: NodeId[] = []
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const pr = this.progress.get(id)
      if (pr === undefined) {
        this.progress.set(id, this.newProgress(id))
        added.push(id)
      } else {
        pr.learner = this.conf.learners.includes(id)
      }
    }
    for (const id of [...this.progress.keys()]) if (!isMember(this.conf, id)) this.progress.delete(id)
    if (this.role !== 'leader') return
    if (!this.conf.voters.includes(this.id)) {
      this.logger.info({ term: this.term }, 'raft: removed from the group; stepping down')
      this.becomeFollower(this.term, '')
      return
    }
    if (this.leadTransferee !== '' && !this.conf.voters.includes(this.leadTransferee)) this.abortLeaderTransfer()
    if (this.maybeCommit()) this.bcastAppend()
    else for (const id of added) if (id !== this.id) this.sendAppend(id)
  }

  // ---------------------------------------------------------------- helpers

  private send<M extends RaftMessage>(m: Omit<M, 'from'>): void {
    const message = { ...m, from: this.id } as unknown as RaftMessage
    if (promisesDurableState(message)) this.msgsAfterPersist.push(message)
    else this.msgs.push(message)
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader }
  }
}

/**
 * Messages that may only leave once the state they were produced with is durable (etcd's
 * msgsAfterAppend, thesis §3.8): acks of entries and snapshots, vote answers, and vote
 * requests (the candidate counted its own vote at once, so that vote must be durable first).
 */
function promisesDurableState(m: RaftMessage): boolean {
  switch (m.type) {
    case 'appendResp':
    case 'snapshotResp':
    case 'vote':
    case 'voteResp':
    case 'preVote':
    case 'preVoteResp':
      return true
    case 'append':
    case 'heartbeat':
    case 'heartbeatResp':
    case 'snapshot':
    case 'timeoutNow':
      return false
    default:
      return assertNever(m, 'message')
  }
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
