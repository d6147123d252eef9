/**
 * Reading and checking one stored block file against its sidecar and its key.
 *
 * Results say `ok: false` with a reason when the bytes on disk are bad (missing, wrong size,
 * damaged sidecar, a piece that does not match its checksum); such a block belongs in
 * quarantine. Failures of the machine itself (EMFILE, EIO from the device) are thrown instead:
 * they say nothing about the block.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises'
import type { BlockKeyParts } from './block-key.js'
import { errnoCode, readFully } from './fs-util.js'
import { hex64, type Hasher } from './hasher.js'
import type { StoreLayout } from './layout.js'
import { decodeSidecar, type Sidecar } from './sidecar.js'

export type BlockProblem = { ok: false; reason: string; ino?: number }

export interface OpenBlock {
  handle: FileHandle
  /** Inode of the opened file: a quarantine moves only the file that was found bad. */
  ino: number
  sidecar: Sidecar
}

/** Largest read the store issues at once (checks, comparisons) and the pieces a stream yields. */
export const READ_BATCH_BYTES = 1024 * 1024
/**
 * Largest read behind a stream: a whole default-size block in one read (one thread-pool round
 * trip instead of four), then checked and yielded READ_BATCH_BYTES at a time.
 */
export const STREAM_READ_BYTES = 4 * 1024 * 1024

/** Opens a block and its sidecar, checking the file's size and the sidecar's own checksum. */
export async function openBlockFile(
  hasher: Hasher, layout: StoreLayout, key: string, length: number,
): Promise<{ ok: true; block: OpenBlock } | BlockProblem> {
  let handle: FileHandle
  try {
    handle = await open(layout.blockPath(key), 'r')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { ok: false, reason: 'block file missing' }
    throw err
  }
  let keep = false
  try {
    const stats = await handle.stat()
    const ino = stats.ino
    if (!stats.isFile()) return { ok: false, reason: 'block is not a regular file', ino }
    if (stats.size !== length) return { ok: false, reason: `block file has ${stats.size} bytes, key says ${length}`, ino }
    let raw: Uint8Array
    try {
      raw = await readFile(layout.sidecarPath(key))
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { ok: false, reason: 'sidecar missing', ino }
      throw err
    }
    const decoded = decodeSidecar(hasher, raw, length)
    if (!decoded.ok) return { ok: false, reason: decoded.reason, ino }
    keep = true
    return { ok: true, block: { handle, ino, sidecar: decoded.sidecar } }
  } finally {
    if (!keep) await handle.close()
  }
}

/**
 * Reads bytes [start, end) and checks every piece they cover. `start` must be the start of a
 * piece; `end` the end of a piece or of the block.
 */
export async function readVerifiedRange(
  hasher: Hasher, block: OpenBlock, start: number, end: number,
): Promise<{ ok: true; bytes: Buffer } | BlockProblem> {
  const range = await readRawRange(block, start, end)
  if (!range.ok) return range
  return verifyPieces(hasher, block, range.bytes, start) ?? range
}

/** Reads bytes [start, end) with one read (unchecked: see verifyPieces), into `into` when it is large enough. */
export async function readRawRange(
  block: OpenBlock, start: number, end: number, into?: Buffer,
): Promise<{ ok: true; bytes: Buffer } | BlockProblem> {
  const bytes = into !== undefined && into.byteLength >= end - start ? into.subarray(0, end - start) : Buffer.allocUnsafe(end - start)
  const got = await readFully(block.handle, bytes, start)
  if (got !== bytes.byteLength) return { ok: false, reason: `block file ended at ${start + got}`, ino: block.ino }
  return { ok: true, bytes }
}

/**
 * Checks `bytes`, read at `start`, against the sidecar: the problem, or undefined when every piece
 * they cover matches. `start` must be the start of a piece; the bytes must end at the end of a
 * piece or of the block.
 */
export function verifyPieces(hasher: Hasher, block: OpenBlock, bytes: Uint8Array, start: number): BlockProblem | undefined {
  const { pieceBytes, sums, blockLength } = block.sidecar
  for (let at = 0; at < bytes.byteLength; at += pieceBytes) {
    const piece = (start + at) / pieceBytes
    const pieceEnd = Math.min(at + pieceBytes, bytes.byteLength)
    if (pieceEnd - at !== Math.min(pieceBytes, blockLength - (start + at))) {
      return { ok: false, reason: 'read range does not cover whole pieces', ino: block.ino }
    }
    if (hasher.h64Raw(bytes.subarray(at, pieceEnd)) !== sums[piece]) {
      return { ok: false, reason: `piece ${piece} does not match its checksum`, ino: block.ino }
    }
  }
  return undefined
}

/** The full check the scrubber needs: sidecar, every piece, and the whole-block hash against the key. */
export async function checkBlockFile(
  hasher: Hasher, layout: StoreLayout, key: string, parts: BlockKeyParts,
): Promise<{ ok: true } | BlockProblem> {
  const opened = await openBlockFile(hasher, layout, key, parts.length)
  if (!opened.ok) return opened
  const { block } = opened
  try {
    const whole = hasher.create64(BigInt(parts.seed))
    const batch = Math.max(block.sidecar.pieceBytes, READ_BATCH_BYTES - (READ_BATCH_BYTES % block.sidecar.pieceBytes))
    for (let start = 0; start < parts.length; start += batch) {
      const range = await readVerifiedRange(hasher, block, start, Math.min(start + batch, parts.length))
      if (!range.ok) return range
      whole.update(range.bytes)
    }
    if (hex64(whole.digest()) !== parts.hash) {
      return { ok: false, reason: 'block bytes do not hash to their key', ino: block.ino }
    }
    return { ok: true }
  } finally {
    await block.handle.close()
  }
}

/** True when the file at `path` holds exactly `length` bytes equal to those of `other`. */
export async function sameFileBytes(path: string, other: string, length: number): Promise<boolean> {
  let a: FileHandle | undefined
  let b: FileHandle | undefined
  try {
    a = await open(path, 'r')
    b = await open(other, 'r')
    if ((await a.stat()).size !== length || (await b.stat()).size !== length) return false
    const bufA = Buffer.allocUnsafe(Math.min(READ_BATCH_BYTES, length))
    const bufB = Buffer.allocUnsafe(bufA.byteLength)
    for (let at = 0; at < length; at += bufA.byteLength) {
      const n = Math.min(bufA.byteLength, length - at)
      const [gotA, gotB] = await Promise.all([readFully(a, bufA.subarray(0, n), at), readFully(b, bufB.subarray(0, n), at)])
      if (gotA !== n || gotB !== n || !bufA.subarray(0, n).equals(bufB.subarray(0, n))) return false
    }
    return true
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false
    throw err
  } finally {
    await a?.close()
    await b?.close()
  }
}
