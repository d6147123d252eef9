/**
 * A held cluster-wide advisory lock. Each lock runs in a session of its own, opened for it
 * and kept alive by this handle, so the lock is a lease: if this process dies, its session
 * stops being refreshed, expires on the leader, and the lock passes to the next waiter.
 *
 * Waiting: meta.lock is repeated with the same (session, seq) until the server answers
 * granted; every repeat is held open on the server for a while, so waiting costs one call
 * per few seconds, not a busy poll. Release unlocks, then closes the session.
 */
import {
  TesseraError, asTesseraError, hasCode, silentLogger, type Ino, type LockMode, type Logger, type MetaCatalogue,
  type RpcClient,
} from '@tessera/protocol'

/** Runs one call on the leader with the client's fail-over and retry rules. */
export type LeaderCall = <T>(
  what: string,
  deadlineMs: number,
  attempt: (client: RpcClient<MetaCatalogue>, timeoutMs: number) => Promise<T>,
) => Promise<T>

export interface LockOptions {
  /** Wait for a busy lock (default true); false fails at once with EAGAIN. */
  wait?: boolean
  /** Give up waiting after this long with ETIMEDOUT (default: wait as long as it takes). */
  timeoutMs?: number
}

/** Time left for the server to answer after a held-open wait ends. */
const ANSWER_MARGIN_MS = 1000

export class LockHandle {
  private seq = 0
  private timer: NodeJS.Timeout | undefined
  private released = false
  private lostError: TesseraError | undefined
  private readonly lostListeners: ((err: TesseraError) => void)[] = []
  /** Set once granted: the lock's id (the Raft index of its request). */
  lockId = 0

  private constructor(
    private readonly call: LeaderCall,
    readonly session: string,
    readonly ino: Ino,
    readonly mode: LockMode,
    private readonly deadlineMs: number,
    private readonly logger: Logger,
    private readonly onDone: (handle: LockHandle) => void,
  ) {}

  /** Opens a session for the lock and waits until it is granted (or fails, leaving nothing behind). */
  static async acquire(
    call: LeaderCall,
    ino: Ino,
    mode: LockMode,
    options: LockOptions & { deadlineMs: number; logger?: Logger; onDone?: (handle: LockHandle) => void },
  ): Promise<LockHandle> {
    const opened = await call('meta.openSession', options.deadlineMs, (c, t) => c.call('meta.openSession', {}, { timeoutMs: t }))
    const handle = new LockHandle(call, opened.session, ino, mode, options.deadlineMs, options.logger ?? silentLogger(), options.onDone ?? (() => undefined))
    handle.keepAlive(opened.timeoutMs)
    try {
      await handle.waitForGrant(options.wait ?? true, options.timeoutMs)
    } catch (err) {
      await handle.end()
      throw err
    }
    return handle
  }

  /** True once the session was found expired: the lock may be held by someone else now. */
  get lost(): boolean {
    return this.lostError !== undefined
  }

  /** Called once if the lock's session expires while the lock is held. */
  onLost(listener: (err: TesseraError) => void): void {
    this.lostListeners.push(listener)
  }

  /** Unlocks and ends the lock's session. Idempotent; ENOLCK if the lock had been lost. */
  async release(): Promise<void> {
    if (this.released) return
    const lost = this.lostError
    try {
      if (lost === undefined) {
        const seq = ++this.seq
        await this.call('meta.unlock', this.deadlineMs, (c, t) => c.call('meta.unlock', { session: this.session, seq, ino: this.ino }, { timeoutMs: t }))
      }
    } finally {
      await this.end()
    }
    if (lost !== undefined) throw new TesseraError('ENOLCK', `lock on inode ${this.ino} was lost: ${lost.message}`)
  }

  private async waitForGrant(wait: boolean, timeoutMs: number | undefined): Promise<void> {
    const seq = ++this.seq
    const waitUntil = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs
    for (;;) {
      if (this.lostError !== undefined) throw this.lostError
      const reply = await this.call('meta.lock', this.deadlineMs, (c, t) => {
        const holdMs = Math.max(0, Math.min(t - ANSWER_MARGIN_MS, waitUntil - Date.now()))
        return c.call('meta.lock', { session: this.session, seq, ino: this.ino, mode: this.mode, wait, holdMs: Math.floor(holdMs) }, { timeoutMs: t })
      })
      this.lockId = reply.lockId
      if (reply.granted) return
      if (Date.now() >= waitUntil) throw new TesseraError('ETIMEDOUT', `lock on inode ${this.ino} not granted within ${timeoutMs} ms`)
    }
  }

  private keepAlive(sessionTimeoutMs: number): void {
    const every = Math.max(50, Math.floor(sessionTimeoutMs / 3))
    this.timer = setInterval(() => {
      this.call('meta.keepAlive', every, (c, t) => c.call('meta.keepAlive', { session: this.session }, { timeoutMs: t })).catch((err: unknown) => {
        if (!hasCode(err, 'SESSION_EXPIRED') || this.released || this.lostError !== undefined) return
        this.lostError = asTesseraError(err)
        clearInterval(this.timer)
        this.logger.warn({ ino: this.ino, session: this.session }, 'lock lost: its session expired')
        for (const listener of this.lostListeners) listener(this.lostError)
      })
    }, every)
    this.timer.unref()
  }

  /** Stops the keep-alive and closes the session (which drops any lock it still has). */
  private async end(): Promise<void> {
    if (this.released) return
    this.released = true
    clearInterval(this.timer)
    this.onDone(this)
    try {
      await this.call('meta.closeSession', Math.min(this.deadlineMs, 5000), (c, t) => c.call('meta.closeSession', { session: this.session }, { timeoutMs: t }))
    } catch (err) {
      this.logger.debug({ err: asTesseraError(err).message, session: this.session }, 'lock: closing its session failed; it will expire')
    }
  }
}
