/**
 * The cluster map, part of the replicated state (DESIGN decision 7): the chunk servers and
 * which of them hold each block. Liveness (heartbeat times, live figures) stays in the
 * leader's memory; only state changes come through the log.
 *
 * Tables (copy-on-write trees, values immutable once stored, like the namespace's):
 * - chunkServers: server number -> ChunkServerRecord. Numbers are small integers given in
 *   registration order (1, 2, ...) and never reused; the string id appears once, here.
 * - locations: block id (the refs table's key) -> sorted server numbers holding a durable copy.
 * - underReplicated: block id -> copies known, for every located block with fewer copies than
 *   the replication, and for a referenced block whose last known copy went (0): what repair
 *   works through, fewest copies first.
 *
 * A server that goes down loses its locations (its copies cannot be read); when it comes back
 * it registers again and its block report puts them back.
 *
 * A copy of a block no file references that a chunk server reports (written by a client that
 * died before its commit) is an orphan: meta records when it first saw it in the unreferenced
 * table, and GC deletes it after the grace period (gc.ts). Copies a writer records ahead of its
 * commit (addBlockLocations, from meta.blocksWritten) are its lease: such a block stays in the
 * unreferenced table, counted from that command's time, so GC keeps it one more grace period.
 * A live writer records its pending blocks again well within the grace period (a renewal); a
 * writer that died stops, and its blocks go one grace period later (no leak). The commit that
 * names a block takes it out of the table (tx.ts). A copy with a pending delete order never
 * counts as a location.
 */
import { holdersOf, packHolders, unpackHolders } from './holders.js'
import { confirmDeletes, dropOrdersOf, isDoomedCopy, type GcTables } from './gc.js'
import type { Tables } from './tables.js'

export type ChunkState = 'up' | 'down' | 'draining'

export interface ChunkServerRecord {
  readonly num: number
  readonly id: string
  readonly address: string
  readonly zone: string
  readonly capacityBytes: number
  readonly usedBytes: number
  readonly state: ChunkState
}

export interface RegisterChunkRequest {
  op: 'registerChunk'
  id: string
  address: string
  zone: string
  capacityBytes: number
  usedBytes: number
  /** Block ids of the first report batch: replaces what the map held for this server. */
  blocks?: string[]
}
export interface ChunkStateChangeRequest { op: 'chunkStateChange'; id: string; state: ChunkState }
export interface AddBlockLocationsRequest { op: 'addBlockLocations'; blocks: { block: string; servers: string[] }[] }
/** The server no longer holds these blocks (deleted on order, or found corrupt). */
export interface RemoveBlockLocationRequest { op: 'removeBlockLocation'; server: string; blocks: string[] }
export interface BlockReportRequest { op: 'blockReport'; id: string; blocks: string[]; replace: boolean }

export type ClusterRequest =
  | RegisterChunkRequest | ChunkStateChangeRequest | AddBlockLocationsRequest | RemoveBlockLocationRequest
  | BlockReportRequest

export interface ClusterReplies {
  registerChunk: { num: number }
  chunkStateChange: { changed: boolean }
  addBlockLocations: { underReplicated: number }
  /** removed: locations dropped; confirmed: delete orders this completed. */
  removeBlockLocation: { removed: number; confirmed: number }
  blockReport: { blocks: number }
}

export const CLUSTER_OPS: ReadonlySet<string> = new Set<ClusterRequest['op']>([
  'registerChunk', 'chunkStateChange', 'addBlockLocations', 'removeBlockLocation', 'blockReport',
])

/** The cluster map's view of the tables (what its operations read and change). */
export type ClusterTables = GcTables & Pick<Tables, 'chunkServers'>

export function serverById(t: ClusterTables, id: string): ChunkServerRecord | undefined {
  for (const [, server] of t.chunkServers.entries()) if (server.id === id) return server
  return undefined
}

/**
 * `block` as the very string the refs table (and so the file's inode) holds, when it is there:
 * one string per block in the leader's heap instead of two.
 */
function sharedKey(t: ClusterTables, block: string): string {
  const pair = t.refs.getPairOrNextHigher(block)
  return pair !== undefined && pair[0] === block ? pair[0] : block
}

/** Stores a block's copies and keeps the under-replicated table in step. */
function setLocations(t: ClusterTables, block: string, nums: readonly number[], replication: number): void {
  if (nums.length === 0) {
    t.locations.delete(block)
    if (t.refs.has(block)) t.underReplicated.set(block, 0)
    else t.underReplicated.delete(block)
    return
  }
  t.locations.set(sharedKey(t, block), packHolders(nums))
  if (nums.length < replication) t.underReplicated.set(block, nums.length)
  else t.underReplicated.delete(block)
}

function withNum(nums: readonly number[] | undefined, num: number): readonly number[] {
  if (nums === undefined) return [num]
  if (nums.includes(num)) return nums
  return [...nums, num].sort((a, b) => a - b)
}

/**
 * Who tells meta of a copy: a chunk server's block report, or the block's writer (ahead of or
 * with its commit).
 */
export type CopySource = 'report' | 'writer'

