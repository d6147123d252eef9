/**
 * The append pipelining window of one follower: the last index of every AppendEntries sent
 * and not yet acknowledged, oldest first. When it is full the leader pauses that follower.
 */
export class Inflights {
  private readonly capacity: number
  private readonly buffer: number[]
  private start = 0
  private size = 0

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`inflights capacity must be >= 1, got ${capacity}`)
    this.capacity = capacity
    this.buffer = new Array<number>(capacity).fill(0)
  }

  get count(): number {
    return this.size
  }

  full(): boolean {
    return this.size === this.capacity
  }

  /** Records an append whose last entry is `index`; indexes must be added in increasing order. */
  add(index: number): void {
    if (this.full()) throw new Error('inflights: add to a full window')
    if (this.size > 0 && index <= this.buffer[(this.start + this.size - 1) % this.capacity]!) {
      throw new Error(`inflights: index ${index} not above the last in flight`)
    }
    this.buffer[(this.start + this.size) % this.capacity] = index
    this.size++
  }

  /** Frees every append whose last index is <= `index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this.size > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity
      this.size--
    }
  }

  /** Frees the oldest append: used when a heartbeat answer shows the follower is alive. */
  freeFirstOne(): void {
    if (this.size === 0) return
    this.start = (this.start + 1) % this.capacity
    this.size--
  }

  reset(): void {
    this.start = 0
    this.size = 0
  }
}
