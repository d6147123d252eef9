/**
 * Figure 8 of the Raft paper, on three nodes and driven by hand: why a leader must not commit
 * an entry of an earlier term by counting replicas (§5.4.2). With the planted bug the leader
 * "commits" and applies an entry that a later leader overwrites, so two nodes apply different
 * entries at one index; the correct core never commits it.
 */
import { expect } from 'chai'
import type { PlantedBugs } from '../src/core/index.js'
import { Network } from '../src/testing/index.js'

function figure8(bugs: PlantedBugs | undefined): Network {
  // One entry per append (maxSizePerMsg 100), so an old entry and the new no-op travel apart.
  const net = Network.fromConf(['a', 'b', 'c'], { config: { maxSizePerMsg: 100, ...(bugs !== undefined ? { plantedBugs: bugs } : {}) } })
  net.campaign('a')
  // (1) a leads term 1 and appends X at index 2, replicated to nobody.
  net.isolate('a')
  net.propose('a', 'X'.repeat(70))
  net.recover()
  // (2) b leads term 2 with c's vote; its no-op at index 2 reaches nobody.
  net.isolate('a')
  net.ignore('append')
  net.campaign('b')
  expect(net.node('b').core.status()).to.include({ role: 'leader', term: 2 })
  net.recover()
  // (3) b is cut off. a learns of term 2 and wins term 3 with c's vote. It sends X (term 1)
  //     to c on its own, but every append carrying its term-3 no-op to c is lost.
  net.isolate('b')
  const a = net.node('a')
  a.core.step({ type: 'heartbeatResp', from: 'c', to: 'a', term: 2, context: new Uint8Array(0) })
  a.process()
  // (The first probe carrying the no-op is let through: c lacks index 2 and rejects it.)
  const c = net.node('c')
  net.dropWhere((m) => m.type === 'append' && m.to === 'c' && m.entries.some((e) => e.term === 3) && c.core.termAt(2) !== undefined)
  net.campaign('a')
  expect(a.core.status()).to.include({ role: 'leader', term: 3 })
  expect(a.core.status().progress.c!.match).to.equal(2)
  // (4) a is cut off for good; b returns and leads term 4 with c's vote (b's log ends in term 2).
  net.recover()
  net.isolate('a')
  const b = net.node('b')
  b.core.step({ type: 'heartbeatResp', from: 'c', to: 'b', term: 3, context: new Uint8Array(0) })
  b.process()
  net.campaign('b')
  expect(net.node('b').core.status()).to.include({ role: 'leader', term: 4 })
  net.tickAll(2)
  return net
}

describe('core: Figure 8 (three nodes, by hand)', () => {
  it('the correct core never commits X, so b may overwrite it: all nodes apply the same', () => {
    const net = figure8(undefined)
    expect(net.node('a').core.status().commit).to.equal(1)
    expect(net.node('a').appliedData()).to.deep.equal([])
    expect(net.node('c').core.termAt(2)).to.equal(2)
    expect(net.node('c').core.status().commit).to.equal(3)
  })

  it('with the planted bug, a applies X at index 2 while b and c apply b\'s entry there', () => {
    const net = figure8({ commitPreviousTermByCounting: true })
    const a = net.node('a')
    const c = net.node('c')
    expect(a.applied.find((e) => e.index === 2)?.term).to.equal(1)
    expect(c.applied.find((e) => e.index === 2)?.term).to.equal(2)
  })
})
