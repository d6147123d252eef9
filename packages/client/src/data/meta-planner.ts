/**
 * The data path's link to meta: MetaBlockPlanner implements BlockPlanner with the cluster map's
 * calls (placements, locations, tokens, bad copies), and records where written blocks landed
 * when that must happen ahead of their commit.
 *
 * The calls go to the leader through MetaCalls, which follows NOT_LEADER hints and retries
 * through elections until a deadline with the same code as MetaClient (MemberSet.onLeader). Every cluster-map
 * call is idempotent (a placement that is retried just places again; adding or removing a
 * location twice changes nothing more), so they need no session.
 */
import { connect } from 'node:net'
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import {
  MAX_LOCATION_BLOCKS, metaClusterCatalogue, type BlockCopies, type BlockId, type Logger,
  type MetaClusterCatalogue, type RequestOf, type ResponseOf, type TlsOptions,
} from '@tessera/protocol'
import { MemberSet } from '../member-set.js'
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

/** Calls on the meta leader, following it through elections (MemberSet.onLeader, as MetaClient). */
export class MetaCalls {
  readonly clientId: string
  private readonly members: MemberSet<MetaClusterCatalogue>
  private readonly deadlineMs: number

  constructor(options: MetaCallsOptions) {
    this.clientId = options.clientId ?? `client-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
    this.members = new MemberSet(options.addresses, {
      catalogue: metaClusterCatalogue,
      secret: options.secret,
      clientId: this.clientId,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: options.attemptTimeoutMs }),
    })
    this.deadlineMs = options.deadlineMs ?? 30_000
  }

  call<M extends Method>(method: M, request: RequestOf<MetaClusterCatalogue, M>, deadlineMs = this.deadlineMs): Promise<ResponseOf<MetaClusterCatalogue, M>> {
    return this.members.onLeader(method, deadlineMs, (client, timeoutMs) => client.call(method, request, { timeoutMs }))
  }

  close(): Promise<void> {
    return this.members.close()
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
