/**
 * The leader's garbage collector (DESIGN decision 7): every few seconds it looks through the
 * unreferenced blocks for those unreferenced longer than the grace period and proposes
 * `retireBlocks` for a bounded batch of them. Everything that matters is decided again when the
 * command applies (fsm/gc.ts): a block referenced in the meantime is left alone, so this pass
 * may read a slightly stale state without harm. Chunk servers learn their delete orders from
 * heartbeat replies (cluster-handlers.ts) and confirm them with chunk.blocksGone.
 *
 * Only the leader runs passes; the orders are replicated, so a new leader carries on with them.
 *
 * Writers in flight (writer leases): a writer keeps the blocks it wrote and has not committed
 * alive by recording them again (meta.blocksWritten) well within the grace period; each record
 * counts the block as unreferenced from then (fsm/cluster-map.ts), so the apply-time check
 * spares it. What a record cannot cover is the moment between a placement and the writer's
 * first record: a writer whose block is already stored as an old orphan (same key) has the
 * chunk servers keep that copy, which GC may be about to delete. Placements go through no log
 * entry, so the leader remembers them here (PlacementPins): a block unreferenced since before
 * its last placement is spared until `pinMs` (the token lifetime, which bounds the write, plus
 * a margin for the writer's first record) after that placement. A block unreferenced anew after
 * its placement needs no pin while the grace period is longer than `pinMs` (the defaults: 10
 * minutes against 5 and a half): its retirement comes after the pin would have ended anyway.
 * A new leader knows no placements of its predecessors, so it spares every block unreferenced
 * before it noticed its leadership for `pinMs` after that.
 */
import type { Logger } from '@tessera/protocol'
import { MAX_RETIRE_BATCH, type Namespace, type RetireBlocksRequest, type RetireReply } from '../fsm/index.js'
import { Counter, type MetricsRegistry } from './metrics.js'

export interface GcSettings {
  /** How long a block stays unreferenced before it is deleted (default 10 minutes). */
  graceMs: number
  /** How often the leader looks for blocks to retire (default 5 s). */
  intervalMs: number
  /** Most blocks retired by one command (default and at most MAX_RETIRE_BATCH). */
  batch: number
  /** No more retirements while this many delete orders are unconfirmed (default 65536). */
  maxPendingOrders: number
  /**
   * What a placement pin lasts beyond the block token's lifetime (default 30 s): a writer
   * records its new blocks within a few seconds of writing them (its lease renewer).
   */
  pinMarginMs: number
}

export const DEFAULT_GC: Readonly<GcSettings> = {
  graceMs: 10 * 60_000, intervalMs: 5000, batch: MAX_RETIRE_BATCH, maxPendingOrders: 65536, pinMarginMs: 30_000,
}

/** Most placements remembered; past it every block is spared for one pin time instead. */
export const MAX_PINS = 1 << 20

/**
 * Blocks the leader placed lately (block id -> time of the last placement, ms, oldest first),
 * and a blanket pin over every block unreferenced before a moment (a new leader's start, or a
 * table too full to grow). Memory stays bounded: entries older than `pinMs` are pruned as new
 * ones come, and past `maxPins` the table is replaced by a blanket pin.
 */
export class PlacementPins {
  private readonly placed = new Map<string, number>()
  private term: number | undefined
  private blanketFromMs = Number.NEGATIVE_INFINITY
  private blanketUntilMs = Number.NEGATIVE_INFINITY

  constructor(readonly pinMs: number, private readonly maxPins = MAX_PINS) {}

  /** Placements remembered now. */
  get size(): number {
    return this.placed.size
  }

  /**
   * A leader in a new term (or the first call) knows nothing of its predecessors' placements:
   * everything unreferenced so far is spared for one pin time.
   */
  observeTerm(term: number, nowMs: number): void {
    if (term === this.term) return
    this.term = term
    this.placed.clear()
    this.blanket(nowMs)
  }

  /** Block `id` was placed at `nowMs`. */
  note(id: string, nowMs: number): void {
    this.prune(nowMs)
    if (this.placed.size >= this.maxPins) {
      // Every pin dropped here started at or before now: the blanket covers it.
      this.placed.clear()
      this.blanket(nowMs)
    }
    // Re-inserted, so the table stays in placement order and pruning stops at the first young one.
    this.placed.delete(id)
    this.placed.set(id, nowMs)
  }

