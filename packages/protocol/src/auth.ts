/**
 * Mutual peer authentication with the cluster secret, when a connection opens:
 *
 *   server -> client  AuthChallenge [serverNonce, serverId]
 *   client -> server  AuthProof     [clientId, clientNonce, HMAC(secret, "client" proof input)]
 *   server -> client  AuthOk        [HMAC(secret, "server" proof input)]
 *
 * Both proofs cover both nonces and both ids; the two directions use different labels so that a
 * proof can never be reflected back. Comparisons use timingSafeEqual.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { TesseraError } from './errors.js'
import { LIMITS } from './limits.js'

export const AUTH_PROTOCOL = 'tessera-auth-v1'
export const MIN_SECRET_BYTES = 32

/** Throws EINVAL unless `secret` is a Buffer/Uint8Array of at least 32 bytes. */
export function assertClusterSecret(secret: unknown): asserts secret is Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.byteLength < MIN_SECRET_BYTES) {
    throw new TesseraError('EINVAL', `the cluster secret must be at least ${MIN_SECRET_BYTES} bytes`)
  }
}

export function createNonce(): Buffer {
  return randomBytes(LIMITS.authNonceBytes)
}

export interface ProofInput {
  serverNonce: Uint8Array
  clientNonce: Uint8Array
  clientId: string
  serverId: string
}

function lengthPrefixed(field: string | Uint8Array): Buffer {
  const body = typeof field === 'string' ? Buffer.from(field, 'utf8') : Buffer.from(field.buffer, field.byteOffset, field.byteLength)
  const out = Buffer.allocUnsafe(2 + body.length)
  out.writeUInt16BE(body.length, 0)
  body.copy(out, 2)
  return out
}

function proof(secret: Uint8Array, role: 'client' | 'server', input: ProofInput): Buffer {
  return createHmac('sha256', secret)
    .update(`${AUTH_PROTOCOL} ${role}\n`)
    .update(lengthPrefixed(input.serverNonce))
    .update(lengthPrefixed(input.clientNonce))
    .update(lengthPrefixed(input.clientId))
    .update(lengthPrefixed(input.serverId))
    .digest()
}

/** The proof a client sends: it holds the secret and answers this server's nonce. */
export function clientProof(secret: Uint8Array, input: ProofInput): Buffer {
  return proof(secret, 'client', input)
}

/** The proof a server sends back: it holds the secret too. */
export function serverProof(secret: Uint8Array, input: ProofInput): Buffer {
  return proof(secret, 'server', input)
}

/** Constant-time comparison; false for different lengths. */
export function proofsMatch(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.byteLength === received.byteLength && timingSafeEqual(expected, received)
}

export function authFailed(message: string): TesseraError {
  return new TesseraError('AUTH_FAILED', message)
}
