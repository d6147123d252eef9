export { Namespace, type UnreferencedBlock, type LockGrantListener } from './namespace.js'
export type { LockGrant, LockState, LockHolder, LockEntry } from './locks.js'
export { SnapshotWriter, SnapshotReader, SNAPSHOT_VERSION } from './snapshot.js'
export { encodeCommand, decodeCommand } from './codec.js'
export { DEFAULT_OPTIONS, type NamespaceOptions } from './options.js'
export type {
  ClientCommand, SystemCommand, MetaCommand, Proposal, SystemRequest, SystemReplies,
  ExpireSessionsRequest, RetireBlocksRequest, ClientReplyOf, SystemReplyOf, ClientRequest,
} from './command.js'
export type {
  ChunkServerRecord, ChunkState, ClusterRequest, ClusterReplies, RegisterChunkRequest, ChunkStateChangeRequest,
  AddBlockLocationsRequest, RemoveBlockLocationRequest, BlockReportRequest,
} from './cluster-map.js'
export { MAX_RETIRE_BATCH, type RetireReply } from './gc.js'
