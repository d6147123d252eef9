/**
 * The data path's narrow seam to whoever places blocks and signs tokens (meta, once wired;
 * a test planner until then). Addresses are host:port of chunk servers.
 */
import type { BlockId } from '@tessera/protocol'

export interface PlaceRequest {
  /** The chunk server key of the block to write (`<16hex>-<len>[-s<seed>]`). */
  key: string
  length: number
  /** Servers that failed this block's earlier attempts: do not place on them. */
  exclude?: string[]
}

export interface Placement {
  /** The write chain, head first. */
  servers: string[]
  /** A write token for `key`. */
  token: string
  /** Fewest durable copies that make the write a success (the rest is meta's repair work). */
  minCopies: number
}

export interface Location {
  /** Servers believed to hold the block, preferred (nearest) first. */
  servers: string[]
  /** A read token for the block. */
  token: string
}

export interface BlockPlanner {
  placeBlock(request: PlaceRequest): Promise<Placement>
  locateBlock(ref: BlockId): Promise<Location>
  /** A copy on `server` is corrupt or missing: meta re-replicates it from a good one. */
  reportBadCopy(ref: BlockId, server: string): Promise<void>
}
