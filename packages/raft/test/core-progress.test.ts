import { expect } from 'chai'
import { Inflights } from '../src/core/inflights.js'
import { Progress } from '../src/core/progress.js'

describe('core/inflights', () => {
  it('fills, frees up to an index, frees the first, wraps around', () => {
    const inf = new Inflights(3)
    inf.add(1)
    inf.add(4)
    inf.add(7)
    expect(inf.full()).to.equal(true)
    expect(() => inf.add(8)).to.throw()
    inf.freeLE(4)
    expect(inf.count).to.equal(1)
    inf.add(9)
    inf.add(12)
    expect(inf.full()).to.equal(true)
    inf.freeFirstOne()
    expect(inf.count).to.equal(2)
    inf.freeLE(100)
    expect(inf.count).to.equal(0)
    inf.freeFirstOne()
    expect(inf.count).to.equal(0)
  })

  it('refuses indexes that do not increase', () => {
    const inf = new Inflights(4)
    inf.add(5)
    expect(() => inf.add(5)).to.throw()
  })
})

describe('core/progress', () => {
  it('probe pauses after one send and resumes on an ack', () => {
    const pr = new Progress(10, 4, false)
    expect(pr.isPaused()).to.equal(false)
    pr.probeSent = true
    expect(pr.isPaused()).to.equal(true)
    expect(pr.maybeUpdate(9)).to.equal(true)
    expect(pr.isPaused()).to.equal(false)
    expect(pr.match).to.equal(9)
    expect(pr.next).to.equal(10)
  })

  it('replicate pauses when the inflights window is full', () => {
    const pr = new Progress(1, 2, false)
    pr.becomeReplicate()
    pr.optimisticUpdate(3)
    pr.inflights.add(3)
    pr.optimisticUpdate(5)
    pr.inflights.add(5)
    expect(pr.isPaused()).to.equal(true)
    expect(pr.next).to.equal(6)
    pr.inflights.freeLE(3)
    expect(pr.isPaused()).to.equal(false)
  })

  it('maybeDecrTo: replicate falls back to match+1; stale rejections are ignored', () => {
    const pr = new Progress(1, 8, false)
    pr.maybeUpdate(5)
    pr.becomeReplicate()
    pr.optimisticUpdate(20)
    expect(pr.maybeDecrTo(4, 0)).to.equal(false)
    expect(pr.maybeDecrTo(12, 0)).to.equal(true)
    expect(pr.next).to.equal(6)
  })

  it('maybeDecrTo: probe only honours the answer to the current probe and uses the hint', () => {
    const pr = new Progress(11, 8, false)
    expect(pr.maybeDecrTo(7, 3)).to.equal(false)
    expect(pr.maybeDecrTo(10, 3)).to.equal(true)
    expect(pr.next).to.equal(4)
    // Never below match + 1.
    pr.maybeUpdate(2)
    pr.next = 8
    expect(pr.maybeDecrTo(7, 0)).to.equal(true)
    expect(pr.next).to.equal(3)
  })

  it('snapshot state is paused; becomeProbe afterwards starts past the snapshot', () => {
    const pr = new Progress(3, 8, false)
    pr.becomeSnapshot({ meta: { index: 50, term: 3, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) })
    expect(pr.isPaused()).to.equal(true)
    pr.becomeProbe()
    expect(pr.state).to.equal('probe')
    expect(pr.next).to.equal(51)
    expect(pr.transfer).to.equal(undefined)
  })
})
