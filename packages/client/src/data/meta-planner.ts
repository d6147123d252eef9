/**
 * The data path's link to meta: MetaBlockPlanner implements BlockPlanner with the cluster map's
 * calls (placements, locations, tokens, bad copies), and records where written blocks landed
 * when that must happen ahead of their commit.
 *
 * The calls go to the leader through MetaCalls, which follows NOT_LEADER hints and retries
 * through elections until a deadline, like MetaClient does for namespace calls. Every cluster-map
 * call is idempotent (a placement that is retried just places again; adding or removing a
 * location twice changes nothing more), so they need no session.
 */
import { connect } from 'node:net'
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import {
  MAX_LOCATION_BLOCKS, RpcClient, TesseraError, asTesseraError, metaClusterCatalogue, silentLogger, type BlockCopies, type BlockId,
  type ErrorCode, type Logger,
  type MetaClusterCatalogue, type RequestOf, type ResponseOf, type TlsOptions,
} from '@tessera/protocol'
import type { BlockPlanner, Location, PlaceRequest, Placement } from './planner.js'

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

/** How long a probe's verdict on a chunk server is reused: unreachable ones stay out longer. */
const REACHABLE_TTL_MS = 2000
const UNREACHABLE_TTL_MS = 15_000
/** A TCP connect to a live host answers in microseconds (accepted or refused); a dead host never. */
const PROBE_TIMEOUT_MS = 1000

/** Where blocks go and come from, as meta says. */
export class MetaBlockPlanner implements BlockPlanner {
  private readonly probes = new Map<string, { at: number; reachable: Promise<boolean> }>()
  private readonly unreachable = new Map<string, number>()

  /**
   * With `probeServers`, chunk servers are checked with a TCP connect (cached for a moment)
   * before they are used, because meta notices a dead server only after its heartbeat timeout:
   * - a placement naming an unreachable server is asked again without it;
   * - servers a failed write excludes are probed: when a hop of a chain dies, the servers after
   *   it fail too without being at fault, so only the unreachable ones are kept out, of the next
   *   placement and of every placement for a while after;
   * - a block's unreachable copies are tried last.
   */
  constructor(readonly calls: MetaCalls, private readonly probeServers = false) {}

  async placeBlock(request: PlaceRequest): Promise<Placement> {
    const exclude = await this.refineExclusions(request.exclude ?? [])
    for (let round = 0; ; round++) {
      const now = Date.now()
      for (const [address, until] of this.unreachable) {
        if (until <= now) this.unreachable.delete(address)
        else if (!exclude.includes(address)) exclude.push(address)
      }
      const placement = await this.calls.call('meta.placeBlock', {
        key: request.key, length: request.length, ...(exclude.length === 0 ? {} : { exclude: exclude.slice(0, 16) }),
      })
      if (!this.probeServers || round > 0) return placement
      // A server that died a moment ago is still live for meta until its heartbeats are overdue.
      const reachable = await Promise.all(placement.servers.map((address) => this.probe(address)))
      if (reachable.every(Boolean)) return placement
    }
  }

  /** Live servers first: those that do not accept connections go to the end. */
  async locateBlock(ref: BlockId): Promise<Location> {
    const location = await this.calls.call('meta.locateBlock', { ref: { key: ref.key, len: ref.len } })
    if (!this.probeServers || location.servers.length < 2) return location
    const reachable = await Promise.all(location.servers.map((address) => this.probe(address)))
    return { ...location, servers: [...location.servers.filter((_, i) => reachable[i]), ...location.servers.filter((_, i) => !reachable[i])] }
  }

  /** The unreachable servers among `excluded`, or all of them when every one answers. */
  private async refineExclusions(excluded: readonly string[]): Promise<string[]> {
    if (!this.probeServers || excluded.length === 0) return [...excluded]
    const reachable = await Promise.all(excluded.map((address) => this.probe(address)))
    const unreachable = excluded.filter((_, i) => !reachable[i])
    return unreachable.length > 0 ? unreachable : [...excluded]
  }

  private probe(address: string): Promise<boolean> {
    const now = Date.now()
    const cached = this.probes.get(address)
    if (cached !== undefined && now - cached.at < REACHABLE_TTL_MS) return cached.reachable
    const reachable = tcpReachable(address, PROBE_TIMEOUT_MS).then((ok) => {
      if (!ok) this.unreachable.set(address, Date.now() + UNREACHABLE_TTL_MS)
      return ok
    })
    this.probes.set(address, { at: now, reachable })
    return reachable
  }

  async reportBadCopy(ref: BlockId, server: string): Promise<void> {
    await this.calls.call('meta.reportBadCopy', { ref: { key: ref.key, len: ref.len }, server })
  }

  /**
   * Tells meta which servers hold durable copies of blocks just written, ahead of the commit
   * that names them (which usually carries them itself: see storeBlockStream); blocks with
   * fewer copies than the replication are recorded as under-replicated for repair. Resolves to
   * how many of them are.
   */
  async blocksWritten(blocks: readonly BlockCopies[]): Promise<number> {
    let under = 0
    for (let at = 0; at < blocks.length; at += MAX_LOCATION_BLOCKS) {
      under += (await this.calls.call('meta.blocksWritten', { blocks: blocks.slice(at, at + MAX_LOCATION_BLOCKS) })).underReplicated
    }
    return under
  }
}

/** Whether a TCP connection to host:port is accepted within `timeoutMs`. */
function tcpReachable(address: string, timeoutMs: number): Promise<boolean> {
  const colon = address.lastIndexOf(':')
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '')
  const port = Number(address.slice(colon + 1))
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}
