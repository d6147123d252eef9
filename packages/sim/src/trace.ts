/**
 * A bounded ring of trace lines stamped with the simulation tick: cheap enough to record
 * every event of a long run, and dumped (with the seed) only when the run fails.
 */

export interface TraceOptions {
  /** Lines kept; older ones are overwritten (default 10,000). */
  capacity?: number
  /** The tick stamped on lines recorded through `log` (e.g. () => clock.ticks()). */
  now?: () => number
}

export class TraceBuffer {
  readonly capacity: number
  private readonly ticks: number[]
  private readonly texts: string[]
  private start = 0
  private count = 0
  private overwritten = 0
  private readonly now: (() => number) | undefined

  constructor(options: TraceOptions = {}) {
    this.capacity = options.capacity ?? 10_000
    if (!Number.isSafeInteger(this.capacity) || this.capacity < 1) {
      throw new RangeError(`TraceBuffer: capacity must be a positive integer, got ${this.capacity}`)
    }
    this.ticks = new Array<number>(this.capacity)
    this.texts = new Array<string>(this.capacity)
    this.now = options.now
  }

  /** Records a line at an explicit tick. */
  record(tick: number, text: string): void {
    const slot = (this.start + this.count) % this.capacity
    this.ticks[slot] = tick
    this.texts[slot] = text
    if (this.count < this.capacity) {
      this.count++
    } else {
      this.start = (this.start + 1) % this.capacity
      this.overwritten++
    }
  }

  /** Records a line at the tick given by the `now` option (0 without one). */
  log(text: string): void {
    this.record(this.now?.() ?? 0, text)
  }

  /** A function to hand to SimNetwork/SimDisk `onEvent`. */
  sink(): (text: string) => void {
    return (text) => this.log(text)
  }

  size(): number {
    return this.count
  }

  /** Lines lost to the bound since the buffer was created or cleared. */
  dropped(): number {
    return this.overwritten
  }

  /** The kept entries, oldest first. */
  entries(): Array<{ tick: number; text: string }> {
    const out: Array<{ tick: number; text: string }> = []
    for (let i = 0; i < this.count; i++) {
      const slot = (this.start + i) % this.capacity
      out.push({ tick: this.ticks[slot] as number, text: this.texts[slot] as string })
    }
    return out
  }

  /** The kept lines formatted as `[tick] text`, oldest first, with a note if some were lost. */
  dump(): string {
    const lines = this.entries().map((e) => `[${String(e.tick).padStart(8)}] ${e.text}`)
    if (this.overwritten > 0) lines.unshift(`(${this.overwritten} earlier lines dropped)`)
    return lines.join('\n')
  }

  clear(): void {
    this.start = 0
    this.count = 0
    this.overwritten = 0
  }
}
