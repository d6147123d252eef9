/**
 * Garbage collection's part of the replicated state (DESIGN decision 7): blocks nobody
 * references are deleted from the chunk servers only after a grace period, through the log.
 *
 * A block's life after its last reference (or, for an orphan, after meta first heard of a copy
 * that no file references; or, for a block written and not committed yet, after its writer last
 * recorded it, which a live writer does well within the grace period: its lease, cluster-map.ts):
 *
 *   unreferenced[id] = since  --retireBlocks, since <= now - grace, still no reference-->
 *   deleteOrders[server, id] for every server that held a copy (its locations are dropped,
 *   so nothing hands the block out again)  --the server reports it gone (blocksGone)-->
 *   order dropped; once no order is left the block is forgotten.
 *
 * Tables (copy-on-write trees like the rest):
 * - deleteOrders: orderKey(server number, block id) -> command time (ms) of the retirement.
 *   Keyed by server first, so a heartbeat reply reads one server's orders as a range.
 * - retired: block id -> how many servers still have to delete it. Derived from deleteOrders
 *   (restore rebuilds it), so a block with pending orders is found without a scan.
 *
 * Safety: a block with a reference is never retired (checked at apply time); a copy with a
 * pending order is never counted as a location; a commit that would reference a block with
 * pending orders is refused (ops-data.ts), because the copies a writer may have deduplicated
 * onto are about to go. An order lives only while its server stays up: a server declared down,
 * or registering afresh, loses its orders, and its next block report tells the truth about what
 * it holds (a block it still has is then an orphan again, or a good copy of a block referenced
 * anew: blocks are addressed by their content).
 */
import type { Tables } from './tables.js'
import { holdersOf } from './holders.js'
import { numberKey, numberKeyPrefix, splitNumberKey } from './number-key.js'

/** Most blocks one retireBlocks command names. */
export const MAX_RETIRE_BATCH = 4096

/** The tables GC reads and changes (their meaning: tables.ts). */
export type GcTables = Pick<Tables, 'refs' | 'unreferenced' | 'locations' | 'underReplicated' | 'deleteOrders' | 'retired'>

export interface RetireReply {
  /** Blocks retired by this command. */
  retired: number
  /** Delete orders it issued (one per server holding a copy). */
  orders: number
}

const serverPrefix: (num: number) => string = numberKeyPrefix

export const orderKey: (num: number, id: string) => string = numberKey

/** (server number, block id) of an order key. */
export const splitOrderKey: (key: string) => [num: number, id: string] = splitNumberKey

/**
 * Retires each block that is still unreferenced since `cutoffMs` or earlier and has no
 * reference: it leaves the unreferenced table and the cluster map, and each server that held a
 * copy gets a delete order. Anything else in `ids` (referenced again, unreferenced anew later
 * than the cutoff, unknown) is left alone.
 */
export function retireBlocks(t: GcTables, ids: readonly string[], cutoffMs: number, nowMs: number): RetireReply {
  let retired = 0
  let orders = 0
  for (const id of ids) {
    const since = t.unreferenced.get(id)
    if (since === undefined || since > cutoffMs || t.refs.has(id)) continue
    const holders = holdersOf(t.locations, id) ?? []
    t.unreferenced.delete(id)
    t.locations.delete(id)
    t.underReplicated.delete(id)
    let added = 0
    for (const num of holders) {
      const key = orderKey(num, id)
      if (t.deleteOrders.has(key)) continue
      t.deleteOrders.set(key, nowMs)
      added++
    }
    if (added > 0) t.retired.set(id, (t.retired.get(id) ?? 0) + added)
    retired++
    orders += added
  }
  return { retired, orders }
}

function dropOrder(t: GcTables, num: number, id: string): boolean {
  if (!t.deleteOrders.delete(orderKey(num, id))) return false
  const left = (t.retired.get(id) ?? 1) - 1
  if (left > 0) t.retired.set(id, left)
  else t.retired.delete(id)
  return true
}

/** Server `num` no longer holds these blocks: their orders there are done. Returns how many. */
export function confirmDeletes(t: GcTables, num: number, ids: readonly string[]): number {
  let confirmed = 0
  for (const id of ids) if (dropOrder(t, num, id)) confirmed++
  return confirmed
}

/** Drops every order of server `num` (it went down, or reports its blocks afresh). */
export function dropOrdersOf(t: GcTables, num: number): number {
  const ids = deleteOrdersFor(t, num, Number.POSITIVE_INFINITY)
  for (const id of ids) dropOrder(t, num, id)
  return ids.length
}

/** Block ids server `num` must delete, in id order, at most `limit`. */
export function deleteOrdersFor(t: Pick<GcTables, 'deleteOrders'>, num: number, limit: number): string[] {
  const prefix = serverPrefix(num)
  const out: string[] = []
  for (const key of t.deleteOrders.keys(prefix)) {
    if (out.length >= limit || !key.startsWith(prefix)) break
    out.push(key.slice(prefix.length))
  }
  return out
}

/** Whether server `num`'s copy of `id` is to be deleted (so it must not count as a copy). */
export function isDoomedCopy(t: Pick<GcTables, 'deleteOrders'>, num: number, id: string): boolean {
  return t.deleteOrders.has(orderKey(num, id))
}

/** Rebuilds `retired` from `deleteOrders` (after a restore). */
export function deriveRetired(t: Pick<GcTables, 'deleteOrders' | 'retired'>): void {
  for (const key of t.deleteOrders.keys()) {
    const id = splitOrderKey(key)[1]
    t.retired.set(id, (t.retired.get(id) ?? 0) + 1)
  }
}
