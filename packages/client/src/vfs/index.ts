/** The VFS layer: what a mount serves, over the namespace API and a DataPath. */
export { Vfs, type VfsOptions, type TimeChange } from './vfs.js'
export type { DataPath, FileReader, RangeReader, WrittenBlocks } from './data-path.js'
export { CallStats } from './call-stats.js'
export { ClusterDataPath, type ClusterDataPathOptions } from './cluster-data-path.js'
export { OpenFlag } from './open-flags.js'
export { AccessMask, mayAccess } from './access.js'
