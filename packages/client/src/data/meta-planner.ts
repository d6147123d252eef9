/**
 * The data path's link to meta: MetaBlockPlanner implements BlockPlanner with the cluster map's
 * calls (placements, locations, tokens, bad copies), and records where written blocks landed.
 *
 * The calls go to the leader through MetaCalls, which follows NOT_LEADER hints and retries
 * through elections until a deadline, like MetaClient does for namespace calls. Every cluster-map
 * call is idempotent (a placement that is retried just places again; adding or removing a
 * location twice changes nothing more), so they need no session.
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import {
  RpcClient, TesseraError, asTesseraError, metaClusterCatalogue, silentLogger, type BlockId, type ErrorCode, type Logger,
  type MetaClusterCatalogue, type RequestOf, type ResponseOf, type TlsOptions,
} from '@tessera/protocol'
import type { BlockPlanner, Location, PlaceRequest, Placement } from './planner.js'
import type { WrittenBlock } from './block-writer.js'

export interface MetaCallsOptions {
  /** Meta members as host:port (others are learned from NOT_LEADER hints). */
  addresses: readonly string[]
  secret: Uint8Array
  /** Default client-<host>-<pid>-<random>. */
  clientId?: string
  /** Overall deadline of one call, retries included (default 30 s). */
  deadlineMs?: number
  /** Longest wait for one attempt on one member (default 5 s). */
  attemptTimeoutMs?: number
  logger?: Logger
  tls?: TlsOptions
}

type Method = keyof MetaClusterCatalogue['methods'] & string

const RETRYABLE: readonly ErrorCode[] = ['NOT_LEADER', 'UNAVAILABLE', 'ETIMEDOUT']

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Calls on the meta leader, following it through elections. */
export class MetaCalls {
  readonly clientId: string
  private readonly known: string[] = []
  private readonly clients = new Map<string, RpcClient<MetaClusterCatalogue>>()
  private readonly logger: Logger
  private readonly deadlineMs: number
  private readonly attemptTimeoutMs: number
  private leader: string | undefined
  private cursor = 0
  private closed = false

  constructor(private readonly options: MetaCallsOptions) {
    if (options.addresses.length === 0) throw new TesseraError('EINVAL', 'no meta address given')
    for (const address of options.addresses) this.learn(address)
    this.clientId = options.clientId ?? `client-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
    this.logger = options.logger ?? silentLogger()
    this.deadlineMs = options.deadlineMs ?? 30_000
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 5000
  }

  async call<M extends Method>(method: M, request: RequestOf<MetaClusterCatalogue, M>, deadlineMs = this.deadlineMs): Promise<ResponseOf<MetaClusterCatalogue, M>> {
    const deadline = Date.now() + deadlineMs
    let lastError: TesseraError | undefined
    let backoffMs = 10
    for (;;) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw lastError ?? new TesseraError('ETIMEDOUT', `${method}: no answer within ${deadlineMs} ms`)
      const address = this.leader ?? this.known[this.cursor % this.known.length]!
      try {
        const client = this.client(address)
        if (!client.connected) await client.ready(Math.min(remaining, 1000))
        const answer = await client.call(method, request, { timeoutMs: Math.min(remaining, this.attemptTimeoutMs) })
        this.leader = address
        return answer
      } catch (err) {
        const error = asTesseraError(err)
        lastError = error
        if (!RETRYABLE.includes(error.code) || this.closed) throw error
        const hint = error.code === 'NOT_LEADER' ? error.details?.leaderHint : undefined
        if (hint !== undefined && hint !== address) {
          this.learn(hint)
          this.leader = hint
        } else {
          if (this.leader === address) this.leader = undefined
          if (this.known[this.cursor % this.known.length] === address) this.cursor++
        }
        this.logger.debug({ method, address, code: error.code }, 'meta cluster call: retrying')
        await sleep(Math.min(backoffMs, Math.max(0, deadline - Date.now())))
        backoffMs = Math.min(backoffMs * 2, 200)
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.clients.values()].map((c) => c.close().catch(() => undefined)))
    this.clients.clear()
  }

  private learn(address: string): void {
    if (!this.known.includes(address)) this.known.push(address)
  }

  private client(address: string): RpcClient<MetaClusterCatalogue> {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'meta calls closed')
    let client = this.clients.get(address)
    if (client === undefined) {
      client = new RpcClient({
        url: `${this.options.tls === undefined ? 'ws' : 'wss'}://${address}`,
        catalogue: metaClusterCatalogue,
        secret: this.options.secret,
        clientId: this.clientId,
        logger: this.logger,
        reconnectInitialDelayMs: 20,
        reconnectMaxDelayMs: 500,
        ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      })
      this.clients.set(address, client)
    }
    return client
  }
}

/** Where blocks go and come from, as meta says. */
export class MetaBlockPlanner implements BlockPlanner {
  constructor(readonly calls: MetaCalls) {}

  placeBlock(request: PlaceRequest): Promise<Placement> {
    return this.calls.call('meta.placeBlock', {
      key: request.key, length: request.length, ...(request.exclude === undefined ? {} : { exclude: request.exclude.slice(0, 16) }),
    })
  }

  locateBlock(ref: BlockId): Promise<Location> {
    return this.calls.call('meta.locateBlock', { ref: { key: ref.key, len: ref.len } })
  }

  async reportBadCopy(ref: BlockId, server: string): Promise<void> {
    await this.calls.call('meta.reportBadCopy', { ref: { key: ref.key, len: ref.len }, server })
  }

  /**
   * Tells meta which servers hold durable copies of blocks just written (before the file that
   * names them is committed); blocks with fewer copies than the replication are recorded as
   * under-replicated for repair. Resolves to how many of them are.
   */
  async blocksWritten(blocks: readonly WrittenBlock[]): Promise<number> {
    let under = 0
    for (let at = 0; at < blocks.length; at += BATCH) {
      const batch = blocks.slice(at, at + BATCH).map((b) => ({ ref: { key: b.ref.key, len: b.ref.len }, servers: b.copies.slice(0, 16) }))
      under += (await this.calls.call('meta.blocksWritten', { blocks: batch })).underReplicated
    }
    return under
  }
}

/** Blocks per meta.blocksWritten call (the protocol allows 4096). */
const BATCH = 1024
