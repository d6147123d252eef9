/**
 * Raft's vocabulary: what is persisted (entries, hard state, snapshot metadata) and what
 * members send each other. Pure data types: the core in @tessera/raft produces and consumes
 * them; the RPC layer carries them between meta members.
 */

/** A member's id within the Raft group, e.g. "m1". Never empty. */
export type NodeId = string

export const EntryKind = {
  /** An application command (or an empty no-op when data is empty). */
  Normal: 0,
  /** A membership change: data is an encoded ConfChange. */
  ConfChange: 1,
} as const
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind]

export interface Entry {
  term: number
  index: number
  kind: EntryKind
  data: Uint8Array
}

/** What must be durable before any message that depends on it leaves the node. */
export interface HardState {
  term: number
  /** Who this node voted for in `term`, or '' for nobody. */
  vote: NodeId
  commit: number
}

/** The membership of the group at some log index. */
export interface ConfState {
  voters: NodeId[]
  learners: NodeId[]
}

export type ConfChangeType = 'addLearner' | 'promote' | 'remove'

/** One single-server membership change; carried in a ConfChange entry. */
export interface ConfChange {
  type: ConfChangeType
  node: NodeId
  /** Where the member listens (host:port); kept so every member learns how to reach it. */
  address?: string
}

export interface SnapshotMeta {
  /** The last log index the snapshot covers. */
  index: number
  /** The term of that entry. */
  term: number
  /** The membership as of `index`. */
  conf: ConfState
}

export interface Snapshot {
  meta: SnapshotMeta
  /** The application state machine's serialized state at meta.index. */
  data: Uint8Array
}

/** Every message kind members exchange; one enum, one switch (assertNever at the end). */
export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotChunkResponse
  | TimeoutNow

interface Envelope {
  from: NodeId
  to: NodeId
  term: number
}

export interface VoteRequest extends Envelope {
  type: 'vote' | 'preVote'
  lastLogIndex: number
  lastLogTerm: number
  /** Set when a leader transfer asked for this election: bypasses the leader lease check. */
  transfer: boolean
}

export interface VoteResponse extends Envelope {
  type: 'voteResp' | 'preVoteResp'
  reject: boolean
}

export interface AppendRequest extends Envelope {
  type: 'append'
  prevIndex: number
  prevTerm: number
  entries: Entry[]
  commit: number
}

export interface AppendResponse extends Envelope {
  type: 'appendResp'
  reject: boolean
  /** Accepted: the index of the last entry now matching. Rejected: the prevIndex refused. */
  index: number
  /** On rejection, where the leader may probe next (conflict index and term hints). */
  hintIndex: number
  hintTerm: number
}

export interface HeartbeatRequest extends Envelope {
  type: 'heartbeat'
  commit: number
  /** Non-empty when the heartbeat confirms leadership for pending ReadIndex requests. */
  context: Uint8Array
}

export interface HeartbeatResponse extends Envelope {
  type: 'heartbeatResp'
  context: Uint8Array
}

/** InstallSnapshot, streamed in pieces: the follower acknowledges each before the next. */
export interface SnapshotChunk extends Envelope {
  type: 'snapshot'
  meta: SnapshotMeta
  offset: number
  data: Uint8Array
  done: boolean
}

export interface SnapshotChunkResponse extends Envelope {
  type: 'snapshotResp'
  /** The snapshot index this answers for. */
  snapshotIndex: number
  /** The next offset the follower expects (after `done`, the snapshot's total size). */
  nextOffset: number
  reject: boolean
}

/** Leader transfer: tells the target to start an election at once. */
export interface TimeoutNow extends Envelope {
  type: 'timeoutNow'
}

export type RaftMessageType = RaftMessage['type']
