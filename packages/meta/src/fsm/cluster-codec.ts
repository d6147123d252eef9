/**
 * Validation of the cluster map's log commands (the leader builds them from checked RPC
 * requests, but a log entry is still decoded as untrusted input: anything malformed is a
 * TesseraError('PROTOCOL')).
 */
import { LIMITS, MAX_LOCATION_BLOCKS, MAX_REPORT_KEYS, MAX_ZONE_BYTES, TesseraError } from '@tessera/protocol'
import type { ChunkState, ClusterRequest } from './cluster-map.js'
import { utf8Length } from './names.js'

/** The refs table's spelling of a block: 16 hex [+ 's' seed + '.'] + length in hex. */
export const BLOCK_ID = /^[0-9a-f]{16}(?:s[1-9][0-9]{0,9}\.)?[1-9a-f][0-9a-f]{0,7}$/
const STATES: readonly ChunkState[] = ['up', 'down', 'draining']

function fail(message: string): never {
  throw new TesseraError('PROTOCOL', `cluster command: ${message}`)
}

function str(value: unknown, what: string, maxBytes: number, minBytes = 1): string {
  if (typeof value !== 'string' || value.length < minBytes || utf8Length(value) > maxBytes) fail(`bad ${what}`)
  return value
}

function uint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`bad ${what}`)
  return value
}

function list<T>(value: unknown, what: string, max: number, item: (v: unknown) => T): T[] {
  if (!Array.isArray(value) || value.length > max) fail(`${what} is not a bounded array`)
  return value.map(item)
}

const blockId = (v: unknown): string => {
  if (typeof v !== 'string' || !BLOCK_ID.test(v)) fail('bad block id')
  return v
}
const serverId = (v: unknown): string => str(v, 'server id', LIMITS.maxNodeIdBytes)

export function parseClusterRequest(raw: Record<string, unknown>): ClusterRequest {
  switch (raw.op) {
    case 'registerChunk': {
      const req: ClusterRequest = {
        op: 'registerChunk',
        id: serverId(raw.id),
        address: str(raw.address, 'address', LIMITS.maxAddressBytes, 3),
        zone: str(raw.zone, 'zone', MAX_ZONE_BYTES, 0),
        capacityBytes: uint(raw.capacityBytes, 'capacity'),
        usedBytes: uint(raw.usedBytes, 'used bytes'),
      }
      if (raw.blocks !== undefined) req.blocks = list(raw.blocks, 'blocks', MAX_REPORT_KEYS, blockId)
      return req
    }
    case 'chunkStateChange': {
      if (!STATES.includes(raw.state as ChunkState)) fail('bad state')
      return { op: 'chunkStateChange', id: serverId(raw.id), state: raw.state as ChunkState }
    }
    case 'addBlockLocations':
      return {
        op: 'addBlockLocations',
        blocks: list(raw.blocks, 'blocks', MAX_LOCATION_BLOCKS, (item) => {
          if (typeof item !== 'object' || item === null) fail('bad location')
          const { block, servers } = item as Record<string, unknown>
          return { block: blockId(block), servers: list(servers, 'servers', 16, serverId) }
        }),
      }
    case 'removeBlockLocation':
      return { op: 'removeBlockLocation', server: serverId(raw.server), blocks: list(raw.blocks, 'blocks', MAX_REPORT_KEYS, blockId) }
    case 'blockReport': {
      if (typeof raw.replace !== 'boolean') fail('bad replace flag')
      return { op: 'blockReport', id: serverId(raw.id), blocks: list(raw.blocks, 'blocks', MAX_REPORT_KEYS, blockId), replace: raw.replace }
    }
    default:
      return fail(`unknown op ${String(raw.op).slice(0, 32)}`)
  }
}
