/**
 * A file's block list as meta keeps it: pieces (the first `used` bytes of a block) laid end to
 * end from offset 0, then a hole of zeros up to the file's size.
 */
import type { BlockRef } from '@tessera/protocol'

/** A range of the file to rewrite: whole pieces, or the hole past the last piece. */
export interface Run {
  start: number
  end: number
}

/**
 * The runs that cover `ranges` (sorted, disjoint): each widened to whole pieces, and a range in
 * the tail hole widened back to the end of the pieces (a file's pieces have no gaps). Runs that
 * share a piece or the tail are merged.
 */
export function runsFor(pieces: readonly BlockRef[], ranges: ReadonlyArray<readonly [number, number]>): Run[] {
  const starts: number[] = []
  let end = 0
  for (const p of pieces) {
    starts.push(end)
    end += p.used
  }
  const pieceAt = (offset: number): number => {
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }
  const runs: Run[] = []
  for (const [s, e] of ranges) {
    const start = s < end ? starts[pieceAt(s)]! : end
    const lastIndex = e <= end ? pieceAt(e - 1) : -1
    const stop = lastIndex >= 0 ? starts[lastIndex]! + pieces[lastIndex]!.used : e
    const prev = runs.at(-1)
    if (prev !== undefined && (start < prev.end || (start === prev.end && start >= end))) prev.end = Math.max(prev.end, stop)
    else runs.push({ start, end: stop })
  }
  return runs
}

/** `pieces` with those wholly inside [start, min(end, usedBytes(pieces))) replaced by `fresh`. */
export function replaceRun(pieces: readonly BlockRef[], run: Run, fresh: readonly BlockRef[]): BlockRef[] {
  const out: BlockRef[] = []
  let offset = 0
  let inserted = false
  for (const p of pieces) {
    const pEnd = offset + p.used
    if (offset >= run.start && pEnd <= run.end) {
      if (!inserted) out.push(...fresh)
      inserted = true
    } else {
      out.push(p)
    }
    offset = pEnd
  }
  if (!inserted) out.push(...fresh)
  return out
}