  /** Whether GC must spare block `id`, unreferenced since `sinceMs`, at `nowMs`. */
  isPinned(id: string, sinceMs: number, nowMs: number): boolean {
    if (nowMs < this.blanketUntilMs && sinceMs <= this.blanketFromMs) return true
    const at = this.placed.get(id)
    return at !== undefined && nowMs < at + this.pinMs && sinceMs <= at
  }

  /** Drops the pins that have run out. */
  prune(nowMs: number): void {
    for (const [id, at] of this.placed) {
      if (at + this.pinMs > nowMs) break
      this.placed.delete(id)
    }
  }

  private blanket(nowMs: number): void {
    this.blanketFromMs = nowMs + PIN_CLOCK_SKEW_MS
    this.blanketUntilMs = nowMs + this.pinMs
  }
}

/** Unreferenced times stamped by another member's clock may be this much ahead of ours. */
const PIN_CLOCK_SKEW_MS = 1000

/** Unreferenced entries one pass reads at most (it resumes after the last one next time). */
const SCAN_LIMIT = 65536

export interface BlockGcDeps {
  namespace(): Namespace
  isLeader(): boolean
  propose(req: RetireBlocksRequest): Promise<RetireReply>
  /** The leader's wall clock (ms); the same clock stamps the commands. */
  clockMs(): number
  /** The Raft term this member leads in (a new one: placements before it are unknown here). */
  term(): number
  /** Placements this leader answered lately (noted by meta.placeBlock). */
  pins: PlacementPins
  logger: Logger
  settings: GcSettings
}

export class BlockGc {
  private cursor: string | undefined
  private timer: NodeJS.Timeout | undefined
  private passing: Promise<void> | undefined
  private retired = new Counter()

  constructor(private readonly deps: BlockGcDeps) {}

  /** Runs a pass every `intervalMs` (on the leader only). */
  start(): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => {
      if (this.passing !== undefined || !this.deps.isLeader()) return
      this.passing = this.pass().then(
        () => undefined,
        (err: Error) => this.deps.logger.debug({ err: err.message }, 'meta: GC pass not applied'),
      ).finally(() => { this.passing = undefined })
    }, this.deps.settings.intervalMs)
    this.timer.unref()
  }

  /** No more passes; one in flight ends with its proposal (which fails once the node stops). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Blocks unreferenced for longer than the grace period, at most one batch. */
  candidates(): string[] {
    const ns = this.deps.namespace()
    const { graceMs, batch, maxPendingOrders } = this.deps.settings
    if (ns.pendingDeleteCount >= maxPendingOrders) return []
    const now = this.deps.clockMs()
    const pins = this.deps.pins
    pins.observeTerm(this.deps.term(), now)
    pins.prune(now)
    const cutoff = now - graceMs
    const limit = Math.min(batch, MAX_RETIRE_BATCH)
    const scanned = ns.unreferencedIds(SCAN_LIMIT, this.cursor)
    const old: string[] = []
    for (const [id, sinceMs] of scanned) {
      if (sinceMs <= cutoff && !pins.isPinned(id, sinceMs, now)) old.push(id)
      if (old.length >= limit) break
    }
    // Resume after the last block taken; start over once the end of the table is reached.
    const last = old.length >= limit ? old[old.length - 1] : scanned.length >= SCAN_LIMIT ? scanned[scanned.length - 1]![0] : undefined
    this.cursor = last
    return old
  }

  /** One pass: retires what has waited out its grace period. */
  async pass(): Promise<RetireReply> {
    const blocks = this.candidates()
    if (blocks.length === 0) return { retired: 0, orders: 0 }
    const reply = await this.deps.propose({ op: 'retireBlocks', blocks, graceMs: this.deps.settings.graceMs })
    this.retired.inc(reply.retired)
    if (reply.retired > 0) this.deps.logger.info({ retired: reply.retired, orders: reply.orders }, 'meta: GC retired unreferenced blocks')
    return reply
  }

  /** Gauges of what GC has in hand (the applied state, on every member) and the blocks it retired. */
  registerMetrics(metrics: MetricsRegistry): void {
    const ns = () => this.deps.namespace()
    metrics.gauge('tessera_meta_unreferenced_blocks', 'Blocks no file references (waiting out the grace period)', () => ns().unreferencedCount)
    metrics.gauge('tessera_meta_pending_deletes', 'Delete orders chunk servers have not confirmed', () => ns().pendingDeleteCount)
    this.retired = metrics.counter('tessera_meta_gc_retired_blocks_total', 'Blocks this member retired while leading')
  }
}
