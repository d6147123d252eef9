/**
 * The client's data path: blocks written through replication chains (BlockWriter), byte streams
 * cut into blocks with bounded memory (FileWriter), and verified range reads with replica
 * fail-over and read-ahead (BlockReader). Placement and tokens come through the BlockPlanner
 * seam, which meta implements.
 */
export type { BlockPlanner, PlaceRequest, Placement, Location } from './planner.js'
export { ChunkConnections, type ChunkConnectionsOptions } from './connections.js'
export { BlockWriter, MAX_PIECE_BYTES, type BlockWriterOptions, type WrittenBlock } from './block-writer.js'
export { FileWriter, DEFAULT_BLOCK_SIZE, type FileWriterOptions, type FileWriteResult } from './file-writer.js'
export { BlockReader, DEFAULT_READ_AHEAD_BLOCKS, type BlockReaderOptions } from './block-reader.js'
export {
  chunkKeyOfRef, blockIdOfChunkKey, nameOfRef, nameOfChunkKey, chunkKeyOf, blockIdOf, nameBytes, bytesMatch, loadHasher,
  MAX_KEY_SEED, type BlockName,
} from './block-key.js'
export { storeBlockStream, type BlockStreamDeps, type StoredBlocks } from './block-stream.js'
export { DATA_GLIBC_TUNABLES, DATA_NODE_FLAGS } from './node-flags.js'
