/**
 * Committed entries do not wait for this node's own write (core/index.ts): while a Ready is
 * outstanding, takeCommitted() hands out what a quorum of followers committed meanwhile, and
 * a leader that crashes before its own write loses nothing it applied and answered.
 */
import { expect } from 'chai'
import { EntryKind, type RaftMessage } from '@tessera/protocol'
import { RaftLog } from '../src/core/log.js'
import { DEFAULT_TEST_CONFIG, Network } from '../src/testing/index.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

function leaderOf3(): Network {
  const net = Network.bootstrap(['a', 'b', 'c'])
  net.campaign('a')
  expect(net.node('a').core.status().role).to.equal('leader')
  return net
}

/** Delivers the leader's appends to both followers; returns their acks (sent after their persist). */
function followersAck(net: Network, appends: readonly RaftMessage[]): RaftMessage[] {
  const acks: RaftMessage[] = []
  for (const id of ['b', 'c']) {
    for (const m of appends) if (m.to === id) net.node(id).core.step(m)
    acks.push(...net.node(id).process().filter((m) => m.type === 'appendResp'))
  }
  return acks
}

describe('core: committed entries while the own write is outstanding', () => {
  it('hands out entries the followers committed before the leader persisted them, once and in order', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    const first = a.propose(enc('x')) as { index: number }
    const rd = a.ready()
    expect(rd.entries.map((e) => e.index)).to.deep.equal([first.index])
    // A second proposal while the first write runs: its append leaves through takeMessages().
    const second = a.propose(enc('y')) as { index: number }
    const acks = followersAck(net, [...rd.messages, ...a.takeMessages()])
    for (const ack of acks) a.step(ack)
    expect(a.status().commit).to.equal(second.index)
    expect(a.hasReady()).to.equal(false)
    const batch = a.takeCommitted()
    expect(batch.committedEntries.map((e) => e.index)).to.deep.equal([first.index, second.index])
    expect(a.status().applied).to.equal(second.index)
    expect(a.takeCommitted().committedEntries).to.deep.equal([])
    a.advance(rd)
    // The next Ready persists the second entry and does not hand the applied ones out again.
    const next = a.ready()
    expect(next.entries.map((e) => e.index)).to.deep.equal([second.index])
    expect(next.committedEntries).to.deep.equal([])
    a.advance(next)
  })

  it('hands out nothing a quorum has not made durable: one follower ack without the leader write commits nothing', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    const commit = a.status().commit
    a.propose(enc('x'))
    const rd = a.ready()
    const b = net.node('b')
    for (const m of rd.messages) if (m.to === 'b') b.core.step(m)
    for (const ack of b.process()) a.step(ack)
    expect(a.status().commit).to.equal(commit)
    expect(a.takeCommitted().committedEntries).to.deep.equal([])
    a.advance(rd)
    expect(a.takeCommitted().committedEntries.map((e) => new TextDecoder().decode(e.data))).to.deep.equal(['x'])
  })

  it('hands out read states confirmed while a Ready is outstanding', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    a.propose(enc('x'))
    const rd = a.ready()
    expect(a.readIndex(enc('r1'))).to.equal(undefined)
    const beats = a.takeMessages().filter((m) => m.type === 'heartbeat')
    expect(beats).to.have.length(2)
    for (const beat of beats) {
      const f = net.node(beat.to)
      f.core.step(beat)
      for (const answer of f.process()) a.step(answer)
    }
    const batch = a.takeCommitted()
    expect(batch.readStates.map((s) => new TextDecoder().decode(s.context))).to.deep.equal(['r1'])
    a.advance(rd)
    expect(a.hasReady() ? a.ready().readStates : []).to.deep.equal([])
  })

  it('a leader that crashes before its own write loses nothing it applied: the next leader has it', () => {
    const net = leaderOf3()
    const a = net.node('a')
    a.core.propose(enc('acked'))
    const rd = a.core.ready()
    for (const ack of followersAck(net, rd.messages)) a.core.step(ack)
    const applied = a.core.takeCommitted().committedEntries
    expect(applied.map((e) => new TextDecoder().decode(e.data))).to.deep.equal(['acked'])
    const { index, term } = applied[0]!
    // Power cut: the Ready was never written, so a's durable log lacks the entry.
    expect(a.durable.entries.some((e) => e.index === index)).to.equal(false)
    a.restart()
    net.tickAll(4 * DEFAULT_TEST_CONFIG.electionTick)
    const leader = net.leader()!
    expect(leader.id).to.not.equal('a')
    for (const id of ['a', 'b', 'c']) {
      const n = net.node(id)
      expect(n.core.termAt(index), `${id}'s log at ${index}`).to.equal(term)
      expect(n.core.status().commit).to.be.at.least(index)
    }
    expect(net.node('a').appliedData()).to.include('acked')
  })

  it('a durable snapshot counts the entries it covers durable, even while their own write is outstanding', () => {
    const e = (index: number) => ({ index, term: 1, kind: EntryKind.Normal, data: new Uint8Array(0) })
    const log = new RaftLog(undefined, [e(1), e(2)], 2, 2)
    log.append([e(3), e(4), e(5)])
    log.commitTo(5)
    log.appliedTo(4)
    expect(log.stableIndex()).to.equal(2)
    log.compact(4, 1)
    expect(log.stableIndex()).to.equal(4)
    expect(log.unstableEntries().map((x) => x.index)).to.deep.equal([5])
  })
})
