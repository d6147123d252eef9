/**
 * @tessera/client: the namespace API over the meta service (sessions, leader following,
 * exactly-once retries, path helpers, locks), the data path (blocks to and from chunk servers:
 * placement, chain writes, verified reads with fail-over) and the VFS layer the FUSE mount uses.
 */
export {
  MetaClient, processCredentials,
  type MetaClientOptions, type CallDeadline, type QueryOptions, type MemberReport,
} from './meta-client.js'
export { LockHandle, type LockOptions } from './lock-handle.js'
export { splitPath, splitParent } from './paths.js'
export * from './data/index.js'
export * from './vfs/index.js'
export { MetaCalls, MetaBlockPlanner, type MetaCallsOptions } from './data/meta-planner.js'
export { FileStore, type FileStoreOptions, type PutOptions, type PutResult, type TransferOptions, type ByteRange, type DataConfig } from './files.js'
