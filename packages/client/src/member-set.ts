/**
 * The meta members a client knows, one RpcClient each (dialled lazily, kept for reuse), the
 * client's best guess of the leader (the last NOT_LEADER hint or the member that last answered
 * a leader-only call; without one, the members are tried in turn), and `onLeader`, which runs
 * a call there and follows the leader through elections. MetaClient (namespace calls) and
 * MetaCalls (the data path's cluster-map calls) both call through it.
 */
import {
  RpcClient, TesseraError, asTesseraError, silentLogger, type Catalogue, type ErrorCode, type Logger, type TlsOptions,
} from '@tessera/protocol'

export interface MemberSetOptions<C extends Catalogue> {
  catalogue: C
  secret: Uint8Array
  clientId: string
  logger?: Logger
  tls?: TlsOptions
  /** Longest wait for one attempt on one member (default 5 s). */
  attemptTimeoutMs?: number
}

/** One try of a call on one member, within `timeoutMs`. */
export type Attempt<C extends Catalogue, T> = (client: RpcClient<C>, timeoutMs: number) => Promise<T>

export interface LeaderCallOptions {
  /**
   * Handles a failure that is not retried as such (for example by renewing a session); resolves
   * true to try again, false to throw the error.
   */
  recover?: (err: TesseraError) => Promise<boolean>
  /** Only the leader answers this call, so an answer tells who leads (default true). */
  leaderOnly?: boolean
}

/** Failures that another member, or the same one a moment later, may not repeat. */
const RETRYABLE: readonly ErrorCode[] = ['NOT_LEADER', 'UNAVAILABLE', 'ETIMEDOUT']
/** Time to wait for a connection to a member before trying the next one. */
const CONNECT_WAIT_MS = 1000
const FIRST_BACKOFF_MS = 10
const MAX_BACKOFF_MS = 200

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class MemberSet<C extends Catalogue> {
  private readonly known: string[] = []
  private readonly clients = new Map<string, RpcClient<C>>()
  private readonly logger: Logger
  private readonly attemptTimeoutMs: number
  private leader: string | undefined
  private cursor = 0
  private closed = false

  constructor(addresses: readonly string[], private readonly options: MemberSetOptions<C>) {
    if (addresses.length === 0) throw new TesseraError('EINVAL', 'no meta address given')
    for (const address of addresses) this.add(address)
    this.logger = options.logger ?? silentLogger()
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 5000
  }

  addresses(): string[] {
    return [...this.known]
  }

  /** The member to try next: the presumed leader, else the next in turn. */
  current(): string {
    return this.leader ?? this.known[this.cursor % this.known.length]!
  }

  /** A member answered as leader, or a NOT_LEADER hint named one. */
  noteLeader(address: string): void {
    this.add(address)
    this.leader = address
  }

  /** `address` failed or is not the leader: move on to the next member. */
  noteFailure(address: string): void {
    if (this.leader === address) this.leader = undefined
    if (this.known[this.cursor % this.known.length] === address) this.cursor++
  }

  add(address: string): void {
    if (!this.known.includes(address)) this.known.push(address)
  }

  /** The connection to `address` (created on first use; it reconnects by itself). */
  client(address: string): RpcClient<C> {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'meta client closed')
    let client = this.clients.get(address)
    if (client === undefined) {
      client = new RpcClient({
        url: /^wss?:\/\//.test(address) ? address : `${this.options.tls === undefined ? 'ws' : 'wss'}://${address}`,
        catalogue: this.options.catalogue,
        secret: this.options.secret,
        clientId: this.options.clientId,
        logger: this.logger,
        reconnectInitialDelayMs: 20,
        reconnectMaxDelayMs: 500,
        ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      })
      this.clients.set(address, client)
    }
    return client
  }

  /**
   * Runs `attempt` against the presumed leader (any member, for a call that is not leader-only)
   * until it succeeds, fails with an error that is not retryable (and that `recover` does not
   * handle), the set is closed, or `deadlineMs` passes (then: the last error). A NOT_LEADER hint
   * is followed at once; a second one in a row, and every other failure, waits a growing
   * back-off first.
   */
  async onLeader<T>(what: string, deadlineMs: number, attempt: Attempt<C, T>, options: LeaderCallOptions = {}): Promise<T> {
    const leaderOnly = options.leaderOnly ?? true
    const deadline = Date.now() + deadlineMs
    let lastError: TesseraError | undefined
    let backoffMs = FIRST_BACKOFF_MS
    let followedHint = false
    for (;;) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) {
        throw lastError ?? new TesseraError('ETIMEDOUT', `${what}: no answer within ${deadlineMs} ms`)
      }
      const address = this.current()
      try {
        const client = this.client(address)
        if (!client.connected) await client.ready(Math.min(remaining, CONNECT_WAIT_MS))
        const result = await attempt(client, Math.min(remaining, this.attemptTimeoutMs))
        if (leaderOnly) this.noteLeader(address)
        return result
      } catch (err) {
        const error = asTesseraError(err)
        lastError = error
        if (this.closed) throw error
        if (!RETRYABLE.includes(error.code)) {
          if (options.recover !== undefined && (await options.recover(error))) continue
          throw error
        }
        const hint = error.code === 'NOT_LEADER' ? error.details?.leaderHint : undefined
        if (hint !== undefined && hint !== address && !followedHint) {
          followedHint = true
          this.noteLeader(hint)
          continue
        }
        followedHint = false
        if (hint !== undefined && hint !== address) this.noteLeader(hint)
        else this.noteFailure(address)
        this.logger.debug({ what, address, code: error.code }, 'meta call: retrying')
        await sleep(Math.min(backoffMs, Math.max(0, deadline - Date.now())))
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS)
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.clients.values()].map((c) => c.close().catch(() => undefined)))
    this.clients.clear()
  }
}
