/**
 * BlockLease keeps a writer's written, uncommitted blocks safe from meta's garbage collection
 * by recording them again (meta.blocksWritten) while the writer lives.
 */
import { MAX_BLOCK_COPIES, TesseraError, hasCode, silentLogger, type BlockCopies, type BlockId, type Logger } from '@tessera/protocol'

/** Records blocks with meta (meta.blocksWritten), as BlockLease renews them. */
export type RecordBlocks = (blocks: readonly BlockCopies[]) => Promise<unknown>

export interface BlockLeaseOptions {
  record: RecordBlocks
  /** GC's grace period on meta (meta.dataConfig's gcGraceMs). */
  graceMs: number
  /** What the blocks are written for (a path, an inode), in log lines and errors. */
  label: string
  logger?: Logger
  /** Monotonic enough ms clock (tests); default Date.now. */
  now?: () => number
}

/**
 * A block is first recorded at most this long after it was written (sooner with a short grace
 * period): until then only the leader's placement pin (token lifetime + a margin of 30 s by
 * default) keeps GC off an old orphan copy the write may have deduplicated onto.
 */
export const FIRST_RECORD_MS = 5000
/** A failed renewal is tried again this soon (or within a period, if shorter). */
const RETRY_MS = 1000
/** Longest delay setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface PendingBlock {
  copies: BlockCopies
  /** When this entry was added (ms). */
  addedAt: number
  /** When the last record that named it was sent (ms); meta keeps it one grace period from then. */
  recordedAt: number | undefined
}

function blockIdOf(ref: BlockId): string {
  return `${ref.key}/${ref.len}`
}

/**
 * A writer's lease on the blocks it has written and not committed. Meta's GC deletes blocks no
 * file references once they have been unreferenced for its grace period; a block its writer
 * records (meta.blocksWritten) counts as unreferenced from that record only. So the lease
 * records every pending block a first time soon after its write, then again at least every
 * third of the grace period (`periodMs`), on an unref'd timer, until the commit (`clear`) or the
 * end (`close`). The timer wakes every half period and records only the blocks due then (new,
 * or last recorded half a period ago or more), so a long write does not send its whole growing
 * list again and again. A writer that dies stops renewing, and GC collects its blocks one grace
 * period later.
 *
 * Should renewals stop anyway (meta unreachable that long, a stalled process), a block may be
 * deleted under the writer: `checkHeld` refuses a commit naming a block whose lease may have
 * run out, and `commitFailure` turns meta's refusal of a commit naming a block GC retired
 * into the same clear error, with one log line. Neither retries: the bytes are gone.
 */
export class BlockLease {
  readonly periodMs: number
  private readonly pending = new Map<string, PendingBlock>()
  private readonly logger: Logger
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined
  private dueAt = Number.POSITIVE_INFINITY
  private chain: Promise<void> = Promise.resolve()
  private failures = 0
  private closed = false
  private readonly losses = new WeakSet<object>()

  constructor(private readonly options: BlockLeaseOptions) {
    if (!Number.isSafeInteger(options.graceMs) || options.graceMs < 3) throw new TesseraError('EINVAL', `bad GC grace period ${options.graceMs}`)
    this.periodMs = Math.floor(options.graceMs / 3)
    this.logger = options.logger ?? silentLogger()
    this.now = options.now ?? Date.now
  }

  /** Blocks pending (written, not committed). */
  get size(): number {
    return this.pending.size
  }

  /** Whether a renewal is scheduled (for tests: none once nothing is pending). */
  get scheduled(): boolean {
    return this.timer !== undefined
  }

  /** Blocks just written: they are recorded within FIRST_RECORD_MS, then renewed every period. */
  add(copies: readonly BlockCopies[]): void {
    if (this.closed || copies.length === 0) return
    const now = this.now()
    for (const c of copies) {
      const id = blockIdOf(c.ref)
      const known = this.pending.get(id)
      const servers = (known === undefined ? c.servers : [...new Set([...known.copies.servers, ...c.servers])]).slice(0, MAX_BLOCK_COPIES)
      const copy = { ref: { key: c.ref.key, len: c.ref.len }, servers }
      this.pending.set(id, { copies: copy, addedAt: known?.addedAt ?? now, recordedAt: known?.recordedAt })
    }
    this.schedule(now + Math.min(FIRST_RECORD_MS, this.periodMs))
  }

