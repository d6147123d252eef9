/**
 * A file's written-but-not-yet-stored bytes: non-overlapping segments sorted by offset. A later
 * write replaces what it overlaps (zero-copy cuts with subarray); sequential writes append in
 * O(1), so a long stream of 128 KiB writes stays cheap.
 */
export interface Segment {
  start: number
  bytes: Buffer
}

function endOf(seg: Segment): number {
  return seg.start + seg.bytes.byteLength
}

export class DirtyExtents {
  private segs: Segment[] = []
  private total = 0

  /** Bytes held. */
  get bytes(): number {
    return this.total
  }

  /** The end of the last segment (0 when empty). */
  get end(): number {
    const last = this.segs.at(-1)
    return last === undefined ? 0 : endOf(last)
  }

  get isEmpty(): boolean {
    return this.segs.length === 0
  }

  /** Stores a copy of `data` at `offset`, replacing the bytes it overlaps. */
  write(offset: number, data: Uint8Array): void {
    if (data.byteLength === 0) return
    const seg = { start: offset, bytes: Buffer.from(data) }
    const last = this.segs.at(-1)
    if (last === undefined || endOf(last) <= offset) {
      this.segs.push(seg)
      this.total += data.byteLength
      return
    }
    this.cut(offset, offset + data.byteLength, seg)
    this.total += data.byteLength
  }

  /** Removes and returns the parts of segments inside [start, end), in order. */
  take(start: number, end: number): Segment[] {
    return this.cut(start, end)
  }

  /** Stores the parts of `seg` that no held segment covers (older bytes under newer ones). */
  underlay(seg: Segment): void {
    const end = endOf(seg)
    let at = seg.start
    const gaps: Array<[number, number]> = []
    for (let i = this.firstEndingAfter(at); i < this.segs.length && at < end; i++) {
      const held = this.segs[i]!
      if (held.start > at) gaps.push([at, Math.min(held.start, end)])
      at = Math.max(at, endOf(held))
    }
    if (at < end) gaps.push([at, end])
    for (const [a, b] of gaps) this.write(a, seg.bytes.subarray(a - seg.start, b - seg.start))
  }

  /** Drops every byte at or past `size`. */
  truncate(size: number): void {
    this.cut(size, Number.MAX_SAFE_INTEGER)
  }

  /** Copies every held byte inside [offset, offset + out.byteLength) into `out`. */
  overlay(out: Uint8Array, offset: number): void {
    overlaySegments(this.segs, out, offset, this.firstEndingAfter(offset))
  }

  /** True when every byte of [start, end) is held. */
  covers(start: number, end: number): boolean {
    let at = start
    for (let i = this.firstEndingAfter(start); i < this.segs.length && at < end; i++) {
      const seg = this.segs[i]!
      if (seg.start > at) return false
      at = endOf(seg)
    }
    return at >= end
  }

  /** The held ranges [start, end), adjacent segments merged. */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = []
    for (const seg of this.segs) {
      const last = out.at(-1)
      if (last !== undefined && last[1] === seg.start) last[1] = endOf(seg)
      else out.push([seg.start, endOf(seg)])
    }
    return out
  }

  /** Index of the first segment that ends after `offset`. */
  private firstEndingAfter(offset: number): number {
    let lo = 0
    let hi = this.segs.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (endOf(this.segs[mid]!) > offset) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** Cuts [start, end) out of the segments (optionally putting `insert` there); returns what was cut. */
  private cut(start: number, end: number, insert?: Segment): Segment[] {
    const first = this.firstEndingAfter(start)
    let last = first
    const removed: Segment[] = []
    const kept: Segment[] = []
    while (last < this.segs.length && this.segs[last]!.start < end) {
      const seg = this.segs[last]!
      const segEnd = endOf(seg)
      if (seg.start < start) kept.push({ start: seg.start, bytes: seg.bytes.subarray(0, start - seg.start) })
      const from = Math.max(seg.start, start)
      const to = Math.min(segEnd, end)
      removed.push({ start: from, bytes: seg.bytes.subarray(from - seg.start, to - seg.start) })
      this.total -= to - from
      if (insert !== undefined && segEnd > end) {
        kept.push(insert)
        insert = undefined
      }
      if (segEnd > end) kept.push({ start: end, bytes: seg.bytes.subarray(end - seg.start) })
      last++
    }
    if (insert !== undefined) {
      // Goes after any left part kept and before any segment not touched.
      kept.push(insert)
    }
    this.segs.splice(first, last - first, ...kept)
    return removed
  }
}

/** Copies the parts of sorted `segs` (from index `from`) that fall in [offset, offset + out.length). */
export function overlaySegments(segs: readonly Segment[], out: Uint8Array, offset: number, from = 0): void {
  const end = offset + out.byteLength
  for (let i = from; i < segs.length; i++) {
    const seg = segs[i]!
    if (seg.start >= end) break
    const segEnd = endOf(seg)
    if (segEnd <= offset) continue
    const a = Math.max(seg.start, offset)
    const b = Math.min(segEnd, end)
    out.set(seg.bytes.subarray(a - seg.start, b - seg.start), a - offset)
  }
}
