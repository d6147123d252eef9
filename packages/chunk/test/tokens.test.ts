import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import {
  MAX_BLOCK_TOKEN_CHARS, TesseraError, chunkCatalogue, readBlockToken, signBlockToken, verifyBlockToken, type BlockTokenClaims,
} from '@tessera/protocol'

const secret = randomBytes(32)
const key = '0123456789abcdef-4194304'
const NOW = 1_700_000_000_000

function refusal(fn: () => unknown): TesseraError {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    expect((err as TesseraError).code).to.equal('BAD_TOKEN')
    return err as TesseraError
  }
  throw new Error('expected BAD_TOKEN')
}

describe('block tokens', () => {
  const claims: BlockTokenClaims = { key, op: 'write', expiresAtMs: NOW + 30_000, clientId: 'client-7' }

  it('round-trips the claims through sign and verify', () => {
    const token = signBlockToken(secret, claims)
    expect(token).to.match(/^[A-Za-z0-9_-]+$/)
    expect(token.length).to.be.at.most(MAX_BLOCK_TOKEN_CHARS)
    expect(verifyBlockToken(secret, token, { key, op: 'write', nowMs: NOW })).to.deep.equal(claims)
    const anonymous = signBlockToken(secret, { key, op: 'read', expiresAtMs: NOW + 1 })
    expect(readBlockToken(secret, anonymous)).to.deep.equal({ key, op: 'read', expiresAtMs: NOW + 1 })
  })

  it('refuses a token signed with another secret', () => {
    const token = signBlockToken(randomBytes(32), claims)
    expect(refusal(() => verifyBlockToken(secret, token, { key, op: 'write', nowMs: NOW })).message).to.match(/signature/)
  })

  it('refuses at and after the expiry instant, with the clock passed in', () => {
    const token = signBlockToken(secret, claims)
    verifyBlockToken(secret, token, { key, op: 'write', nowMs: claims.expiresAtMs - 1 })
    expect(refusal(() => verifyBlockToken(secret, token, { key, op: 'write', nowMs: claims.expiresAtMs })).message).to.match(/expired/)
    refusal(() => verifyBlockToken(secret, token, { key, op: 'write', nowMs: claims.expiresAtMs + 10_000 }))
  })

  it('refuses a token for another key or another operation', () => {
    const token = signBlockToken(secret, claims)
    expect(refusal(() => verifyBlockToken(secret, token, { key: 'fedcba9876543210-4194304', op: 'write', nowMs: NOW })).message)
      .to.match(/another block/)
    expect(refusal(() => verifyBlockToken(secret, token, { key, op: 'read', nowMs: NOW })).message).to.match(/issued for write/)
    expect(refusal(() => verifyBlockToken(secret, token, { key, op: 'delete', nowMs: NOW })).message).to.match(/issued for write/)
  })

  it('refuses missing, malformed, oversized and tampered tokens', () => {
    for (const missing of [undefined, null, '', 42, {}]) {
      expect(refusal(() => verifyBlockToken(secret, missing, { key, op: 'read', nowMs: NOW })).message).to.match(/missing/)
    }
    refusal(() => verifyBlockToken(secret, 'abc', { key, op: 'read', nowMs: NOW }))
    refusal(() => verifyBlockToken(secret, 'has spaces and !', { key, op: 'read', nowMs: NOW }))
    refusal(() => verifyBlockToken(secret, 'A'.repeat(MAX_BLOCK_TOKEN_CHARS + 1), { key, op: 'read', nowMs: NOW }))
    const token = signBlockToken(secret, claims)
    const raw = Buffer.from(token, 'base64url')
    // Flip every bit position of the body and the MAC in turn: each must be refused.
    for (let byte = 0; byte < raw.length; byte++) {
      const tampered = Buffer.from(raw)
      tampered[byte] = tampered[byte]! ^ 0x04
      refusal(() => verifyBlockToken(secret, tampered.toString('base64url'), { key, op: 'write', nowMs: NOW }))
    }
    refusal(() => verifyBlockToken(secret, raw.subarray(0, raw.length - 1).toString('base64url'), { key, op: 'write', nowMs: NOW }))
    refusal(() => verifyBlockToken(secret, Buffer.concat([raw, Buffer.from([0])]).toString('base64url'), { key, op: 'write', nowMs: NOW }))
  })

  it('will not sign claims it cannot encode', () => {
    const bad: BlockTokenClaims[] = [
      { ...claims, key: '' },
      { ...claims, key: 'k'.repeat(200) },
      { ...claims, expiresAtMs: -1 },
      { ...claims, expiresAtMs: 1.5 },
      { ...claims, clientId: 'c'.repeat(200) },
      { ...claims, op: 'erase' as unknown as 'read' },
    ]
    for (const c of bad) expect(() => signBlockToken(secret, c)).to.throw(TesseraError)
  })
})

describe('chunk RPC schemas', () => {
  const write = chunkCatalogue.methods['block.write'].request
  const base = { key, length: 4194304, token: 'x', chain: ['127.0.0.1:7001', '[::1]:7002', 'chunk-3.local:65535'], minCopies: 2 }

  it('accepts a well-formed write request and drops unknown fields', () => {
    expect(write.parse({ ...base, extra: 1 })).to.deep.equal(base)
    expect(write.parse({ ...base, token: undefined })).to.not.have.property('token')
  })

  it('refuses bad keys, addresses, chains and counts as PROTOCOL', () => {
    const bad: Array<Record<string, unknown>> = [
      { ...base, key: '0123456789ABCDEF-1' },
      { ...base, key: '0123456789abcdef-0' },
      { ...base, key: '0123456789abcdef-12-s0' },
      { ...base, key: '../../etc/passwd' },
      { ...base, chain: ['127.0.0.1'] },
      { ...base, chain: ['127.0.0.1:99999'] },
      { ...base, chain: ['a b:1'] },
      { ...base, chain: Array(5).fill('127.0.0.1:1') },
      { ...base, minCopies: 6 },
      { ...base, length: -1 },
      { ...base, token: 'x'.repeat(10_000) },
    ]
    for (const value of bad) {
      const result = write.safeParse(value)
      expect(result.ok, JSON.stringify(value).slice(0, 80)).to.equal(false)
      if (!result.ok) expect(result.error.code).to.equal('PROTOCOL')
    }
  })

  it('checks the copies list of a write answer', () => {
    const response = chunkCatalogue.methods['block.write'].response
    expect(response.safeParse({ copies: [{ server: '127.0.0.1:1', ok: false, error: { code: 'ENOSPC', message: 'full' } }], stored: 0 }).ok).to.equal(true)
    expect(response.safeParse({ copies: [{ server: '127.0.0.1:1', ok: false, error: { code: 'NOPE', message: 'x' } }], stored: 0 }).ok).to.equal(false)
    expect(response.safeParse({ copies: Array(6).fill({ server: '127.0.0.1:1', ok: true }), stored: 6 }).ok).to.equal(false)
  })
})
