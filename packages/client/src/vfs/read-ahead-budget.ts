/**
 * Read-ahead memory bounded across all open files: a BlockReader that fetches ahead holds up to
 * (readAheadBlocks + 1) whole blocks, so each open file reading sequentially could hold that
 * much. A file's reader starts without read-ahead (a range read holds nothing once answered) and
 * takes one of a fixed number of read-ahead slots the first time it reads sequentially; it gives
 * the slot back when the file is closed. When every slot is taken, a file reads on without
 * read-ahead (slower, never more memory).
 */
import type { RangeReader } from './data-path.js'
import type { BlockRef } from '@tessera/protocol'

export class ReadAheadSlots {
  private used = 0

  constructor(readonly slots: number) {}

  get inUse(): number {
    return this.used
  }

  tryTake(): boolean {
    if (this.used >= this.slots) return false
    this.used++
    return true
  }

  give(): void {
    if (this.used > 0) this.used--
  }
}

/** A per-file reader that reads ahead only while it holds a slot. */
export class BudgetedReader implements RangeReader {
  private ahead: RangeReader | undefined
  private lastEnd = -1
  private closed = false

  constructor(
    private readonly plain: RangeReader,
    private readonly makeAhead: () => RangeReader,
    private readonly slots: ReadAheadSlots,
  ) {}

  /** Whether this reader holds a read-ahead slot. */
  get readsAhead(): boolean {
    return this.ahead !== undefined
  }

  async readRange(blocks: readonly BlockRef[], offset: number, length: number): Promise<Uint8Array> {
    if (this.ahead === undefined && !this.closed && offset === this.lastEnd && this.slots.tryTake()) this.ahead = this.makeAhead()
    const bytes = await (this.ahead ?? this.plain).readRange(blocks, offset, length)
    this.lastEnd = offset + bytes.byteLength
    return bytes
  }

  /** Gives the slot back (and the read-ahead reader's blocks with it). */
  close(): void {
    this.closed = true
    if (this.ahead !== undefined) {
      this.ahead = undefined
      this.slots.give()
    }
  }
}
