/**
 * @tessera/chunk: the chunk server. The block store (immutable, hash-addressed blocks on local
 * disk with per-64 KiB checksums), the block-key format shared with client and meta, and the
 * network side (ChunkServer: block streams, the replication chain, token checks, /metrics).
 */
export {
  BlockStore, DEFAULT_MAX_BLOCK_BYTES,
  type BlockStoreOptions, type BeginWriteOptions, type BlockStat, type VerifyResult, type ReadStreamOptions,
} from './store/block-store.js'
export type { BlockWriter, CommitResult } from './store/block-writer.js'
export type { StoreUsage, SpaceOptions } from './store/space.js'
export type { TempFile, TempFileOpener } from './store/fs-util.js'
export {
  parseBlockKey, tryParseBlockKey, formatBlockKey, isBlockKey, blockKeyWith, computeBlockKey,
  MAX_KEY_SEED, MAX_BLOCK_KEY_CHARS, type BlockKeyParts,
} from './store/block-key.js'
export { loadHasher, hex64, type Hasher } from './store/hasher.js'
export { PIECE_BYTES } from './store/sidecar.js'
export { ChunkServer, type ChunkServerOptions } from './server/chunk-server.js'
export type { ChunkServerComponents } from './server/components.js'
export { ChunkDaemon, chunkMetaLinkOver, type ChunkDaemonOptions, type ChunkMetaLink, type MetaCaller } from './daemon/index.js'
