/**
 * A run of log items at consecutive indexes, first..last, with Raft's append rule: writing at
 * index i replaces everything at >= i. When empty, `last` is the index the log is known to
 * reach (a snapshot's index, or 0).
 */
export class ContiguousLog<T> {
  private first = 1
  private items: T[] = []

  constructor(private readonly termOf: (item: T) => number) {}

  get firstIndex(): number {
    return this.first
  }

  get lastIndex(): number {
    return this.first + this.items.length - 1
  }

  get length(): number {
    return this.items.length
  }

  /** The term at `index`, or undefined when the run does not hold it. */
  termAt(index: number): number | undefined {
    const item = this.items[index - this.first]
    return item === undefined ? undefined : this.termOf(item)
  }

  /**
   * Writes `items` from index `at`, dropping whatever was at >= at. If `at` is beyond
   * lastIndex + 1 the run restarts there: the caller decides whether that gap is allowed.
   */
  writeAt(at: number, items: readonly T[]): void {
    if (at <= this.first || at > this.lastIndex + 1) {
      this.first = at
      this.items = items.slice()
      return
    }
    this.items.length = at - this.first
    for (const item of items) this.items.push(item)
  }

  /** Forgets everything and makes `index` the last known index (nothing held). */
  resetTo(index: number): void {
    this.first = index + 1
    this.items = []
  }

  /** Drops the items at <= index, keeping the rest; lastIndex becomes max(lastIndex, index). */
  dropThrough(index: number): void {
    if (index < this.first) return
    if (index >= this.lastIndex) {
      this.resetTo(Math.max(index, this.lastIndex))
      return
    }
    this.items = this.items.slice(index - this.first + 1)
    this.first = index + 1
  }

  /** The items with index > `index`, in order. */
  itemsAfter(index: number): T[] {
    return this.items.slice(Math.max(0, index + 1 - this.first))
  }
}
