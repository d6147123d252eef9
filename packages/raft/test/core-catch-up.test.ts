/**
 * How the leader repairs a follower that missed entries (etcd-io/raft's flow control): the
 * rejection's hint points the probe at the follower's last index, one probe carries as many
 * entries as maxSizePerMsg allows, and the first successful probe switches to replicate, which
 * streams the rest through the inflights window. So the round trips needed do not grow with the
 * number of entries missed while a probe can carry them all.
 */
import { expect } from 'chai'
import type { RaftMessage } from '@tessera/protocol'
import { Network } from '../src/testing/index.js'

interface CatchUp {
  /** Message hops from the leader's first heartbeat after healing until the follower holds everything. */
  hops: number
  /** Appends the leader sent the follower in that time, and the entries they carried. */
  appends: number
  entries: number
}

/** c misses `missed` entries while isolated, then the link heals and we count hops until it has them all. */
function catchUp(missed: number, config: { maxInflightMsgs?: number; maxSizePerMsg?: number } = {}): CatchUp {
  const net = Network.bootstrap(['a', 'b', 'c'], { config })
  net.campaign('a')
  const a = net.node('a')
  const c = net.node('c')
  expect(a.core.status().role).to.equal('leader')
  net.isolate('c')
  for (let i = 0; i < missed; i++) net.propose('a', `v${i}`)
  net.recover()
  const last = a.core.status().lastIndex
  expect(c.core.status().lastIndex).to.equal(last - missed)

  a.core.tick()
  let pending: RaftMessage[] = a.process()
  const result: CatchUp = { hops: 0, appends: 0, entries: 0 }
  while (c.core.status().lastIndex < last || c.core.status().commit < last) {
    if (pending.length === 0 || result.hops > 1000) throw new Error(`no progress after ${result.hops} hops`)
    result.hops++
    const next: RaftMessage[] = []
    for (const m of pending) {
      if (m.type === 'append' && m.to === 'c') {
        result.appends++
        result.entries += m.entries.length
      }
      const target = net.node(m.to)
      target.core.step(m)
      next.push(...target.process())
    }
    pending = next
  }
  return result
}

describe('core: a lagging follower catches up', () => {
  it('in the same few round trips whether it missed 20 or 400 entries, when one probe can carry them', () => {
    const small = catchUp(20)
    const large = catchUp(400)
    // Heartbeat, its answer, an append at the optimistic next index, its rejection, the probe
    // carrying every missing entry, and the append that carries the new commit index.
    expect(small.hops).to.equal(large.hops)
    expect(large.hops).to.be.at.most(6)
    // The append at the optimistic index (rejected), the probe, the commit-only append.
    expect(large.appends).to.be.at.most(3)
  })

  it('one entry per append (maxSizePerMsg below two entries): the window streams them, one round trip per window', () => {
    // Proposals are at most 4 bytes ('v399'), an entry counts 16 bytes more: one entry per append.
    const r = catchUp(400, { maxSizePerMsg: 4, maxInflightMsgs: 64 })
    // A probe of one entry, then windows of 64 single-entry appends, refilled as acks arrive.
    expect(r.hops).to.be.at.most(6 + 2 * Math.ceil(400 / 64))
    expect(r.appends).to.be.at.most(400 + 4)
  })
})
