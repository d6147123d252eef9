/**
 * What the Raft log carries for the namespace: a client's request in its session, or the
 * leader's own housekeeping. The leader adds `time` when it proposes (decision 4); `index`
 * is the Raft index of the entry, known once it is committed, supplied by the driver when it
 * applies and not encoded in the entry.
 */
import type {
  BlockId, EmptyReply, LockCommandRequest, MetaReplies, MetaRequest, SessionRequest, Timespec,
} from '@tessera/protocol'
import type { ClusterReplies, ClusterRequest } from './cluster-map.js'

/** Expire sessions idle longer than the session timeout, as of the command's time. */
export interface ExpireSessionsRequest { op: 'expireSessions' }
/** GC deleted these unreferenced blocks: drop them from the unreferenced table (if still there). */
export interface ForgetBlocksRequest { op: 'forgetBlocks'; blocks: BlockId[] }

export type SystemRequest = SessionRequest | ExpireSessionsRequest | ForgetBlocksRequest | ClusterRequest

export interface SystemReplies extends ClusterReplies {
  openSession: EmptyReply
  closeSession: EmptyReply
  expireSessions: { expired: number }
  forgetBlocks: { forgotten: number }
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
