import { expect } from 'chai'
import { committedIndex, majority, voteResult } from '../src/core/quorum.js'

describe('core/quorum', () => {
  it('majority sizes', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).to.deep.equal([1, 2, 2, 3, 3, 4, 4])
  })

  it('commit index is the highest index a majority has matched', () => {
    const cases: Array<[number[], number]> = [
      [[5], 5],
      [[5, 3], 3],
      [[5, 3, 1], 3],
      [[1, 3, 5], 3],
      [[5, 5, 1, 1], 1],
      [[7, 6, 5, 1, 1], 5],
      [[2, 2, 2, 9, 9], 2],
    ]
    for (const [matches, want] of cases) {
      const voters = matches.map((_, k) => `n${k}`)
      expect(committedIndex(voters, (id) => matches[Number(id.slice(1))]!), String(matches)).to.equal(want)
    }
  })

  it('an empty configuration commits nothing', () => {
    expect(committedIndex([], () => 10)).to.equal(0)
  })

  it('vote results: won, lost, pending; non-voters ignored', () => {
    const voters = ['a', 'b', 'c']
    expect(voteResult(voters, new Map([['a', true]]))).to.equal('pending')
    expect(voteResult(voters, new Map([['a', true], ['b', true]]))).to.equal('won')
    expect(voteResult(voters, new Map([['a', true], ['b', false]]))).to.equal('pending')
    expect(voteResult(voters, new Map([['a', true], ['b', false], ['c', false]]))).to.equal('lost')
    expect(voteResult(voters, new Map([['a', true], ['x', true], ['y', true]]))).to.equal('pending')
    expect(voteResult(['a', 'b', 'c', 'd'], new Map([['a', true], ['b', true]]))).to.equal('pending')
    expect(voteResult(['a', 'b', 'c', 'd'], new Map([['a', false], ['b', false]]))).to.equal('lost')
    expect(voteResult(['a'], new Map([['a', true]]))).to.equal('won')
  })
})
