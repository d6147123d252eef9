import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { TesseraError } from '@tessera/protocol'
import { computeBlockKey } from '@tessera/chunk'
import {
  blockIdOfChunkKey, bytesMatch, chunkKeyOf, chunkKeyOfRef, loadHasher, nameBytes, nameOfChunkKey, nameOfRef,
} from '../src/data/index.js'

function expectEinval(fn: () => unknown): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  expect(caught).to.be.instanceOf(TesseraError)
  expect((caught as TesseraError).code).to.equal('EINVAL')
}

describe('data path: block names', () => {
  it('maps meta refs and chunk keys both ways, salted or not', () => {
    expect(chunkKeyOfRef({ key: '00ff00ff00ff00ff', len: 4096 })).to.equal('00ff00ff00ff00ff-4096')
    expect(chunkKeyOfRef({ key: '00ff00ff00ff00ffs3', len: 7 })).to.equal('00ff00ff00ff00ff-7-s3')
    expect(blockIdOfChunkKey('00ff00ff00ff00ff-4096')).to.deep.equal({ key: '00ff00ff00ff00ff', len: 4096 })
    expect(blockIdOfChunkKey('00ff00ff00ff00ff-7-s3')).to.deep.equal({ key: '00ff00ff00ff00ffs3', len: 7 })
    expect(nameOfRef({ key: 'abcdef0123456789s12', len: 5 })).to.deep.equal({ hash: 'abcdef0123456789', length: 5, seed: 12 })
  })

  it('refuses malformed refs and keys with EINVAL', () => {
    expectEinval(() => nameOfRef({ key: 'ABCDEF0123456789', len: 5 }))
    expectEinval(() => nameOfRef({ key: 'abcdef0123456789s0', len: 5 }))
    expectEinval(() => nameOfRef({ key: 'abcdef0123456789', len: 0 }))
    expectEinval(() => nameOfRef({ key: 'abcdef0123456789s99999999999', len: 5 }))
    expectEinval(() => nameOfChunkKey('abcdef0123456789-05'))
    expectEinval(() => nameOfChunkKey('abcdef0123456789-5-s0'))
    expectEinval(() => nameOfChunkKey('../../etc/passwd'))
  })

  it('hashes exactly as the chunk servers do, with and without a seed', async () => {
    const hasher = await loadHasher()
    const bytes = randomBytes(100_003)
    expect(chunkKeyOf(nameBytes(hasher, bytes))).to.equal(await computeBlockKey(bytes))
    expect(chunkKeyOf(nameBytes(hasher, bytes, 2))).to.equal(await computeBlockKey(bytes, 2))
    const name = nameBytes(hasher, bytes, 2)
    expect(bytesMatch(hasher, name, bytes)).to.equal(true)
    const flipped = Buffer.from(bytes)
    flipped[500] ^= 1
    expect(bytesMatch(hasher, name, flipped)).to.equal(false)
  })
})
