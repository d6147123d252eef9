/**
 * Simulated time. `SimClock` is the world's clock: an integer tick counter, `msPerTick`
 * milliseconds per tick, and timers that fire in a deterministic order (due time, then the
 * order they were set) as the clock advances. `NodeClock` is one node's view of it, with its
 * own skew (a step) and drift (a rate error in parts per million), which is what a lease or
 * timeout in production code would read through its clock seam.
 */

export type TimerId = number

interface Timer {
  id: TimerId
  dueMs: number
  seq: number
  fn: () => void
}

export interface SimClockOptions {
  /** Milliseconds of simulated time per tick (default 10). */
  msPerTick?: number
  /** Bound on timers fired within one tick, to catch a timer that re-arms itself at 0 ms. */
  maxTimersPerTick?: number
}

export class SimClock {
  readonly msPerTick: number
  private readonly maxTimersPerTick: number
  private tickCount = 0
  private nextId = 1
  private seq = 0
  private readonly heap: Timer[] = []
  private readonly live = new Map<TimerId, Timer>()

  constructor(options: SimClockOptions = {}) {
    this.msPerTick = options.msPerTick ?? 10
    this.maxTimersPerTick = options.maxTimersPerTick ?? 100_000
    if (!Number.isSafeInteger(this.msPerTick) || this.msPerTick < 1) {
      throw new RangeError(`SimClock: msPerTick must be a positive integer, got ${this.msPerTick}`)
    }
  }

  ticks(): number {
    return this.tickCount
  }

  /** The true simulated time in ms. */
  now(): number {
    return this.tickCount * this.msPerTick
  }

  /**
   * Runs `fn` once the clock reaches now() + delayMs (at the first tick at or after it).
   * Timers due at the same ms fire in the order they were set.
   */
  setTimer(delayMs: number, fn: () => void): TimerId {
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`SimClock.setTimer: bad delay ${delayMs}`)
    const timer: Timer = { id: this.nextId++, dueMs: this.now() + delayMs, seq: this.seq++, fn }
    this.live.set(timer.id, timer)
    this.push(timer)
    return timer.id
  }

  /** Cancels a pending timer; returns false if it already fired or was cancelled. */
  cancel(id: TimerId): boolean {
    return this.live.delete(id)
  }

  pendingTimers(): number {
    return this.live.size
  }

  /** Advances `n` ticks, one at a time, firing due timers after each. */
  advance(n = 1): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`SimClock.advance: bad tick count ${n}`)
    for (let i = 0; i < n; i++) {
      this.tickCount++
      this.fireDue()
    }
  }

  /** A node's view of this clock with its own skew and drift. */
  nodeClock(options: { skewMs?: number; driftPpm?: number } = {}): NodeClock {
    return new NodeClock(this, options.skewMs ?? 0, options.driftPpm ?? 0)
  }

  private fireDue(): void {
    const now = this.now()
    let fired = 0
    for (;;) {
      const top = this.heap[0]
      if (top === undefined || top.dueMs > now) return
      this.pop()
      if (!this.live.delete(top.id)) continue // cancelled
      if (++fired > this.maxTimersPerTick) {
        throw new Error(`SimClock: more than ${this.maxTimersPerTick} timers fired in one tick (a timer loop?)`)
      }
      top.fn()
    }
  }

  private push(timer: Timer): void {
    const heap = this.heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i] as Timer, heap[parent] as Timer)) break
      swap(heap, i, parent)
      i = parent
    }
  }

  private pop(): void {
    const heap = this.heap
    const last = heap.pop() as Timer
    if (heap.length === 0) return
    heap[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let min = i
      if (l < heap.length && before(heap[l] as Timer, heap[min] as Timer)) min = l
      if (r < heap.length && before(heap[r] as Timer, heap[min] as Timer)) min = r
      if (min === i) return
      swap(heap, i, min)
      i = min
    }
  }
}

/**
 * One node's clock: now() = true time + skew + drift accumulated since the last change.
 * Skew steps may move time backwards, as a real wall clock can; code that needs a
 * monotonic clock must not be given a stepped one.
 */
export class NodeClock {
  /** The true time and node time at the last skew or drift change. */
  private baseTrueMs: number
  private baseNodeMs: number
  private driftPpm: number

  constructor(private readonly world: SimClock, skewMs: number, driftPpm: number) {
    checkFinite('skewMs', skewMs)
    checkDrift(driftPpm)
    this.baseTrueMs = world.now()
    this.baseNodeMs = world.now() + skewMs
    this.driftPpm = driftPpm
  }

  now(): number {
    const elapsed = this.world.now() - this.baseTrueMs
    return this.baseNodeMs + elapsed + Math.floor((elapsed * this.driftPpm) / 1_000_000)
  }

  /** Steps this node's clock by `deltaMs` (positive or negative). */
  step(deltaMs: number): void {
    checkFinite('deltaMs', deltaMs)
    this.rebase()
    this.baseNodeMs += deltaMs
  }

  /** Changes the rate error from now on; past drift is kept. */
  setDrift(ppm: number): void {
    checkDrift(ppm)
    this.rebase()
    this.driftPpm = ppm
  }

  /** Skew against true time right now (node time minus true time). */
  skew(): number {
    return this.now() - this.world.now()
  }

  /**
   * A timer measured on this node's clock: `delayMs` of node time, converted to true time
   * through the current drift (rounded up, so it never fires early by this node's reckoning).
   */
  setTimer(delayMs: number, fn: () => void): TimerId {
    return this.world.setTimer(Math.ceil(delayMs / (1 + this.driftPpm / 1_000_000)), fn)
  }

  cancel(id: TimerId): boolean {
    return this.world.cancel(id)
  }

  private rebase(): void {
    const node = this.now()
    this.baseTrueMs = this.world.now()
    this.baseNodeMs = node
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq)
}

function swap(heap: Timer[], i: number, j: number): void {
  const t = heap[i] as Timer
  heap[i] = heap[j] as Timer
  heap[j] = t
}

function checkFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`NodeClock: ${name} must be finite, got ${value}`)
}

function checkDrift(ppm: number): void {
  if (!Number.isFinite(ppm) || ppm <= -1_000_000) throw new RangeError(`NodeClock: drift ${ppm} ppm is not a rate`)
}
