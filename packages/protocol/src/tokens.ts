/**
 * Block access tokens (DESIGN decision 8, as HDFS block access tokens): meta signs, for one
 * block key and one operation, a short-lived token with the cluster secret; a chunk server
 * serves or accepts that block only with such a token. A token names the key and the
 * operation, never a server, so every hop of a replication chain checks the same token.
 *
 * A token is base64url(body || mac), where
 *
 *   body = version (1 byte) | op (1 byte) | expiresAtMs (8 bytes, big-endian)
 *        | key length (2 bytes) | key (UTF-8) | clientId length (2 bytes) | clientId (UTF-8)
 *   mac  = HMAC-SHA256(secret, DOMAIN || body)
 *
 * The domain prefix keeps these MACs apart from every other HMAC made with the cluster secret
 * (the connection handshake's proofs). The MAC is checked, in constant time, before anything
 * the body claims is believed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { TesseraError } from './errors.js'
import { LIMITS } from './limits.js'

export const BLOCK_OPS = ['read', 'write', 'delete'] as const
export type BlockOp = (typeof BLOCK_OPS)[number]

/** What a token grants. */
export interface BlockTokenClaims {
  /** The block key the token is for. */
  key: string
  op: BlockOp
  /** Wall-clock milliseconds after which the token is refused. */
  expiresAtMs: number
  /** Who the token was issued to, for audit logs. */
  clientId?: string
}

/** What the verifier expects; `nowMs` comes from the caller's clock. */
export interface BlockTokenExpectation {
  key: string
  op: BlockOp
  nowMs: number
}

const DOMAIN = Buffer.from('tessera-block-token-v1\n', 'utf8')
const VERSION = 1
const MAC_BYTES = 32
const MAX_KEY_BYTES = 128
const FIXED_BYTES = 1 + 1 + 8 + 2 + 2
/** No well-formed token is longer than this many characters. */
export const MAX_BLOCK_TOKEN_CHARS = Math.ceil(((FIXED_BYTES + MAX_KEY_BYTES + LIMITS.maxNodeIdBytes + MAC_BYTES) * 4) / 3)

const OP_CODES: Readonly<Record<BlockOp, number>> = { read: 1, write: 2, delete: 3 }

function badToken(why: string): TesseraError {
  return new TesseraError('BAD_TOKEN', `block token refused: ${why}`)
}

function mac(secret: Uint8Array, body: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(DOMAIN).update(body).digest()
}

/** Signs a token. Throws EINVAL for claims that cannot be encoded. */
export function signBlockToken(secret: Uint8Array, claims: BlockTokenClaims): string {
  const key = Buffer.from(claims.key, 'utf8')
  const clientId = Buffer.from(claims.clientId ?? '', 'utf8')
  if (key.length === 0 || key.length > MAX_KEY_BYTES) throw new TesseraError('EINVAL', `token key must be 1..${MAX_KEY_BYTES} bytes`)
  if (clientId.length > LIMITS.maxNodeIdBytes) throw new TesseraError('EINVAL', `token clientId exceeds ${LIMITS.maxNodeIdBytes} bytes`)
  if (!Object.hasOwn(OP_CODES, claims.op)) throw new TesseraError('EINVAL', `unknown token op ${String(claims.op)}`)
  if (!Number.isSafeInteger(claims.expiresAtMs) || claims.expiresAtMs < 0) {
    throw new TesseraError('EINVAL', `token expiry must be a non-negative integer of milliseconds, got ${claims.expiresAtMs}`)
  }
  const body = Buffer.allocUnsafe(FIXED_BYTES + key.length + clientId.length)
  let at = body.writeUInt8(VERSION, 0)
  at = body.writeUInt8(OP_CODES[claims.op], at)
  at = body.writeBigUInt64BE(BigInt(claims.expiresAtMs), at)
  at = body.writeUInt16BE(key.length, at)
  at += key.copy(body, at)
  at = body.writeUInt16BE(clientId.length, at)
  clientId.copy(body, at)
  return Buffer.concat([body, mac(secret, body)]).toString('base64url')
}

/** Decodes a token's claims after checking its MAC; throws BAD_TOKEN for anything else. */
export function readBlockToken(secret: Uint8Array, token: unknown): BlockTokenClaims {
  if (typeof token !== 'string' || token.length === 0) throw badToken('missing')
  if (token.length > MAX_BLOCK_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) throw badToken('malformed')
  const raw = Buffer.from(token, 'base64url')
  if (raw.length < FIXED_BYTES + MAC_BYTES) throw badToken('malformed')
  const body = raw.subarray(0, raw.length - MAC_BYTES)
  const expected = mac(secret, body)
  if (!timingSafeEqual(expected, raw.subarray(raw.length - MAC_BYTES))) throw badToken('signature does not match (forged, or another cluster secret)')
  // The body is authentic from here on; its shape is still checked, never assumed.
  if (body.readUInt8(0) !== VERSION) throw badToken('unknown token version')
  const op = BLOCK_OPS.find((o) => OP_CODES[o] === body.readUInt8(1))
  if (op === undefined) throw badToken('unknown operation')
  const expires = body.readBigUInt64BE(2)
  if (expires > BigInt(Number.MAX_SAFE_INTEGER)) throw badToken('expiry out of range')
  const keyLength = body.readUInt16BE(10)
  if (FIXED_BYTES + keyLength > body.length) throw badToken('malformed')
  const key = body.toString('utf8', 12, 12 + keyLength)
  const idAt = 12 + keyLength
  const idLength = body.readUInt16BE(idAt)
  if (idAt + 2 + idLength !== body.length) throw badToken('malformed')
  const claims: BlockTokenClaims = { key, op, expiresAtMs: Number(expires) }
  if (idLength > 0) claims.clientId = body.toString('utf8', idAt + 2, idAt + 2 + idLength)
  return claims
}

/**
 * Checks that `token` is signed with `secret`, grants `expected.op` on `expected.key`, and has not
 * expired at `expected.nowMs`. Returns the claims; throws TesseraError('BAD_TOKEN', why).
 */
export function verifyBlockToken(secret: Uint8Array, token: unknown, expected: BlockTokenExpectation): BlockTokenClaims {
  const claims = readBlockToken(secret, token)
  if (claims.key !== expected.key) throw badToken(`issued for another block (${claims.key.slice(0, 64)})`)
  if (claims.op !== expected.op) throw badToken(`issued for ${claims.op}, not ${expected.op}`)
  if (expected.nowMs >= claims.expiresAtMs) throw badToken(`expired ${expected.nowMs - claims.expiresAtMs} ms ago`)
  return claims
}
