/**
 * msgpackr encoding of log entries (Proposal) and of snapshot chunks. Decoding validates:
 * anything malformed is a TesseraError('PROTOCOL'), never a crash.
 */
import {
  MAX_SESSION_ID_BYTES, TesseraError, lockCommandSchema, metaRequestSchema, sessionRequestSchema,
  timespecSchema, type Timespec,
} from '@tessera/protocol'
import { Packr } from 'msgpackr'
import { CLUSTER_OPS } from './cluster-map.js'
import { BLOCK_ID, parseClusterRequest } from './cluster-codec.js'
import type { ClientRequest, MetaCommand, SystemRequest, Proposal } from './command.js'
import { MAX_RETIRE_BATCH } from './gc.js'
import { utf8Length } from './names.js'
import { isValidNsec } from './options.js'

/** Plain maps and arrays (no shared record structures), so equal values encode to equal bytes. */
const packr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true })

export function pack(value: unknown): Uint8Array {
  return packr.pack(value)
}

export function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes)
  } catch (err) {
    throw new TesseraError('PROTOCOL', `${what}: not msgpack (${err instanceof Error ? err.message : String(err)})`)
  }
}

export function encodeCommand(proposal: Proposal): Uint8Array {
  return pack(proposal)
}

function fail(message: string): never {
  throw new TesseraError('PROTOCOL', `command: ${message}`)
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    fail(`${what} is not a map`)
  }
  return value as Record<string, unknown>
}

function parseTime(value: unknown): Timespec {
  const time = timespecSchema.parse(value, 'command.time')
  if (!isValidNsec(time.nsec)) fail('time.nsec out of range')
  return time
}

function parseRetireBlocks(raw: Record<string, unknown>): SystemRequest {
  const { blocks, graceMs } = raw
  if (!Array.isArray(blocks) || blocks.length > MAX_RETIRE_BATCH) fail('blocks is not a bounded array')
  for (const id of blocks) if (typeof id !== 'string' || !BLOCK_ID.test(id)) fail('bad block id')
  if (typeof graceMs !== 'number' || !Number.isSafeInteger(graceMs) || graceMs < 0) fail('bad grace period')
  return { op: 'retireBlocks', blocks: blocks as string[], graceMs }
}

function parseSystemRequest(value: unknown): SystemRequest {
  const op = asRecord(value, 'req').op
  if (op === 'expireSessions') return { op }
  if (op === 'retireBlocks') return parseRetireBlocks(asRecord(value, 'req'))
  if (typeof op === 'string' && CLUSTER_OPS.has(op)) return parseClusterRequest(asRecord(value, 'req'))
  return sessionRequestSchema.parse(value, 'command.req')
}

/** Decodes an entry's payload; `index` is the entry's Raft index. */
export function decodeCommand(bytes: Uint8Array, index: number): MetaCommand {
  const raw = asRecord(unpack(bytes, 'command'), 'command')
  const time = parseTime(raw.time)
  if (raw.kind === 'system') return { kind: 'system', index, time, req: parseSystemRequest(raw.req) }
  if (raw.kind !== 'client') fail('unknown kind')
  const { session, seq } = raw
  if (typeof session !== 'string' || session.length === 0 || utf8Length(session) > MAX_SESSION_ID_BYTES) fail('bad session id')
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) fail('bad seq')
  return { kind: 'client', index, time, session, seq, req: parseClientRequest(raw.req) }
}

function parseClientRequest(value: unknown): ClientRequest {
  const op = asRecord(value, 'req').op
  if (op === 'lock' || op === 'unlock') return lockCommandSchema.parse(value, 'command.req')
  return metaRequestSchema.parse(value, 'command.req')
}
