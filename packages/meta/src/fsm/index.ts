export { Namespace, type UnreferencedBlock } from './namespace.js'
export { SnapshotWriter, SnapshotReader, SNAPSHOT_VERSION } from './snapshot.js'
export { encodeCommand, decodeCommand } from './codec.js'
export { DEFAULT_OPTIONS, type NamespaceOptions } from './options.js'
export type {
  ClientCommand, SystemCommand, MetaCommand, Proposal, SystemRequest, SystemReplies,
  ExpireSessionsRequest, ForgetBlocksRequest, ClientReplyOf, SystemReplyOf,
} from './command.js'
