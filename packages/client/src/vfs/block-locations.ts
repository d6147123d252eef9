/**
 * The data path's planner for a mount: the cluster's planner, counted (CallStats), with a cache
 * of block locations so that a read of a block read lately costs one chunk round trip and no
 * meta call (random 4 KiB reads of a big file otherwise ask meta for every read).
 *
 * A location is reused while it is young (`maxAgeMs`, so a repair's new copies are seen soon) and
 * while its read token has more than `tokenMarginMs` left (read from the token itself, whose MAC
 * this client can check with the cluster secret). A copy reported bad drops the block's entry;
 * a reader that failed with a cached location drops it and asks meta again (ClusterDataPath).
 * Meta's planner puts servers that do not accept connections last, when it answers; a cached
 * answer gets the same treatment from `unreachable` (servers this client failed to connect to
 * lately), so a dead server is not tried first for as long as its blocks' locations are cached.
 */
import { readBlockToken, type BlockId } from '@tessera/protocol'
import type { BlockPlanner, Location, PlaceRequest, Placement } from '../data/planner.js'
import type { CallStats } from './call-stats.js'

/** Servers this client could not connect to lately (each for `forMs` after the failure). */
export class UnreachableServers {
  private readonly until = new Map<string, number>()

  constructor(private readonly forMs = 15_000, private readonly now: () => number = Date.now) {}

  note(address: string): void {
    this.until.set(address, this.now() + this.forMs)
  }

  has(address: string): boolean {
    const until = this.until.get(address)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.until.delete(address)
    return false
  }
}

export interface LocationCacheOptions {
  /** The cluster secret (to read a token's expiry). */
  secret: Uint8Array
  /** Longest time a location is reused (default 30 s; 0 disables the cache). */
  maxAgeMs?: number
  /** A token with less time than this left is not reused (default 30 s). */
  tokenMarginMs?: number
  /** Bound on cached locations (default 8192). */
  maxEntries?: number
  /** Servers to try last in a cached location. */
  unreachable?: UnreachableServers
  now?: () => number
}

interface Cached {
  location: Location
  /** Reusable until then (ms). */
  until: number
}

function idOf(ref: BlockId): string {
  return `${ref.key}/${ref.len}`
}

export class CachingPlanner implements BlockPlanner {
  private readonly cache = new Map<string, Cached>()
  private readonly maxAgeMs: number
  private readonly tokenMarginMs: number
  private readonly maxEntries: number
  private readonly now: () => number

  constructor(private readonly inner: BlockPlanner, private readonly stats: CallStats, private readonly options: LocationCacheOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 30_000
    this.tokenMarginMs = options.tokenMarginMs ?? 30_000
    this.maxEntries = options.maxEntries ?? 8192
    this.now = options.now ?? Date.now
  }

  placeBlock(request: PlaceRequest): Promise<Placement> {
    this.stats.add('cluster.placeBlock')
    return this.inner.placeBlock(request)
  }

  async locateBlock(ref: BlockId): Promise<Location> {
    const id = idOf(ref)
    const hit = this.cache.get(id)
    if (hit !== undefined) {
      if (hit.until > this.now()) {
        this.stats.add('cluster.locateBlock.cached')
        return this.liveFirst(hit.location)
      }
      this.cache.delete(id)
    }
    this.stats.add('cluster.locateBlock')
    const location = await this.inner.locateBlock(ref)
    this.remember(id, location)
    return location
  }

  async reportBadCopy(ref: BlockId, server: string): Promise<void> {
    this.forget(ref)
    this.stats.add('cluster.reportBadCopy')
    await this.inner.reportBadCopy(ref, server)
  }

  /** Drops a block's cached location (a read with it failed). */
  forget(ref: BlockId): void {
    this.cache.delete(idOf(ref))
  }

  private liveFirst(location: Location): Location {
    const unreachable = this.options.unreachable
    if (unreachable === undefined || !location.servers.some((s) => unreachable.has(s))) return location
    const servers = [...location.servers.filter((s) => !unreachable.has(s)), ...location.servers.filter((s) => unreachable.has(s))]
    return { ...location, servers }
  }

  private remember(id: string, location: Location): void {
    if (this.maxAgeMs <= 0 || location.servers.length === 0) return
    let expiresAt: number
    try {
      expiresAt = readBlockToken(this.options.secret, location.token).expiresAtMs
    } catch {
      return // not a token this client can read: never reuse it
    }
    const now = this.now()
    const until = Math.min(now + this.maxAgeMs, expiresAt - this.tokenMarginMs)
    if (until <= now) return
    this.cache.delete(id)
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(id, { location, until })
  }
}
