/** The driver's stage timer: one followed proposal at a time, times from propose to each stage. */
import { expect } from 'chai'
import type { RaftMessage } from '@tessera/protocol'
import { StageTimer } from '../src/driver/index.js'
import { causeOf } from '../src/driver/stage-timer.js'

const entry = (index: number) => ({ index, term: 2, kind: 0, data: new Uint8Array(1) })

describe('driver: StageTimer', () => {
  it('times a leader proposal through persisted, sent, acked, committed and applied', () => {
    let now = 100
    const timer = new StageTimer(() => now)
    timer.proposed(7)
    timer.proposed(8) // a second proposal while one is followed is not followed
    now = 101
    timer.sent([{ type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 6, prevTerm: 2, entries: [entry(7)], commit: 6 } as RaftMessage])
    now = 103
    timer.persisted(7)
    now = 104
    timer.received([{ type: 'appendResp', from: 'b', to: 'a', term: 2, reject: true, index: 7, hintIndex: 0, hintTerm: 0 } as RaftMessage])
    now = 105
    timer.received([{ type: 'appendResp', from: 'b', to: 'a', term: 2, reject: false, index: 7, hintIndex: 0, hintTerm: 0 } as RaftMessage])
    now = 106
    timer.committed(7)
    now = 108
    timer.applied(7)
    const { leader, follower } = timer.report()
    expect(leader.sent?.p50Ms).to.equal(1)
    expect(leader.persisted?.p50Ms).to.equal(3)
    expect(leader.acked?.p50Ms).to.equal(5)
    expect(leader.committed?.p50Ms).to.equal(6)
    expect(leader.applied).to.deep.equal({ count: 1, p50Ms: 8, p99Ms: 8, meanMs: 8 })
    expect(follower).to.deep.equal({})
    // Applied ends the sample: the next proposal is followed.
    timer.proposed(9)
    now = 110
    timer.applied(9)
    expect(timer.report().leader.applied?.count).to.equal(2)
  })

  it('times a follower from receiving an append to persisting and acking it', () => {
    let now = 0
    const timer = new StageTimer(() => now)
    timer.received([{ type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 4, prevTerm: 2, entries: [entry(5), entry(6)], commit: 4 } as RaftMessage])
    now = 2
    timer.persisted(5)
    expect(timer.report().follower.persisted).to.equal(undefined)
    timer.persisted(6)
    now = 3
    timer.sent([{ type: 'appendResp', from: 'b', to: 'a', term: 2, reject: false, index: 6, hintIndex: 0, hintTerm: 0 } as RaftMessage])
    const { follower } = timer.report()
    expect(follower.persisted?.p50Ms).to.equal(2)
    expect(follower.acked?.p50Ms).to.equal(3)
  })

  it('gives up on a proposal that never finishes, and clear() forgets the samples', () => {
    let now = 0
    const timer = new StageTimer(() => now)
    timer.proposed(3)
    now = 5000
    timer.proposed(4)
    now = 5001
    timer.applied(4)
    expect(timer.report().leader.applied?.p50Ms).to.equal(1)
    timer.clear()
    expect(timer.report()).to.deep.equal({ leader: {}, follower: {} })
  })

  it('describes the slowest commits stage by stage and names what held each up', () => {
    let now = 0
    const timer = new StageTimer(() => now)
    const ack = (from: string, index: number) => ({ type: 'appendResp', from, to: 'a', term: 2, reject: false, index, hintIndex: 0, hintTerm: 0 }) as RaftMessage
    // A quick commit, then one whose followers both acked at 1 ms while the leader's own write took 9.
    for (const [index, persistedAt] of [[7, 1], [8, 9]] as const) {
      const t0 = now
      timer.proposed(index)
      now = t0 + 0.1
      timer.sent([{ type: 'append', from: 'a', to: 'b', term: 2, prevIndex: index - 1, prevTerm: 2, entries: [entry(index)], commit: index - 1 } as RaftMessage])
      now = t0 + 1
      timer.received([ack('b', index), ack('c', index)])
      now = t0 + persistedAt
      timer.persisted(index)
      timer.committed(index)
      timer.applied(index)
    }
    const tail = timer.report().tail!
    expect(tail).to.include({ samples: 2, tailCount: 1, thresholdMs: 9 })
    expect(tail.meanMs).to.include({ allAcked: 1, persisted: 9, applied: 9 })
    expect(tail.causes).to.deep.equal({ send: 0, ownWrite: 1, quorumWrites: 0, commitNotice: 0, apply: 0 })
  })

  it('classifies a slow commit by its first late stage', () => {
    const base = { sent: 0.1, acked: 1, allAcked: 1.2, persisted: 1.1, committed: 1.3, applied: 1.4 }
    expect(causeOf({ ...base, sent: 3, acked: 4, allAcked: 4, persisted: 4, committed: 4, applied: 4 })).to.equal('send')
    expect(causeOf({ ...base, acked: 8, allAcked: 9, persisted: 8.5, committed: 8.6, applied: 8.7 })).to.equal('quorumWrites')
    expect(causeOf({ ...base, committed: 6, applied: 6.1 })).to.equal('commitNotice')
    expect(causeOf({ ...base, applied: 5 })).to.equal('apply')
  })
})
