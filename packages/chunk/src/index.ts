/**
 * @tessera/chunk: the chunk server. So far: the block store (immutable, hash-addressed blocks
 * on local disk with per-64 KiB checksums) and the block-key format shared with client and meta.
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