/**
 * Counts server `num`'s copy of `block` (unless it is to be deleted), at command time `nowMs`.
 * A block without references is unreferenced: a reported one since meta first saw it (an
 * orphan; a later report does not move that time), a written one since `nowMs` (the writer's
 * lease, renewed by every record). Returns whether the copy counts.
 */
function addLocation(t: ClusterTables, block: string, num: number, replication: number, source: CopySource, nowMs: number): boolean {
  if (isDoomedCopy(t, num, block)) return false
  const before = holdersOf(t.locations, block)
  const after = withNum(before, num)
  if (after !== before) setLocations(t, block, after, replication)
  if (!t.refs.has(block) && (source === 'writer' || !t.unreferenced.has(block))) t.unreferenced.set(block, nowMs)
  return true
}

function removeLocation(t: ClusterTables, block: string, num: number, replication: number): boolean {
  const before = holdersOf(t.locations, block)
  if (before === undefined || !before.includes(num)) return false
  setLocations(t, block, before.filter((n) => n !== num), replication)
  return true
}

/**
 * Drops every location on server `num` (a scan of the locations: rare, on down or a new report),
 * and its delete orders: what it holds is what its next report says.
 */
function forgetServerCopies(t: ClusterTables, num: number, replication: number): void {
  dropOrdersOf(t, num)
  const held: string[] = []
  for (const [block, holders] of t.locations.entries()) if (unpackHolders(holders).includes(num)) held.push(block)
  for (const block of held) removeLocation(t, block, num, replication)
}

/** Numbers of the servers that can hold readable copies (every one not down), by address. */
export function liveServersByAddress(t: ClusterTables): Map<string, number> {
  const out = new Map<string, number>()
  for (const [num, server] of t.chunkServers.entries()) if (server.state !== 'down') out.set(server.address, num)
  return out
}

/**
 * Adds the servers `nums` to each block's copies, as their writer's record at command time
 * `nowMs` (an unreferenced one is kept from then: see addLocation); a block left with no copy
 * while referenced is recorded as under-replicated with 0. Resolves to how many of the blocks
 * are under-replicated.
 */
export function addCopies(
  t: ClusterTables, copies: readonly { block: string; nums: readonly number[] }[], replication: number, nowMs: number,
): number {
  let under = 0
  for (const { block, nums } of copies) {
    for (const num of nums) addLocation(t, block, num, replication, 'writer', nowMs)
    if (!t.locations.has(block) && t.refs.has(block)) t.underReplicated.set(block, 0)
    if (t.underReplicated.has(block)) under++
  }
  return under
}

/** Applies a cluster-map command; `nowMs` is its time (ms). */
export function applyCluster(
  t: ClusterTables, req: ClusterRequest, replication: number, nowMs: number,
): ClusterReplies[ClusterRequest['op']] {
  switch (req.op) {
    case 'registerChunk': {
      // A new server taking over an address (e.g. a rebuilt machine) retires the old record.
      for (const [, other] of t.chunkServers.entries()) {
        if (other.address === req.address && other.id !== req.id && other.state !== 'down') {
          t.chunkServers.set(other.num, { ...other, state: 'down' })
          forgetServerCopies(t, other.num, replication)
        }
      }
      const existing = serverById(t, req.id)
      const num = existing?.num ?? t.chunkServers.size + 1
      t.chunkServers.set(num, {
        num, id: req.id, address: req.address, zone: req.zone, capacityBytes: req.capacityBytes,
        usedBytes: req.usedBytes, state: existing?.state === 'draining' ? 'draining' : 'up',
      })
      if (req.blocks !== undefined) {
        if (existing !== undefined) forgetServerCopies(t, num, replication)
        for (const block of req.blocks) addLocation(t, block, num, replication, 'report', nowMs)
      }
      return { num }
    }
    case 'chunkStateChange': {
      const server = serverById(t, req.id)
      if (server === undefined || server.state === req.state) return { changed: false }
      t.chunkServers.set(server.num, { ...server, state: req.state })
      if (req.state === 'down') forgetServerCopies(t, server.num, replication)
      return { changed: true }
    }
    case 'addBlockLocations': {
      const nums = new Map<string, number | undefined>()
      const numOf = (id: string): number | undefined => {
        if (!nums.has(id)) {
          const server = serverById(t, id)
          nums.set(id, server === undefined || server.state === 'down' ? undefined : server.num)
        }
        return nums.get(id)
      }
      const copies = req.blocks.map(({ block, servers }) => ({
        block, nums: servers.map(numOf).filter((n): n is number => n !== undefined),
      }))
      return { underReplicated: addCopies(t, copies, replication, nowMs) }
    }
    case 'removeBlockLocation': {
      const server = serverById(t, req.server)
      let removed = 0
      if (server === undefined) return { removed, confirmed: 0 }
      for (const block of req.blocks) if (removeLocation(t, block, server.num, replication)) removed++
      return { removed, confirmed: confirmDeletes(t, server.num, req.blocks) }
    }
    case 'blockReport': {
      const server = serverById(t, req.id)
      if (server === undefined || server.state === 'down') return { blocks: 0 }
      if (req.replace) forgetServerCopies(t, server.num, replication)
      for (const block of req.blocks) addLocation(t, block, server.num, replication, 'report', nowMs)
      return { blocks: req.blocks.length }
    }
  }
}

