/** The driver's stage timer: one followed proposal at a time, times from propose to each stage. */
import { expect } from 'chai'
import type { RaftMessage } from '@tessera/protocol'
import { StageTimer } from '../src/driver/index.js'

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
})
