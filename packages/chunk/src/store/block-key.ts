/**
 * Block keys: a block is named by the xxh64 of its bytes and its length.
 *
 *   <16 hex>-<length>          hash computed with seed 0 (the normal key)
 *   <16 hex>-<length>-s<n>     hash computed with seed n (1 <= n <= 2^32-1), a salted variant
 *
 * xxh64 is not collision-resistant (DESIGN decision 5). When a chunk server refuses a write
 * with HASH_COLLISION (same key, different bytes already stored), the writer stores its data
 * under a salted key instead: it rehashes with seed 1, 2, ... until the write is accepted.
 * A salted key is verified with its own seed, so both blocks stay addressable.
 *
 * Every key has exactly one spelling (lowercase hex, no leading zeros, no "-s0"), so string
 * equality is key equality. Blocks are never empty: a file's empty tail needs no block, and
 * the length 0 is refused.
 */
import { TesseraError } from '@tessera/protocol'
import { hex64, loadHasher, type Hasher } from './hasher.js'

export interface BlockKeyParts {
  /** xxh64 of the block's bytes with `seed`, as 16 lowercase hex characters. */
  hash: string
  /** The block's length in bytes, at least 1. */
  length: number
  /** 0 for a normal key, 1..MAX_KEY_SEED for a salted variant. */
  seed: number
}

export const MAX_KEY_SEED = 0xffff_ffff
/** No valid key is longer than this (16 + 1 + 16 + 2 + 10 characters). */
export const MAX_BLOCK_KEY_CHARS = 45

const KEY_PATTERN = /^([0-9a-f]{16})-([1-9][0-9]{0,15})(?:-s([1-9][0-9]{0,9}))?$/

/** Parses a key, or returns undefined for anything that is not a well-formed key. */
export function tryParseBlockKey(key: unknown): BlockKeyParts | undefined {
  if (typeof key !== 'string' || key.length > MAX_BLOCK_KEY_CHARS) return undefined
  const match = KEY_PATTERN.exec(key)
  if (match === null) return undefined
  const length = Number(match[2])
  const seed = match[3] === undefined ? 0 : Number(match[3])
  if (!Number.isSafeInteger(length) || seed > MAX_KEY_SEED) return undefined
  return { hash: match[1]!, length, seed }
}

/** Parses a key from untrusted input; a malformed key is EINVAL. */
export function parseBlockKey(key: unknown): BlockKeyParts {
  const parts = tryParseBlockKey(key)
  if (parts === undefined) {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 64)) : typeof key
    throw new TesseraError('EINVAL', `malformed block key: ${shown}`)
  }
  return parts
}

export function isBlockKey(key: unknown): key is string {
  return tryParseBlockKey(key) !== undefined
}

export function formatBlockKey(parts: BlockKeyParts): string {
  const { hash, length, seed } = parts
  if (!/^[0-9a-f]{16}$/.test(hash)) throw new TesseraError('EINVAL', 'block hash must be 16 lowercase hex characters')
  if (!Number.isSafeInteger(length) || length < 1) throw new TesseraError('EINVAL', `bad block length: ${length}`)
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_KEY_SEED) throw new TesseraError('EINVAL', `bad key seed: ${seed}`)
  return seed === 0 ? `${hash}-${length}` : `${hash}-${length}-s${seed}`
}

/** The key of `bytes` hashed with `seed`, with an already loaded hasher. */
export function blockKeyWith(hasher: Hasher, bytes: Uint8Array, seed = 0): string {
  if (bytes.byteLength === 0) throw new TesseraError('EINVAL', 'a block cannot be empty')
  return formatBlockKey({ hash: hex64(hasher.h64Raw(bytes, BigInt(seed))), length: bytes.byteLength, seed })
}

/** The key of `bytes` hashed with `seed` (0: the normal key; n > 0: the n-th salted variant). */
export async function computeBlockKey(bytes: Uint8Array, seed = 0): Promise<string> {
  return blockKeyWith(await loadHasher(), bytes, seed)
}
