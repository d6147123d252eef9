export type { Disk, DiskFile, OpenMode, OpenOptions } from './disk.js'
export { NodeDisk } from './node-disk.js'
export {
  DEFAULT_SEGMENT_BYTES,
  RaftStorage,
  type RaftStorageOptions,
  type RecoveredState,
  type SaveBatch,
} from './raft-storage.js'
