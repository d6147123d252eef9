/**
 * A pool of meta sessions. The state machine allows one request in flight per session (its
 * exactly-once memory holds one reply), so N sessions let N calls run at once; a caller holds
 * a session for the whole life of one request, retries included.
 *
 * Sessions are opened on demand, refreshed while idle (a session that carries requests is kept
 * alive by them), and dropped when the leader says SESSION_EXPIRED (a new one is opened on the
 * next demand).
 */
import { TesseraError, hasCode, silentLogger, type Logger } from '@tessera/protocol'

export interface Session {
  id: string
  /** The seq of the last request sent in this session. */
  seq: number
  lastUsedMs: number
}

export interface SessionOps {
  open(): Promise<{ session: string; timeoutMs: number }>
  keepAlive(id: string): Promise<void>
  close(id: string): Promise<void>
}

interface Waiter {
  resolve: (session: Session) => void
  reject: (err: TesseraError) => void
}

export class SessionPool {
  private readonly idle: Session[] = []
  private readonly waiters: Waiter[] = []
  private readonly logger: Logger
  /** Sessions open or being opened, idle or lent out. */
  private count = 0
  private timeoutMs = 0
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly size: number, private readonly ops: SessionOps, logger?: Logger) {
    if (!Number.isInteger(size) || size < 1) throw new TesseraError('EINVAL', `session pool size ${size} must be a positive integer`)
    this.logger = logger ?? silentLogger()
  }

  /** A session for one request; give it back with release(). */
  async acquire(): Promise<Session> {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'meta client closed')
    const session = this.idle.pop()
    if (session !== undefined) return session
    if (this.count < this.size) {
      this.count++
      try {
        return await this.openSession()
      } catch (err) {
        this.count--
        this.wakeOne()
        throw err
      }
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  release(session: Session): void {
    session.lastUsedMs = Date.now()
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter.resolve(session)
    else this.idle.push(session)
  }

  /** The session expired on the leader: give the holder a fresh one in its place. */
  async renew(session: Session): Promise<void> {
    const fresh = await this.openSession()
    this.logger.info({ old: session.id, session: fresh.id }, 'meta session expired; opened a new one')
    session.id = fresh.id
    session.seq = 0
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const waiter of this.waiters.splice(0)) waiter.reject(new TesseraError('UNAVAILABLE', 'meta client closed'))
    const sessions = this.idle.splice(0)
    await Promise.all(sessions.map((s) => this.ops.close(s.id).catch(() => undefined)))
  }

  private async openSession(): Promise<Session> {
    const { session, timeoutMs } = await this.ops.open()
    this.startKeepAlive(timeoutMs)
    return { id: session, seq: 0, lastUsedMs: Date.now() }
  }

  /** A waiter whose turn to open a session failed with someone else's call gets the free slot. */
  private wakeOne(): void {
    const waiter = this.waiters.shift()
    if (waiter === undefined) return
    this.acquire().then(waiter.resolve, waiter.reject)
  }

  private startKeepAlive(timeoutMs: number): void {
    if (this.timer !== undefined && timeoutMs === this.timeoutMs) return
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timeoutMs = timeoutMs
    const every = Math.max(100, Math.floor(timeoutMs / 3))
    this.timer = setInterval(() => void this.refreshIdle(every), every)
    this.timer.unref()
  }

  private async refreshIdle(idleForMs: number): Promise<void> {
    const now = Date.now()
    for (const session of [...this.idle]) {
      if (now - session.lastUsedMs < idleForMs || this.closed) continue
      try {
        await this.ops.keepAlive(session.id)
        session.lastUsedMs = Date.now()
      } catch (err) {
        if (!hasCode(err, 'SESSION_EXPIRED')) continue // try again next round
        const at = this.idle.indexOf(session)
        if (at >= 0) {
          this.idle.splice(at, 1)
          this.count--
        }
      }
    }
  }
}
