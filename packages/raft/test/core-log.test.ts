import { expect } from 'chai'
import { EntryKind, type Entry } from '@tessera/protocol'
import { RaftLog } from '../src/core/log.js'

function ents(...terms: number[]): Entry[] {
  return terms.map((term, k) => ({ term, index: k + 1, kind: EntryKind.Normal, data: new Uint8Array([k]) }))
}

function at(index: number, term: number): Entry {
  return { term, index, kind: EntryKind.Normal, data: new Uint8Array(0) }
}

describe('core/log', () => {
  it('term lookups, first/last index and up-to-date comparison', () => {
    const log = new RaftLog(undefined, ents(1, 1, 2, 3), 0, 0)
    expect(log.firstIndex()).to.equal(1)
    expect(log.lastIndex()).to.equal(4)
    expect(log.term(0)).to.equal(0)
    expect(log.term(3)).to.equal(2)
    expect(log.term(5)).to.equal(undefined)
    expect(log.isUpToDate(4, 3)).to.equal(true)
    expect(log.isUpToDate(3, 3)).to.equal(false)
    expect(log.isUpToDate(1, 4)).to.equal(true)
    expect(log.isUpToDate(10, 2)).to.equal(false)
  })

  it('rejects an inconsistent initial log', () => {
    expect(() => new RaftLog(undefined, [at(2, 1)], 0, 0)).to.throw(/index/)
    expect(() => new RaftLog(undefined, [at(1, 2), at(2, 1)], 0, 0)).to.throw(/term/)
    expect(() => new RaftLog(undefined, [at(1, 1)], 5, 0)).to.throw(/commit/)
  })

  it('findConflict finds the first new or conflicting entry', () => {
    const log = new RaftLog(undefined, ents(1, 2, 3), 0, 0)
    expect(log.findConflict([])).to.equal(0)
    expect(log.findConflict([at(1, 1), at(2, 2)])).to.equal(0)
    expect(log.findConflict([at(2, 2), at(3, 3), at(4, 4)])).to.equal(4)
    expect(log.findConflict([at(2, 2), at(3, 4)])).to.equal(3)
  })

  it('findConflictByTerm returns the last index with term <= the given term', () => {
    const log = new RaftLog(undefined, ents(1, 1, 2, 2, 5, 5), 0, 0)
    expect(log.findConflictByTerm(6, 4)).to.deep.equal({ index: 4, term: 2 })
    expect(log.findConflictByTerm(6, 5)).to.deep.equal({ index: 6, term: 5 })
    expect(log.findConflictByTerm(10, 1)).to.deep.equal({ index: 2, term: 1 })
    expect(log.findConflictByTerm(3, 0)).to.deep.equal({ index: 0, term: 0 })
  })

  it('maybeAppend appends, truncates a conflicting suffix, and commits up to the last new entry', () => {
    const log = new RaftLog(undefined, ents(1, 1, 1), 1, 1)
    expect(log.maybeAppend(3, 2, 3, [])).to.equal(undefined)
    expect(log.maybeAppend(1, 1, 10, [at(2, 2)])).to.equal(2)
    expect(log.lastIndex()).to.equal(2)
    expect(log.committed).to.equal(2)
    expect(log.unstableEntries().map((e) => e.index)).to.deep.equal([2])
    // A matching, shorter append never truncates.
    expect(log.maybeAppend(0, 0, 2, [at(1, 1)])).to.equal(1)
    expect(log.lastIndex()).to.equal(2)
  })

  it('refuses to overwrite committed entries', () => {
    const log = new RaftLog(undefined, ents(1, 1, 1), 3, 0)
    expect(() => log.maybeAppend(1, 1, 3, [at(2, 2)])).to.throw(/committed/)
  })

  it('slice honours byte and count limits but always returns one entry', () => {
    const big = [1, 2, 3, 4].map((k) => ({ term: 1, index: k, kind: EntryKind.Normal, data: new Uint8Array(100) }))
    const log = new RaftLog(undefined, big, 0, 0)
    expect(log.slice(1, 5, 10, 100)!.length).to.equal(1)
    expect(log.slice(1, 5, 240, 100)!.length).to.equal(2)
    expect(log.slice(1, 5, 1e9, 3)!.length).to.equal(3)
    expect(log.slice(5, 5, 1e9, 3)!.length).to.equal(0)
  })

  it('stableTo ignores acknowledgements of entries replaced since', () => {
    const log = new RaftLog(undefined, [], 0, 0)
    log.append([at(1, 1), at(2, 1)])
    log.append([at(2, 2)])
    log.stableTo(2, 1)
    expect(log.unstableEntries().map((e) => e.index)).to.deep.equal([1, 2])
    log.stableTo(2, 2)
    expect(log.unstableEntries()).to.deep.equal([])
  })

  it('compaction drops covered entries; slices below the snapshot need a snapshot', () => {
    const log = new RaftLog(undefined, ents(1, 1, 2, 2, 3), 4, 4)
    expect(() => log.compact(5, 3)).to.throw(/applied/)
    expect(() => log.compact(3, 1)).to.throw(/term/)
    log.compact(3, 2)
    expect(log.firstIndex()).to.equal(4)
    expect(log.term(3)).to.equal(2)
    expect(log.term(2)).to.equal(undefined)
    expect(log.slice(3, 6, 1e9, 10)).to.equal(undefined)
    expect(log.slice(4, 6, 1e9, 10)!.map((e) => e.index)).to.deep.equal([4, 5])
    expect(log.nextCommittedEntries()).to.deep.equal([])
  })

  it('restore replaces the log with a pending snapshot until it is durable', () => {
    const log = new RaftLog(undefined, ents(1, 1), 1, 1)
    log.restore({ meta: { index: 10, term: 4, conf: { voters: ['a'], learners: [] } }, data: new Uint8Array(0) })
    expect(log.lastIndex()).to.equal(10)
    expect(log.committed).to.equal(10)
    expect(log.hasNextCommittedEntries()).to.equal(false)
    log.stableSnapTo(10)
    expect(log.applied).to.equal(10)
    expect(log.pendingSnapshot).to.equal(undefined)
  })
})
