/**
 * Blocks of zeros (preallocated files, disk images, `dd if=/dev/zero`) are written once and then
 * shared: a zero block of a length this writer wrote a moment ago, or is writing now, is not sent
 * through a replication chain again. Without it every such block went through the whole chain
 * only to be found stored already, and identical keys written at once serialize on each chunk
 * server (the fuse bench's dd of zeros ran at half the speed of random bytes).
 *
 * Safe against garbage collection because the reuse window is short: a block is placed (and
 * pinned by the leader) when its write starts, and it cannot be retired before it has been
 * unreferenced for a whole grace period, so a block whose write started less than a quarter of
 * the grace period ago (at most a minute) is still stored; the new writer then keeps it in its
 * own lease like any block it wrote. Only all-zero bytes are shared: for other contents equal
 * keys would not prove equal bytes (DESIGN decision 5), and zeros are checked byte by byte.
 */
import type { WrittenBlock } from './block-writer.js'

/** Longest reuse window, whatever the grace period. */
export const MAX_ZERO_REUSE_MS = 60_000
/** Distinct zero-block lengths remembered (full blocks and a few tails). */
const MAX_LENGTHS = 16
const ZEROS = Buffer.alloc(64 * 1024)

/** The reuse window for a cluster whose GC grace period is `gcGraceMs` (0: no reuse). */
export function zeroReuseMs(gcGraceMs: number | undefined): number {
  if (gcGraceMs === undefined || !Number.isFinite(gcGraceMs) || gcGraceMs <= 0) return 0
  return Math.min(MAX_ZERO_REUSE_MS, Math.floor(gcGraceMs / 4))
}

/** True when every byte is zero (memcmp in 64 KiB steps; random data leaves at the first). */
export function isAllZero(bytes: Uint8Array): boolean {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = 0; at < view.byteLength; at += ZEROS.byteLength) {
    const end = Math.min(view.byteLength, at + ZEROS.byteLength)
    if (view.compare(ZEROS, 0, end - at, at, end) !== 0) return false
  }
  return true
}

interface Shared {
  block: Promise<WrittenBlock>
  startedAt: number
}

export class RecentZeroBlocks {
  private readonly byLength = new Map<number, Shared>()

  constructor(private readonly reuseMs: number, private readonly now: () => number = Date.now) {}

  /** `write()`'s result, or for zero bytes the result of a recent or running write of the same zeros. */
  write(bytes: Uint8Array, write: () => Promise<WrittenBlock>): Promise<WrittenBlock> {
    if (this.reuseMs <= 0 || bytes.byteLength === 0 || !isAllZero(bytes)) return write()
    const now = this.now()
    const length = bytes.byteLength
    const known = this.byLength.get(length)
    if (known !== undefined && now - known.startedAt < this.reuseMs) return known.block
    const shared: Shared = { block: write(), startedAt: now }
    this.byLength.delete(length)
    this.byLength.set(length, shared)
    if (this.byLength.size > MAX_LENGTHS) this.byLength.delete(this.byLength.keys().next().value!)
    // A failed write is not shared with later writers (those already waiting get its error).
    shared.block.catch(() => {
      if (this.byLength.get(length) === shared) this.byLength.delete(length)
    })
    return shared.block
  }
}
