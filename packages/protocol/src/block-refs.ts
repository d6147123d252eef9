/**
 * A file's block list as meta keeps it and clients mirror it: pieces (the first `used` bytes
 * of a block) laid end to end from offset 0, then a hole of zeros up to the file's size. The
 * client's copy must change exactly as meta's does, so the rules live here once.
 */
import type { BlockRef } from './meta.js'

/** Bytes the pieces cover (where the tail hole begins). */
export function usedBytes(refs: readonly BlockRef[]): number {
  let total = 0
  for (const r of refs) total += r.used
  return total
}

/**
 * The block list of a file truncated to `size`: pieces wholly past `size` go, the piece that
 * straddles it is cut (its `used` shrinks). Growing needs no change: the tail beyond the
 * pieces is a hole that reads as zeros.
 */
export function truncateBlockRefs(refs: readonly BlockRef[], size: number): BlockRef[] {
  const out: BlockRef[] = []
  let offset = 0
  for (const r of refs) {
    if (offset >= size) break
    const used = Math.min(r.used, size - offset)
    out.push(used === r.used ? r : { key: r.key, len: r.len, used })
    offset += used
  }
  return out
}
