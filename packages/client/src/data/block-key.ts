/**
 * The two spellings of a block's name, mapped both ways in this one place:
 *
 *   meta's BlockRef   { key: '<16 hex>' or '<16 hex>s<seed>', len }
 *   chunk server key  '<16 hex>-<len>' or '<16 hex>-<len>-s<seed>'
 *
 * The seed is 0 for a normal key and n >= 1 for the n-th salted variant written after a
 * HASH_COLLISION (DESIGN decision 5). Both directions validate: refs come from meta and keys
 * from the wire, neither is trusted.
 */
import xxhash from 'xxhash-wasm'
import { TesseraError, type BlockId } from '@tessera/protocol'

export interface BlockName {
  /** xxh64 of the bytes with `seed`, 16 lowercase hex characters. */
  hash: string
  length: number
  seed: number
}

export const MAX_KEY_SEED = 0xffff_ffff

const REF_KEY = /^([0-9a-f]{16})(?:s([1-9][0-9]{0,9}))?$/
const CHUNK_KEY = /^([0-9a-f]{16})-([1-9][0-9]{0,15})(?:-s([1-9][0-9]{0,9}))?$/

function checked(hash: string, length: number, seed: number, shown: string): BlockName {
  if (!Number.isSafeInteger(length) || length < 1) throw new TesseraError('EINVAL', `bad block length in ${shown}`)
  if (seed > MAX_KEY_SEED) throw new TesseraError('EINVAL', `bad key seed in ${shown}`)
  return { hash, length, seed }
}

/** The name a meta BlockRef (or BlockId) denotes. */
export function nameOfRef(ref: BlockId): BlockName {
  const match = typeof ref.key === 'string' ? REF_KEY.exec(ref.key) : null
  if (match === null) throw new TesseraError('EINVAL', `malformed block reference key: ${JSON.stringify(String(ref.key).slice(0, 64))}`)
  return checked(match[1]!, ref.len, match[2] === undefined ? 0 : Number(match[2]), ref.key)
}

/** The name a chunk server key denotes. */
export function nameOfChunkKey(key: string): BlockName {
  const match = CHUNK_KEY.exec(key)
  if (match === null) throw new TesseraError('EINVAL', `malformed block key: ${JSON.stringify(key.slice(0, 64))}`)
  return checked(match[1]!, Number(match[2]), match[3] === undefined ? 0 : Number(match[3]), key)
}

export function chunkKeyOf(name: BlockName): string {
  return name.seed === 0 ? `${name.hash}-${name.length}` : `${name.hash}-${name.length}-s${name.seed}`
}

export function blockIdOf(name: BlockName): BlockId {
  return { key: name.seed === 0 ? name.hash : `${name.hash}s${name.seed}`, len: name.length }
}

/** meta BlockRef -> chunk server key. */
export function chunkKeyOfRef(ref: BlockId): string {
  return chunkKeyOf(nameOfRef(ref))
}

/** chunk server key -> meta BlockId. */
export function blockIdOfChunkKey(key: string): BlockId {
  return blockIdOf(nameOfChunkKey(key))
}

type Hasher = Awaited<ReturnType<typeof xxhash>>
let loading: Promise<Hasher> | undefined

/** The process's one xxhash-wasm instance (instantiating the WASM module costs milliseconds). */
export function loadHasher(): Promise<Hasher> {
  loading ??= xxhash()
  return loading
}

/** The name of `bytes` hashed with `seed`. */
export function nameBytes(hasher: Hasher, bytes: Uint8Array, seed = 0): BlockName {
  if (bytes.byteLength === 0) throw new TesseraError('EINVAL', 'a block cannot be empty')
  const hash = hasher.h64Raw(bytes, BigInt(seed)).toString(16).padStart(16, '0')
  return { hash, length: bytes.byteLength, seed }
}

/** True when `bytes` are the block `name` denotes (length and hash with its seed). */
export function bytesMatch(hasher: Hasher, name: BlockName, bytes: Uint8Array): boolean {
  return bytes.byteLength === name.length && nameBytes(hasher, bytes, name.seed).hash === name.hash
}
