import { expect } from 'chai'
import { TesseraError } from '@tessera/protocol'
import type { WrittenBlock } from '../src/data/block-writer.js'
import { isAllZero, MAX_ZERO_REUSE_MS, RecentZeroBlocks, zeroReuseMs } from '../src/data/zero-blocks.js'

function block(key: string): WrittenBlock {
  return { ref: { key, len: 8, used: 8 }, copies: ['a', 'b', 'c'], underReplicated: false }
}

describe('zero blocks', () => {
  it('tells all-zero bytes from bytes with one set bit anywhere', () => {
    expect(isAllZero(new Uint8Array(0))).to.equal(true)
    const big = new Uint8Array(200_000)
    expect(isAllZero(big)).to.equal(true)
    for (const at of [0, 65_535, 65_536, 131_071, 199_999]) {
      big[at] = 0x80
      expect(isAllZero(big), `bit at ${at}`).to.equal(false)
      big[at] = 0
    }
    // A view into a larger buffer is judged on its own bytes only.
    const outer = new Uint8Array(1000).fill(7)
    outer.fill(0, 100, 900)
    expect(isAllZero(outer.subarray(100, 900))).to.equal(true)
  })

  it('reuses within a quarter of the grace period, at most a minute; not at all without GC knowledge', () => {
    expect(zeroReuseMs(undefined)).to.equal(0)
    expect(zeroReuseMs(0)).to.equal(0)
    expect(zeroReuseMs(1000)).to.equal(250)
    expect(zeroReuseMs(600_000)).to.equal(MAX_ZERO_REUSE_MS)
  })

  it('shares a running or recent write of zeros of the same length, and only that', async () => {
    let now = 1000
    const zeros = new RecentZeroBlocks(500, () => now)
    let writes = 0
    const write = (key: string) => () => { writes++; return Promise.resolve(block(key)) }
    const a = zeros.write(new Uint8Array(8), write('z8'))
    const b = zeros.write(new Uint8Array(8), write('other'))
    expect(await b).to.equal(await a)
    expect(writes).to.equal(1)
    await zeros.write(new Uint8Array(9), write('z9')) // another length: its own write
    await zeros.write(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1), write('data')) // not zeros
    expect(writes).to.equal(3)
    now += 499
    expect((await zeros.write(new Uint8Array(8), write('late'))).ref.key).to.equal('z8')
    now += 1 // the window counts from the start of the shared write
    expect((await zeros.write(new Uint8Array(8), write('fresh'))).ref.key).to.equal('fresh')
    expect(writes).to.equal(4)
  })

  it('does not share a failed write with later writers', async () => {
    const zeros = new RecentZeroBlocks(60_000)
    const failed = zeros.write(new Uint8Array(8), () => Promise.reject(new TesseraError('UNAVAILABLE', 'chain down')))
    const waiting = zeros.write(new Uint8Array(8), () => Promise.resolve(block('unused')))
    await failed.catch(() => undefined)
    await waiting.catch(() => undefined)
    let caught: unknown
    await waiting.catch((err: unknown) => { caught = err })
    expect((caught as TesseraError).code).to.equal('UNAVAILABLE')
    expect((await zeros.write(new Uint8Array(8), () => Promise.resolve(block('retry')))).ref.key).to.equal('retry')
  })

  it('never shares with a zero window', async () => {
    const zeros = new RecentZeroBlocks(0)
    let writes = 0
    const write = () => { writes++; return Promise.resolve(block('z')) }
    await zeros.write(new Uint8Array(8), write)
    await zeros.write(new Uint8Array(8), write)
    expect(writes).to.equal(2)
  })
})
