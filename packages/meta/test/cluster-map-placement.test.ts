import { expect } from 'chai'
import { Prng } from '@tessera/sim'
import { choosePlacement, type Candidate } from '../src/index.js'

const GiB = 1024 ** 3

function candidates(spec: [id: string, zone: string, freeGiB: number][]): Candidate[] {
  return spec.map(([id, zone, free]) => ({ id, address: `127.0.0.1:${7000 + Number(id.slice(1))}`, zone, freeBytes: free * GiB }))
}

describe('placement', () => {
  it('picks distinct servers, at most the count asked, none without room for the block', () => {
    const prng = new Prng(1)
    const pool = candidates([['c1', '', 10], ['c2', '', 10], ['c3', '', 0], ['c4', '', 10]])
    for (let i = 0; i < 200; i++) {
      const chosen = choosePlacement(pool, 3, 4 * 1024 * 1024, () => prng.float())
      expect(chosen.map((c) => c.id).sort()).to.deep.equal(['c1', 'c2', 'c4'])
    }
    expect(choosePlacement(pool, 3, 11 * GiB, () => prng.float())).to.deep.equal([])
    expect(choosePlacement(pool, 2, 1, () => prng.float())).to.have.length(2)
  })

  it('spreads copies across zones when zones exist', () => {
    const prng = new Prng(2)
    const pool = candidates([['c1', 'a', 10], ['c2', 'a', 10], ['c3', 'a', 10], ['c4', 'b', 1], ['c5', 'c', 1]])
    for (let i = 0; i < 200; i++) {
      const zones = choosePlacement(pool, 3, 1, () => prng.float()).map((c) => c.zone)
      expect(new Set(zones).size, zones.join(',')).to.equal(3)
    }
    // Two zones, three copies: both zones used, the third copy wherever there is room.
    const two = candidates([['c1', 'a', 10], ['c2', 'a', 10], ['c3', 'b', 10]])
    for (let i = 0; i < 50; i++) {
      expect(new Set(choosePlacement(two, 3, 1, () => prng.float()).map((c) => c.zone)).size).to.equal(2)
    }
  })

  it('draws servers in proportion to their free space', () => {
    const prng = new Prng(3)
    const pool = candidates([['c1', '', 30], ['c2', '', 10], ['c3', '', 10], ['c4', '', 10]])
    const heads = new Map<string, number>()
    const runs = 6000
    for (let i = 0; i < runs; i++) {
      const head = choosePlacement(pool, 1, 1, () => prng.float())[0]!.id
      heads.set(head, (heads.get(head) ?? 0) + 1)
    }
    expect(heads.get('c1')! / runs).to.be.closeTo(0.5, 0.04)
    for (const id of ['c2', 'c3', 'c4']) expect(heads.get(id)! / runs).to.be.closeTo(1 / 6, 0.03)
  })

  it('is a function of its random stream (same seed, same choices)', () => {
    const pool = candidates([['c1', 'a', 3], ['c2', 'b', 5], ['c3', 'a', 7], ['c4', 'c', 11], ['c5', 'b', 13]])
    const run = (seed: number) => {
      const prng = new Prng(seed)
      return Array.from({ length: 50 }, () => choosePlacement(pool, 3, 1, () => prng.float()).map((c) => c.id).join(','))
    }
    expect(run(9)).to.deep.equal(run(9))
    expect(run(9)).to.not.deep.equal(run(10))
  })
})
