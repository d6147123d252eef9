/**
 * The leader's garbage collector (DESIGN decision 7): every few seconds it looks through the
 * unreferenced blocks for those unreferenced longer than the grace period and proposes
 * `retireBlocks` for a bounded batch of them. Everything that matters is decided again when the
 * command applies (fsm/gc.ts): a block referenced in the meantime is left alone, so this pass
 * may read a slightly stale state without harm. Chunk servers learn their delete orders from
 * heartbeat replies (cluster-handlers.ts) and confirm them with chunk.blocksGone.
 *
 * Only the leader runs passes; the orders are replicated, so a new leader carries on with them.
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
}

export const DEFAULT_GC: Readonly<GcSettings> = {
  graceMs: 10 * 60_000, intervalMs: 5000, batch: MAX_RETIRE_BATCH, maxPendingOrders: 65536,
}

/** Unreferenced entries one pass reads at most (it resumes after the last one next time). */
const SCAN_LIMIT = 65536

export interface BlockGcDeps {
  namespace(): Namespace
  isLeader(): boolean
  propose(req: RetireBlocksRequest): Promise<RetireReply>
  /** The leader's wall clock (ms); the same clock stamps the commands. */
  clockMs(): number
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
    const cutoff = this.deps.clockMs() - graceMs
    const limit = Math.min(batch, MAX_RETIRE_BATCH)
    const scanned = ns.unreferencedIds(SCAN_LIMIT, this.cursor)
    const old: string[] = []
    for (const [id, sinceMs] of scanned) {
      if (sinceMs <= cutoff) old.push(id)
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
