/**
 * What the Raft log carries for the namespace: a client's request in its session, or the
 * leader's own housekeeping. The leader adds `time` when it proposes (decision 4); `index`
 * is the Raft index of the entry, known once it is committed, supplied by the driver when it
 * applies and not encoded in the entry.
 */
import type {
  EmptyReply, LockCommandRequest, MetaReplies, MetaRequest, SessionRequest, Timespec,
} from '@tessera/protocol'
import type { ClusterReplies, ClusterRequest } from './cluster-map.js'
import type { RetireReply } from './gc.js'

/** Expire sessions idle longer than the session timeout, as of the command's time. */
export interface ExpireSessionsRequest { op: 'expireSessions' }
/**
 * GC: retire each of these blocks (refs-table ids) that is, at apply time, still without a
 * reference and unreferenced for at least `graceMs` of command time: its copies get delete
 * orders (see gc.ts).
 */
export interface RetireBlocksRequest { op: 'retireBlocks'; blocks: string[]; graceMs: number }

export type SystemRequest = SessionRequest | ExpireSessionsRequest | RetireBlocksRequest | ClusterRequest

export interface SystemReplies extends ClusterReplies {
  openSession: EmptyReply
  closeSession: EmptyReply
  expireSessions: { expired: number }
  retireBlocks: RetireReply
}

/** What a client's sequenced command carries: a namespace change or a lock request. */
export type ClientRequest = MetaRequest | LockCommandRequest

/** A client request; applied at most once per (session, seq). */
export interface ClientCommand<R extends ClientRequest = ClientRequest> {
  kind: 'client'
  index: number
  time: Timespec
  session: string
  seq: number
  req: R
}

export interface SystemCommand<R extends SystemRequest = SystemRequest> {
  kind: 'system'
  index: number
  time: Timespec
  req: R
}

export type MetaCommand = ClientCommand | SystemCommand

/** A command as the leader proposes it (the entry's payload). */
export type Proposal = Omit<ClientCommand, 'index'> | Omit<SystemCommand, 'index'>

export type ClientReplyOf<R extends ClientRequest> = MetaReplies[R['op']]
export type SystemReplyOf<R extends SystemRequest> = SystemReplies[R['op']]
