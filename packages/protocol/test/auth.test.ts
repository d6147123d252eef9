import { expect } from 'chai'
import { assertClusterSecret, clientProof, serverProof, proofsMatch, createNonce, TesseraError, LIMITS } from '../src/index.js'

describe('protocol/auth', () => {
  const secret = Buffer.alloc(32, 1)
  const input = { serverNonce: createNonce(), clientNonce: createNonce(), clientId: 'c1', serverId: 's1' }

  it('binds each proof to the secret, both nonces, both ids and the direction', () => {
    const proof = clientProof(secret, input)
    expect(proof.byteLength).to.equal(32)
    expect(proofsMatch(proof, clientProof(secret, { ...input }))).to.equal(true)
    const variants = [
      clientProof(Buffer.alloc(32, 2), input),
      clientProof(secret, { ...input, serverNonce: createNonce() }),
      clientProof(secret, { ...input, clientNonce: createNonce() }),
      clientProof(secret, { ...input, clientId: 'c2' }),
      clientProof(secret, { ...input, serverId: 's2' }),
      // ids are length-prefixed: moving a character from one id to the other changes the proof
      clientProof(secret, { ...input, clientId: 'c', serverId: '1s1' }),
      serverProof(secret, input), // a client proof can never be reflected as a server proof
    ]
    for (const other of variants) expect(proofsMatch(proof, other)).to.equal(false)
  })

  it('compares proofs of different lengths as different, without throwing', () => {
    expect(proofsMatch(Buffer.alloc(32), Buffer.alloc(31))).to.equal(false)
  })

  it('requires a secret of at least 32 bytes', () => {
    expect(() => assertClusterSecret(Buffer.alloc(31))).to.throw(TesseraError, /at least 32 bytes/)
    expect(() => assertClusterSecret('a string secret')).to.throw(TesseraError)
    expect(() => assertClusterSecret(Buffer.alloc(64))).to.not.throw()
  })

  it('makes fresh nonces of the agreed size', () => {
    const a = createNonce()
    expect(a.byteLength).to.equal(LIMITS.authNonceBytes)
    expect(a.equals(createNonce())).to.equal(false)
  })
})
