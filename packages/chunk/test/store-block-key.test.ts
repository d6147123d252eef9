import { expect } from 'chai'
import { TesseraError } from '@tessera/protocol'
import {
  computeBlockKey, formatBlockKey, isBlockKey, MAX_KEY_SEED, parseBlockKey, tryParseBlockKey,
} from '../src/index.js'

describe('block keys', () => {
  it('computes xxh64 keys that match the published test vector', async () => {
    const abc = new TextEncoder().encode('abc')
    expect(await computeBlockKey(abc)).to.equal('44bc2cf5ad770999-3')
    expect(await computeBlockKey(abc, 1)).to.equal('bea9ca8199328908-3-s1')
  })

  it('parses and formats normal and salted keys as inverses', () => {
    for (const key of ['0123456789abcdef-1', 'ffffffffffffffff-4194304', '0000000000000000-7-s1', `00000000000000aa-9-s${MAX_KEY_SEED}`]) {
      expect(formatBlockKey(parseBlockKey(key))).to.equal(key)
      expect(isBlockKey(key)).to.equal(true)
    }
    expect(parseBlockKey('0123456789abcdef-65536-s3')).to.deep.equal({ hash: '0123456789abcdef', length: 65536, seed: 3 })
  })

  it('refuses every malformed spelling with EINVAL', () => {
    const bad: unknown[] = [
      '0123456789ABCDEF-1', '0123456789abcde-1', '0123456789abcdef0-1', '0123456789abcdef-0',
      '0123456789abcdef-01', '0123456789abcdef-1-s0', '0123456789abcdef-1-s01', '0123456789abcdef-1-s',
      `0123456789abcdef-1-s${MAX_KEY_SEED + 1}`, '0123456789abcdef-99999999999999999', '0123456789abcdef',
      '0123456789abcdef-1 ', '../../etc/passwd', '', 42, null, undefined, {}, 'x'.repeat(10_000),
    ]
    for (const key of bad) {
      expect(tryParseBlockKey(key), String(key)).to.equal(undefined)
      expect(() => parseBlockKey(key)).to.throw(TesseraError).with.property('code', 'EINVAL')
    }
  })

  it('refuses to format out-of-range parts and to key an empty block', async () => {
    expect(() => formatBlockKey({ hash: 'abc', length: 1, seed: 0 })).to.throw(TesseraError)
    expect(() => formatBlockKey({ hash: '0123456789abcdef', length: 0, seed: 0 })).to.throw(TesseraError)
    expect(() => formatBlockKey({ hash: '0123456789abcdef', length: 1, seed: -1 })).to.throw(TesseraError)
    expect(() => formatBlockKey({ hash: '0123456789abcdef', length: 1.5, seed: 0 })).to.throw(TesseraError)
    let caught: unknown
    try {
      await computeBlockKey(new Uint8Array(0))
    } catch (err) {
      caught = err
    }
    expect(caught).to.be.instanceOf(TesseraError).with.property('code', 'EINVAL')
  })
})
