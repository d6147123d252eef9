import { expect } from 'chai'
import { blockIdOf, blockIdsOf, checkBlockRefs, decodeBlocks, encodeBlocks, parseBlockId, truncateBlocks } from '../src/fsm/block-list.js'

describe('meta/block-list encoding', () => {
  const plain = { key: '0123456789abcdef', len: 4096, used: 4096 }
  const salted = { key: 'fedcba9876543210s7', len: 100, used: 100 }
  const cut = { key: 'aaaaaaaaaaaaaaaa', len: 65536, used: 10 }
  const saltedCut = { key: 'bbbbbbbbbbbbbbbbs12', len: 300, used: 299 }

  it('round-trips plain, salted and cut pieces in order', () => {
    const refs = [plain, salted, cut, saltedCut]
    expect(decodeBlocks(encodeBlocks(refs))).to.deep.equal(refs)
    expect(blockIdsOf(encodeBlocks(refs)).map(parseBlockId)).to.deep.equal(refs.map(({ key, len }) => ({ key, len })))
  })

  it('stores a one-block file as exactly its block id, salted or not', () => {
    expect(encodeBlocks([plain])).to.equal(blockIdOf(plain.key, plain.len))
    expect(encodeBlocks([salted])).to.equal(blockIdOf(salted.key, salted.len))
    expect(parseBlockId(blockIdOf(salted.key, salted.len))).to.deep.equal({ key: salted.key, len: salted.len })
  })

  it('accepts salted keys and refuses malformed ones', () => {
    expect(() => checkBlockRefs([plain, salted, saltedCut], 1 << 22)).not.to.throw()
    for (const key of ['0123456789ABCDEF', '0123456789abcde', '0123456789abcdefs0', '0123456789abcdefs', '0123456789abcdefx1']) {
      expect(() => checkBlockRefs([{ key, len: 1, used: 1 }], 1 << 22), key).to.throw(/block key/)
    }
  })

  it('truncates across a salted piece', () => {
    expect(truncateBlocks([salted, plain], 50)).to.deep.equal([{ ...salted, used: 50 }])
  })
})
