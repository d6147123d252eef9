/**
 * The chunk server's RPC catalogue: block streams in and out, the replication chain, deletes,
 * and the server's own figures. Chunk servers merge it with protocolCatalogue (for `ping`);
 * `chunkServerCatalogue` is that merge, used by servers and by every caller (clients and
 * upstream chunk servers alike).
 *
 * A write travels down a chain: the caller sends `block.write` with the request stream of the
 * block's bytes to the first server, naming in `chain` the servers after it; each server
 * forwards the bytes to the next while it receives them, commits its copy, and answers with the
 * copies that are durable (its own first, then those of the servers after it, in chain order).
 */
import { CLUSTER_CODES, FS_CODES, type ErrorCode } from './errors.js'
import { LIMITS } from './limits.js'
import { mergeCatalogues, protocolCatalogue, type Catalogue } from './messages.js'
import { s, type Infer } from './schema.js'
import { MAX_BLOCK_TOKEN_CHARS } from './tokens.js'

/** Servers after the first in one write chain. */
export const MAX_CHAIN_HOPS = 4
/** Copies one write can make: the first server and its chain. */
export const MAX_COPIES = MAX_CHAIN_HOPS + 1
/** Largest block length the wire accepts; each store enforces its own (smaller) maximum. */
export const MAX_WIRE_BLOCK_BYTES = 1024 * 1024 * 1024

/**
 * A block key's shape: `<16 hex>-<length>[-s<seed>]` (the chunk package's block-key.ts owns the
 * full rules; this only bounds what reaches it).
 */
export const blockKeySchema = s.refine(s.str(45, 1), (key) =>
  /^[0-9a-f]{16}-[1-9][0-9]{0,15}(?:-s[1-9][0-9]{0,9})?$/.test(key) ? undefined : 'not a block key')

/** host:port, with an IPv6 host in brackets. */
export const serverAddressSchema = s.refine(s.str(LIMITS.maxAddressBytes, 3), (address) =>
  /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(address) && Number(address.slice(address.lastIndexOf(':') + 1)) <= 65535
    ? undefined
    : 'not a host:port address')

/**
 * Tokens travel as optional strings of generous size so that a missing or oversized token is
 * refused with BAD_TOKEN by the server, not as a protocol error.
 */
const token = s.optional(s.str(MAX_BLOCK_TOKEN_CHARS * 2))

const errorCode = s.literal<ErrorCode>(...FS_CODES, ...CLUSTER_CODES)
export const wireErrorSchema = s.object({ code: errorCode, message: s.str(LIMITS.maxErrorMessageBytes) })

/** One copy of a written block: durable (`ok`) or not, with why. */
export const blockCopySchema = s.object({
  server: serverAddressSchema,
  ok: s.bool(),
  error: s.optional(wireErrorSchema),
})
export type BlockCopy = Infer<typeof blockCopySchema>

const usage = s.object({
  capacityBytes: s.uint(),
  usedBytes: s.uint(),
  freeBytes: s.uint(),
  reservedBytes: s.uint(),
  blockCount: s.uint(),
})

export const chunkCatalogue = {
  methods: {
    /**
     * Stores a block, streamed in the request stream, here and down `chain`. Answers only after
     * this copy is fsynced and the rest of the chain answered (or failed). A failure down the
     * chain never loses this copy: it shows in `copies`, and the caller decides with minCopies.
     * A failure here (BAD_TOKEN, CHECKSUM_MISMATCH, ENOSPC, HASH_COLLISION, EIO) is the answer.
     */
    'block.write': {
      request: s.object({
        key: blockKeySchema,
        length: s.uint(MAX_WIRE_BLOCK_BYTES),
        token,
        /** The servers after this one, in order. */
        chain: s.array(serverAddressSchema, MAX_CHAIN_HOPS),
        /** Copies the caller needs; more than this server plus its chain is refused (EINVAL). */
        minCopies: s.uint(MAX_COPIES),
      }),
      response: s.object({
        /** This server's copy first, then one entry per chain address, in order. */
        copies: s.array(blockCopySchema, MAX_COPIES),
        /** How many of `copies` are durable. */
        stored: s.uint(MAX_COPIES),
      }),
      requestStream: true,
    },
    /** Streams `length` bytes at `offset` of a block, each 64 KiB piece verified before it is sent. */
    'block.read': {
      request: s.object({ key: blockKeySchema, offset: s.uint(MAX_WIRE_BLOCK_BYTES), length: s.uint(MAX_WIRE_BLOCK_BYTES), token }),
      response: s.object({ length: s.uint(MAX_WIRE_BLOCK_BYTES) }),
      responseStream: true,
    },
    /** Removes a block (a delete order from meta). `deleted` is false when it was not here. */
    'block.delete': {
      request: s.object({ key: blockKeySchema, token }),
      response: s.object({ deleted: s.bool() }),
    },
    /** Whether this server holds a block (needs a read token for the key). */
    'block.stat': {
      request: s.object({ key: blockKeySchema, token }),
      response: s.object({ exists: s.bool(), length: s.optional(s.uint(MAX_WIRE_BLOCK_BYTES)) }),
    },
    /** The server's id, address and space figures. */
    'chunk.info': {
      request: s.object({}),
      response: s.object({ id: s.str(LIMITS.maxNodeIdBytes, 1), address: serverAddressSchema, usage }),
    },
  },
  notifications: {},
} as const satisfies Catalogue

export type ChunkCatalogue = typeof chunkCatalogue

/** What a chunk server serves and what its callers call: chunkCatalogue plus `ping`. */
export const chunkServerCatalogue = mergeCatalogues(protocolCatalogue, chunkCatalogue)
export type ChunkServerCatalogue = typeof chunkServerCatalogue
