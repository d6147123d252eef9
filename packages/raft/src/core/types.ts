/**
 * The core's configuration, start-up state and outputs. Plain data; see index.ts for the
 * driver contract.
 */
import type { ConfState, Entry, HardState, NodeId, RaftMessage, Snapshot } from '@tessera/protocol'
import type { ProgressState } from './progress.js'

/** A source of uniformly distributed unsigned 32-bit integers (the sim's Prng, or a seeded one). */
export interface RaftRng {
  next(): number
}

/** pino-compatible: (object, message) or (message). */
export interface RaftLogger {
  debug(obj: object | string, msg?: string): void
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
}

/**
 * Deliberate safety bugs, for proving that the simulator catches them. Never set in production.
 */
export interface PlantedBugs {
  /** Grant votes without the §5.4.1 "candidate's log is at least as up to date" check. */
  voteWithoutLogCheck?: boolean
  /** Commit an entry of an earlier term as soon as a majority stores it (violates §5.4.2). */
  commitPreviousTermByCounting?: boolean
}

export interface RaftConfig {
  id: NodeId
  /** Ticks of silence before a follower campaigns; the timeout is drawn from [electionTick, 2*electionTick). */
  electionTick: number
  /** Ticks between leader heartbeats; must be below electionTick. */
  heartbeatTick: number
  rng: RaftRng
  preVote: boolean
  checkQuorum: boolean
  /** Appends in flight to one follower in replicate state. */
  maxInflightMsgs: number
  /** Bytes of entries in one append (at least one entry is always sent). */
  maxSizePerMsg: number
  /** Bytes per InstallSnapshot chunk; defaults to (and is capped at) LIMITS.maxSnapshotChunkBytes. */
  snapshotChunkBytes?: number
  /** Largest snapshot a follower assembles from chunks; defaults to 1 GiB. */
  maxSnapshotBytes?: number
  logger?: RaftLogger
  /** Testing only. */
  plantedBugs?: PlantedBugs
}

export interface InitialState {
  hardState: HardState
  /** The membership as of `applied` (the snapshot's conf when applied is the snapshot index). */
  conf: ConfState
  /** The newest durable snapshot; the core keeps it to send to followers that lag behind it. */
  snapshot?: Snapshot
  /** The durable log after the snapshot, in order. */
  entries: Entry[]
  /** The last index the application has applied (at least the snapshot's index). */
  applied: number
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

export interface SoftState {
  role: Role
  /** The leader this node knows of in its term, '' if none. */
  leader: NodeId
}

/** The answer to a readIndex(ctx): once the application has applied `index`, it may serve the read. */
export interface ReadState {
  index: number
  context: Uint8Array
}

export interface Ready {
  /** Set when term, vote or commit changed: persist it. */
  hardState?: HardState
  /** Entries to persist. May start at or below an index persisted earlier: the store truncates from entries[0].index. */
  entries: Entry[]
  /** A snapshot received from the leader: persist it and restore the application from it. */
  snapshot?: Snapshot
  /**
   * Entries to apply, in order. They are committed (durable on a quorum), so they need not wait
   * for this Ready's persist; they count as applied in the core from the moment they are handed out.
   */
  committedEntries: Entry[]
  /**
   * Messages the driver may send at once, before or while it persists this Ready: the
   * leader's appends, heartbeats, snapshot chunks and TimeoutNow, and heartbeat answers. None
   * of them promises durable state (the leader counts itself toward a commit only for entries
   * it reported persisted through advance()).
   */
  messages: RaftMessage[]
  /**
   * Messages to send only once this Ready's hard state, entries and snapshot are durable:
   * append and snapshot acks and vote answers (they promise durable state), and vote requests
   * (a candidate counts its own vote, which must be durable before anyone else's can arrive).
   */
  messagesAfterPersist: RaftMessage[]
  readStates: ReadState[]
  /** Set when role or leader changed. */
  softState?: SoftState
  /** True when the hard state's term/vote, entries or a snapshot must be fsynced before messagesAfterPersist go out. */
  mustSync: boolean
}

/** What takeCommitted() hands out while a Ready is outstanding (see RaftCore.takeCommitted). */
export interface CommittedBatch {
  /** Committed entries after those handed out before, in order. */
  committedEntries: Entry[]
  /** Reads confirmed since the last Ready: serve each once applied >= its index. */
  readStates: ReadState[]
}

/** Where a successful proposal went: the caller waits for an applied entry with this index and term. */
export interface Proposed {
  index: number
  term: number
}

export interface PeerStatus {
  match: number
  next: number
  state: ProgressState
  learner: boolean
  recentActive: boolean
  inflight: number
}

export interface Status {
  id: NodeId
  role: Role
  term: number
  vote: NodeId
  leader: NodeId
  commit: number
  /** The last entry handed to the driver to apply (in a Ready or by takeCommitted()). */
  applied: number
  firstIndex: number
  lastIndex: number
  conf: ConfState
  /** Filled on the leader only. */
  progress: Record<NodeId, PeerStatus>
  leadTransferee: NodeId
}
