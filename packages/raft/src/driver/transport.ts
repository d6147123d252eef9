import type { NodeId, RaftMessage } from '@tessera/protocol'

/**
 * How a Raft node reaches its peers. Sending is best effort: a lost message is Raft's to
 * recover from (retries, heartbeats), so send() never throws and never waits.
 */
export interface RaftTransport {
  send(messages: readonly RaftMessage[]): void
  /** The current address book; called whenever membership or addresses change. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void
  close(): Promise<void>
}