  /** The pending blocks are committed (or no longer wanted): nothing more to renew. */
  clear(): void {
    this.pending.clear()
    this.cancel()
  }

  /** Stops for good (the file is closed, the put is over). */
  close(): void {
    this.closed = true
    this.clear()
  }

  /** Records every pending block now; resolves once meta applied it (rejects if it failed). */
  renew(): Promise<void> {
    return this.record(false)
  }

  /** Records the pending blocks (only those due, with `onlyDue`), one call at a time. */
  private record(onlyDue: boolean): Promise<void> {
    const run = this.chain.then(() => this.recordPending(onlyDue))
    this.chain = run.catch(() => undefined)
    return run
  }

  /**
   * Throws EIO (and logs one line) if a pending block among `refs` may have been deleted by GC:
   * its last record is older than the grace period (less a safety margin), or it was never
   * recorded and was written longer ago than its first record should have taken.
   */
  checkHeld(refs: readonly BlockId[]): void {
    const now = this.now()
    const { graceMs } = this.options
    const safety = Math.min(Math.floor(graceMs / 10), 10_000)
    const firstLease = Math.min(4 * FIRST_RECORD_MS, graceMs - safety)
    for (const ref of refs) {
      const p = this.pending.get(blockIdOf(ref))
      if (p === undefined) continue
      const heldUntil = Math.max(p.addedAt + firstLease, p.recordedAt === undefined ? 0 : p.recordedAt + graceMs - safety)
      if (now >= heldUntil) {
        throw this.lost(`block ${ref.key}/${ref.len} was last kept from garbage collection ${now - (p.recordedAt ?? p.addedAt)} ms ago`)
      }
    }
  }

  /** A commit's failure: meta's EAGAIN for a block GC retired becomes a clear EIO (one log line). */
  commitFailure(err: unknown): unknown {
    if (!hasCode(err, 'EAGAIN')) return err
    return this.lost((err as Error).message)
  }

  /** Whether `err` is this lease's verdict that written blocks were lost to GC. */
  isLoss(err: unknown): boolean {
    return typeof err === 'object' && err !== null && this.losses.has(err)
  }

  private lost(why: string): TesseraError {
    this.logger.error({ file: this.options.label, why, graceMs: this.options.graceMs },
      'written blocks were deleted by garbage collection before their commit (the writer stalled longer than the grace period); the write is lost')
    const err = new TesseraError('EIO', `${this.options.label}: written data was deleted by garbage collection before it was committed (${why}; grace period ${this.options.graceMs} ms); write it again`)
    this.losses.add(err)
    return err
  }

  private async recordPending(onlyDue: boolean): Promise<void> {
    const sentAt = this.now()
    const dueBefore = sentAt - Math.floor(this.periodMs / 2)
    const entries = [...this.pending].filter(([, p]) => !onlyDue || p.recordedAt === undefined || p.recordedAt <= dueBefore)
    if (entries.length === 0) return
    await this.options.record(entries.map(([, p]) => p.copies))
    for (const [id, p] of entries) if (this.pending.get(id) === p) p.recordedAt = sentAt
  }

  private schedule(at: number): void {
    if (this.closed || (this.timer !== undefined && this.dueAt <= at)) return
    this.cancel()
    this.dueAt = at
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_TIMER_MS, Math.max(0, at - this.now())))
    this.timer.unref()
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.dueAt = Number.POSITIVE_INFINITY
  }

  private fire(): void {
    this.timer = undefined
    this.dueAt = Number.POSITIVE_INFINITY
    if (this.pending.size === 0) return
    this.record(true).then(
      () => {
        if (this.failures > 0) this.logger.info({ file: this.options.label, failures: this.failures }, 'renewing written blocks\' lease works again')
        this.failures = 0
        // Every block is due again within a period: a wake-up every half period records it in time.
        if (this.pending.size > 0) this.schedule(this.now() + Math.floor(this.periodMs / 2))
      },
      (err: unknown) => {
        this.failures++
        if (this.failures === 1) {
          this.logger.warn({ file: this.options.label, err: (err as Error).message }, 'renewing written blocks\' lease with meta failed; retrying')
        }
        if (this.pending.size > 0) this.schedule(this.now() + Math.min(RETRY_MS, this.periodMs))
      },
    )
  }
}
