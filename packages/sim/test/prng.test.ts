import { expect } from 'chai'
import { Prng, parseSeed } from '../src/prng.js'

function draws(prng: Prng, n: number): number[] {
  return Array.from({ length: n }, () => prng.next())
}

describe('Prng', () => {
  it('matches the xoshiro128** reference outputs from state [1, 2, 3, 4]', () => {
    const prng = Prng.fromState([1, 2, 3, 4])
    // First outputs of the C reference implementation for s = {1, 2, 3, 4}.
    expect(draws(prng, 6)).to.deep.equal([11520, 0, 5927040, 70819200, 2031721883, 1637235492])
  })

  it('gives the same sequence for the same seed, as number or bigint', () => {
    expect(draws(new Prng(42), 100)).to.deep.equal(draws(new Prng(42n), 100))
    expect(draws(new Prng(42), 10)).to.not.deep.equal(draws(new Prng(43), 10))
  })

  it('uses all 64 bits of a bigint seed', () => {
    expect(draws(new Prng(1n << 40n), 5)).to.not.deep.equal(draws(new Prng(1n << 41n), 5))
    expect(draws(new Prng((1n << 64n) + 7n), 5)).to.deep.equal(draws(new Prng(7n), 5))
  })

  it('rejects seeds that are not safe integers', () => {
    expect(() => new Prng(1.5)).to.throw(RangeError)
    expect(() => new Prng(2 ** 60)).to.throw(RangeError)
  })

  it('restores a stream from its state', () => {
    const a = new Prng(9)
    a.next()
    const b = Prng.fromState(a.state())
    expect(draws(a, 20)).to.deep.equal(draws(b, 20))
    expect(() => Prng.fromState([0, 0, 0, 0])).to.throw(RangeError)
  })

  it('fork() gives a child whose draws do not shift the parent', () => {
    const a = new Prng(7)
    const b = new Prng(7)
    const childA = a.fork()
    const childB = b.fork()
    draws(childA, 50) // an extra 50 draws in one child only
    expect(draws(a, 20)).to.deep.equal(draws(b, 20))
    expect(draws(childB, 5)).to.not.deep.equal(draws(new Prng(7), 5))
    // Children forked in the same order are identical.
    expect(draws(new Prng(7).fork(), 10)).to.deep.equal(draws(new Prng(7).fork(), 10))
  })

  it('float() stays in [0, 1) with a sensible mean', () => {
    const prng = new Prng(1)
    let sum = 0
    let min = 1
    let max = 0
    for (let i = 0; i < 20000; i++) {
      const x = prng.float()
      min = Math.min(min, x)
      max = Math.max(max, x)
      sum += x
    }
    expect(min).to.be.at.least(0)
    expect(max).to.be.below(1)
    expect(sum / 20000).to.be.closeTo(0.5, 0.02)
  })

  it('int(lo, hi) covers [lo, hi) uniformly and never hi', () => {
    const prng = new Prng(2)
    const counts = new Array<number>(6).fill(0)
    let outside = 0
    for (let i = 0; i < 60000; i++) {
      const x = prng.int(-2, 4)
      if (x < -2 || x >= 4 || !Number.isInteger(x)) outside++
      else counts[x + 2]!++
    }
    expect(outside).to.equal(0)
    for (const c of counts) expect(c).to.be.closeTo(10000, 600)
    expect(prng.int(5, 6)).to.equal(5)
    const big = prng.int(0, 2 ** 40)
    expect(big).to.be.at.least(0).and.below(2 ** 40)
    expect(() => prng.int(3, 3)).to.throw(RangeError)
    expect(() => prng.int(0, 1.5)).to.throw(RangeError)
  })

  it('chance(p) draws once whatever p is, and respects the probability', () => {
    const a = new Prng(3)
    const b = new Prng(3)
    a.chance(0)
    b.chance(1)
    expect(a.next()).to.equal(b.next())
    const prng = new Prng(4)
    let hits = 0
    for (let i = 0; i < 20000; i++) if (prng.chance(0.25)) hits++
    expect(hits / 20000).to.be.closeTo(0.25, 0.02)
    expect(() => prng.chance(1.5)).to.throw(RangeError)
    expect(() => prng.chance(Number.NaN)).to.throw(RangeError)
  })

  it('pick and shuffle', () => {
    const prng = new Prng(5)
    expect(() => prng.pick([])).to.throw(RangeError)
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) seen.add(prng.pick(['a', 'b', 'c']))
    expect([...seen].sort()).to.deep.equal(['a', 'b', 'c'])
    const items = Array.from({ length: 50 }, (_, i) => i)
    const shuffled = prng.shuffle([...items])
    expect([...shuffled].sort((x, y) => x - y)).to.deep.equal(items)
    expect(shuffled).to.not.deep.equal(items)
  })

  it('exponential(mean) has the requested mean', () => {
    const prng = new Prng(6)
    let sum = 0
    let min = Infinity
    for (let i = 0; i < 20000; i++) {
      const x = prng.exponential(10)
      min = Math.min(min, x)
      sum += x
    }
    expect(min).to.be.at.least(0)
    expect(sum / 20000).to.be.closeTo(10, 0.5)
    expect(prng.exponential(0)).to.equal(0)
  })

  it('bytes(n) is deterministic and of the right length', () => {
    expect(new Prng(8).bytes(7)).to.deep.equal(new Prng(8).bytes(7))
    expect(new Prng(8).bytes(7).length).to.equal(7)
  })

  it('parseSeed accepts decimal and hex up to 64 bits', () => {
    expect(parseSeed('123')).to.equal(123n)
    expect(parseSeed(' 0xff ')).to.equal(255n)
    expect(parseSeed('18446744073709551615')).to.equal((1n << 64n) - 1n)
    expect(parseSeed('18446744073709551616')).to.equal(undefined)
    expect(parseSeed('-1')).to.equal(undefined)
    expect(parseSeed('abc')).to.equal(undefined)
  })
})
