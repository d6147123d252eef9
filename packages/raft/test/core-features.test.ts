/**
 * Scenario tests for the features beyond Figure 2 (modelled on etcd-io/raft's raft_test.go):
 * PreVote, CheckQuorum and the leader lease, batching and pipelining, ReadIndex, leadership
 * transfer, membership changes, snapshots streamed in chunks, restarts, the Ready contract and
 * untrusted input.
 */
import { expect } from 'chai'
import { EntryKind, TesseraError, type RaftMessage } from '@tessera/protocol'
import { bootstrapState, decodeConfChange, emptyState, RaftCore } from '../src/core/index.js'
import { DEFAULT_TEST_CONFIG, MemoryNode, Network, seededRng } from '../src/testing/index.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const ctx = (n: number): Uint8Array => new Uint8Array([n >> 8, n & 0xff])

function leaderOf3(options: ConstructorParameters<typeof Network>[0] = {}): Network {
  const net = Network.bootstrap(['a', 'b', 'c'], options)
  net.campaign('a')
  expect(net.node('a').core.status().role).to.equal('leader')
  return net
}

function isError(x: unknown, code: string): boolean {
  return x instanceof TesseraError && x.code === code
}

describe('core: bootstrap', () => {
  it('founding members apply the bootstrap entries and share one configuration', () => {
    const net = Network.bootstrap(['c', 'a', 'b'])
    for (const n of net.nodes.values()) {
      expect(n.core.status().conf).to.deep.equal({ voters: ['a', 'b', 'c'], learners: [] })
      expect(n.core.status()).to.include({ commit: 6, applied: 6, term: 1 })
    }
    net.campaign('b')
    expect(net.node('b').core.status()).to.include({ role: 'leader', term: 2, commit: 7 })
  })

  it('a single-member group elects itself and commits at once', () => {
    const net = Network.bootstrap(['a'])
    net.tick('a', 2 * DEFAULT_TEST_CONFIG.electionTick)
    const a = net.node('a')
    expect(a.core.status().role).to.equal('leader')
    const p = net.propose('a', 'solo')
    expect(p).to.deep.include({ term: 2 })
    expect(a.appliedData()).to.deep.equal(['solo'])
  })
})

describe('core: PreVote', () => {
  it('a partitioned node does not inflate its term, and rejoining does not disturb the leader', () => {
    const net = leaderOf3({ config: { preVote: true, checkQuorum: false } })
    const term = net.node('a').core.status().term
    net.isolate('c')
    net.tick('c', 100)
    expect(net.node('c').core.status().term).to.equal(term)
    expect(net.node('c').core.status().role).to.equal('preCandidate')
    net.recover()
    net.tickAll(2)
    expect(net.node('a').core.status()).to.include({ role: 'leader', term })
    expect(net.node('c').core.status()).to.include({ role: 'follower', leader: 'a', term })
  })

  it('without PreVote the same partition forces a new election on rejoin', () => {
    const net = leaderOf3({ config: { preVote: false, checkQuorum: false } })
    const term = net.node('a').core.status().term
    net.isolate('c')
    net.tick('c', 100)
    expect(net.node('c').core.status().term).to.be.above(term + 1)
    net.recover()
    net.tickAll(30)
    expect(net.node('a').core.status().term).to.be.above(term)
  })

  it('a pre-vote win leads to a real election in the next term', () => {
    const net = Network.bootstrap(['a', 'b', 'c'], { config: { preVote: true } })
    net.campaign('a')
    const types = new Set(net.delivered.map((m) => m.type))
    expect([...types]).to.include.members(['preVote', 'preVoteResp', 'vote', 'voteResp'])
    expect(net.node('a').core.status()).to.include({ role: 'leader', term: 2 })
  })

  it('a pre-vote is refused to a candidate whose log is behind', () => {
    const net = leaderOf3({ config: { preVote: true } })
    net.isolate('c')
    net.propose('a', 'x')
    net.recover()
    net.isolate('a')
    net.campaign('c')
    expect(net.node('c').core.status().role).to.not.equal('leader')
    expect(net.node('b').core.status().term).to.equal(2)
  })
})

describe('core: CheckQuorum and the leader lease', () => {
  it('a leader steps down when it has not heard from a quorum within an election timeout', () => {
    const net = leaderOf3({ config: { checkQuorum: true } })
    net.isolate('a')
    // Activity seen before the partition counts for the first check; the second one fails.
    net.tick('a', DEFAULT_TEST_CONFIG.electionTick)
    expect(net.node('a').core.status().role).to.equal('leader')
    net.tick('a', DEFAULT_TEST_CONFIG.electionTick)
    expect(net.node('a').core.status()).to.include({ role: 'follower', leader: '' })
  })

  it('a leader that hears from its followers keeps leading', () => {
    const net = leaderOf3({ config: { checkQuorum: true } })
    net.tick('a', 5 * DEFAULT_TEST_CONFIG.electionTick)
    expect(net.node('a').core.status().role).to.equal('leader')
  })

  it('followers within the lease ignore a disruptive candidate', () => {
    const net = leaderOf3({ config: { checkQuorum: true } })
    const term = net.node('a').core.status().term
    net.isolate('c')
    net.tick('c', 2 * DEFAULT_TEST_CONFIG.electionTick)
    expect(net.node('c').core.status().term).to.equal(term + 1)
    net.recover()
    // c's vote request reaches b, which heard from a just now: ignored.
    net.node('c').core.campaign()
    net.send(net.node('c').process())
    expect(net.node('b').core.status()).to.include({ term, vote: 'a', leader: 'a' })
    expect(net.node('a').core.status().role).to.equal('leader')
  })
})

describe('core: batching, pipelining and fast back-off', () => {
  it('splits a backlog into appends of at most maxSizePerMsg bytes', () => {
    const net = leaderOf3({ config: { maxSizePerMsg: 1000 } })
    net.isolate('c')
    for (let i = 0; i < 40; i++) net.propose('a', 'x'.repeat(100))
    net.recover()
    net.delivered = []
    net.tickAll(3)
    const toC = net.delivered.filter((m): m is RaftMessage & { type: 'append' } => m.type === 'append' && m.to === 'c' && m.entries.length > 0)
    expect(toC.length).to.be.at.least(4)
    for (const m of toC) expect(m.entries.reduce((s, e) => s + e.data.length + 16, 0)).to.be.at.most(1000)
    expect(net.node('c').appliedData()).to.have.length(40)
  })

  it('keeps up to maxInflightMsgs appends in flight to a follower in replicate state, then pauses', () => {
    const net = leaderOf3({ config: { maxInflightMsgs: 3 } })
    const a = net.node('a')
    a.process()
    for (let i = 0; i < 6; i++) a.core.propose(enc(`p${i}`))
    const toB = a.process().filter((m) => m.type === 'append' && m.to === 'b')
    expect(toB).to.have.length(3)
    expect(a.core.status().progress.b).to.include({ state: 'replicate', inflight: 3 })
    // Acknowledging the first frees one slot; the leader sends the next one.
    net.send([toB[0]!])
    expect(a.core.status().progress.b!.match).to.be.at.least(8)
  })

  it('a follower with a long divergent log converges in a few round trips (conflict hints)', () => {
    const net = leaderOf3()
    net.isolate('a')
    // a, cut off, accepts 50 proposals it can never commit.
    for (let i = 0; i < 50; i++) net.node('a').core.propose(enc(`lost${i}`))
    net.node('a').process()
    net.recover()
    net.isolate('a')
    net.campaign('b')
    for (let i = 0; i < 20; i++) net.propose('b', `kept${i}`)
    net.recover()
    net.delivered = []
    net.tickAll(2)
    const rejects = net.delivered.filter((m) => m.type === 'appendResp' && m.reject && m.from === 'a')
    expect(rejects.length).to.be.at.most(3)
    expect(net.node('a').appliedData()).to.deep.equal(Array.from({ length: 20 }, (_, i) => `kept${i}`))
  })
})

describe('core: ReadIndex', () => {
  it('answers after a quorum acknowledges a heartbeat carrying the context', () => {
    const net = leaderOf3()
    const a = net.node('a')
    a.process()
    expect(a.core.readIndex(ctx(1))).to.equal(undefined)
    const hbs = a.process()
    expect(hbs.filter((m) => m.type === 'heartbeat' && m.context.length === 2)).to.have.length(2)
    expect(a.readStates).to.deep.equal([])
    net.send(hbs.filter((m) => m.to === 'b'))
    expect(a.readStates).to.deep.equal([{ index: a.core.status().commit, context: ctx(1) }])
  })

  it('an isolated leader never answers a read', () => {
    const net = leaderOf3()
    net.isolate('a')
    net.node('a').core.readIndex(ctx(2))
    net.tick('a', 5)
    expect(net.node('a').readStates).to.deep.equal([])
  })

  it('a single-member group answers at once', () => {
    const net = Network.bootstrap(['a'])
    net.campaign('a')
    net.node('a').core.readIndex(ctx(3))
    net.node('a').process()
    expect(net.node('a').readStates.map((r) => r.context)).to.deep.equal([ctx(3)])
  })

  it('waits until the leader has committed an entry of its term', () => {
    const net = Network.bootstrap(['a', 'b', 'c'])
    net.ignore('appendResp')
    net.campaign('a')
    const a = net.node('a')
    // a leads term 2 but its no-op is not committed: the acks were lost.
    expect(a.core.status()).to.include({ role: 'leader', term: 2, commit: 6 })
    expect(a.core.readIndex(ctx(4))).to.equal(undefined)
    net.send(a.process())
    expect(a.readStates).to.deep.equal([])
    net.recover()
    net.tick('a', 1)
    expect(a.readStates.map((r) => r.context)).to.deep.equal([ctx(4)])
    expect(a.readStates[0]!.index).to.equal(7)
  })

  it('followers refuse with NOT_LEADER and name the leader', () => {
    const net = leaderOf3()
    const err = net.node('b').core.readIndex(ctx(5))
    expect(isError(err, 'NOT_LEADER')).to.equal(true)
    expect(err!.details?.leaderId).to.equal('a')
  })
})

describe('core: leadership transfer', () => {
  it('hands leadership to an up-to-date follower', () => {
    const net = leaderOf3()
    expect(net.node('a').core.transferLeadership('b')).to.equal(undefined)
    net.send(net.node('a').process())
    expect(net.node('b').core.status()).to.include({ role: 'leader', term: 3 })
    expect(net.node('a').core.status()).to.include({ role: 'follower', leader: 'b' })
  })

  it('catches a lagging transferee up first, and drops proposals meanwhile', () => {
    const net = leaderOf3()
    net.isolate('c')
    for (let i = 0; i < 5; i++) net.propose('a', `e${i}`)
    net.recover()
    net.isolate('c')
    const a = net.node('a')
    a.core.transferLeadership('c')
    expect(isError(a.core.propose(enc('during')), 'UNAVAILABLE')).to.equal(true)
    net.recover()
    net.tick('a', 1)
    expect(net.node('c').core.status().role).to.equal('leader')
    expect(net.node('c').appliedData()).to.deep.equal(['e0', 'e1', 'e2', 'e3', 'e4'])
  })

  it('is aborted after an election timeout when the transferee does not take over', () => {
    const net = leaderOf3()
    net.isolate('c')
    const a = net.node('a')
    a.core.transferLeadership('c')
    expect(a.core.status().leadTransferee).to.equal('c')
    net.tick('a', DEFAULT_TEST_CONFIG.electionTick)
    expect(a.core.status()).to.include({ role: 'leader', leadTransferee: '' })
    expect(a.core.propose(enc('after'))).to.not.be.instanceOf(TesseraError)
  })

  it('refuses learners and non-members; a transfer to itself is a no-op', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    expect(isError(a.transferLeadership('zz'), 'EINVAL')).to.equal(true)
    expect(a.transferLeadership('a')).to.equal(undefined)
    expect(a.status().leadTransferee).to.equal('')
  })

  it('the transferee campaigns even inside the leader lease (CheckQuorum)', () => {
    const net = leaderOf3({ config: { checkQuorum: true, preVote: true } })
    net.node('a').core.transferLeadership('c')
    net.send(net.node('a').process())
    expect(net.node('c').core.status().role).to.equal('leader')
  })
})

describe('core: membership changes', () => {
  function addLearner(net: Network, id: string): void {
    net.addNode(id, emptyState())
    const r = net.node('a').core.proposeConfChange({ type: 'addLearner', node: id })
    expect(r).to.not.be.instanceOf(TesseraError)
    net.send(net.node('a').process())
    net.tickAll(2)
  }

  it('a learner receives the log but does not vote or count toward commit', () => {
    const net = leaderOf3()
    addLearner(net, 'd')
    expect(net.node('a').core.status().conf).to.deep.equal({ voters: ['a', 'b', 'c'], learners: ['d'] })
    net.propose('a', 'v')
    expect(net.node('d').appliedData()).to.deep.equal(['v'])
    expect(net.node('d').core.status().conf.learners).to.deep.equal(['d'])
    // With b and c cut off, the learner's acks cannot commit anything.
    net.isolate('b')
    net.isolate('c')
    const before = net.node('a').core.status().commit
    net.propose('a', 'w')
    net.tickAll(1)
    expect(net.node('a').core.status().commit).to.equal(before)
    // And a learner never campaigns.
    net.tick('d', 100)
    expect(net.node('d').core.status().role).to.equal('follower')
  })

  it('promotes a learner to voter and grows the quorum', () => {
    const net = leaderOf3()
    addLearner(net, 'd')
    const r = net.node('a').core.proposeConfChange({ type: 'promote', node: 'd' })
    expect(r).to.not.be.instanceOf(TesseraError)
    net.send(net.node('a').process())
    net.tickAll(1)
    for (const n of net.nodes.values()) expect(n.core.status().conf.voters).to.deep.equal(['a', 'b', 'c', 'd'])
    // Four voters: a and b alone can no longer commit.
    net.isolate('c')
    net.isolate('d')
    const before = net.node('a').core.status().commit
    net.propose('a', 'needs-three')
    expect(net.node('a').core.status().commit).to.equal(before)
  })

  it('allows one unapplied change at a time', () => {
    const net = leaderOf3()
    net.isolate('b')
    net.isolate('c')
    const a = net.node('a').core
    expect(a.proposeConfChange({ type: 'addLearner', node: 'd' })).to.not.be.instanceOf(TesseraError)
    expect(isError(a.proposeConfChange({ type: 'addLearner', node: 'e' }), 'EBUSY')).to.equal(true)
  })

  it('a new leader proposes no change before an entry of its term is committed', () => {
    const net = Network.bootstrap(['a', 'b', 'c'])
    net.isolate('b')
    net.isolate('c')
    net.node('a').core.campaign()
    net.node('a').process()
    net.node('a').core.step({ type: 'voteResp', from: 'b', to: 'a', term: 2, reject: false })
    net.node('a').process()
    const a = net.node('a').core
    expect(a.status().role).to.equal('leader')
    expect(isError(a.proposeConfChange({ type: 'addLearner', node: 'd' }), 'EBUSY')).to.equal(true)
  })

  it('validates changes against the configuration', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    expect(isError(a.proposeConfChange({ type: 'addLearner', node: 'b' }), 'EEXIST')).to.equal(true)
    expect(isError(a.proposeConfChange({ type: 'promote', node: 'b' }), 'EINVAL')).to.equal(true)
    expect(isError(a.proposeConfChange({ type: 'remove', node: 'q' }), 'ENOENT')).to.equal(true)
    expect(isError(net.node('b').core.proposeConfChange({ type: 'addLearner', node: 'q' }), 'NOT_LEADER')).to.equal(true)
  })

  it('removes a follower; the rest keep committing with the smaller quorum', () => {
    const net = leaderOf3()
    net.node('a').core.proposeConfChange({ type: 'remove', node: 'c' })
    net.send(net.node('a').process())
    net.tickAll(1)
    expect(net.node('a').core.status().conf.voters).to.deep.equal(['a', 'b'])
    net.isolate('c')
    net.propose('a', 'two')
    expect(net.node('b').core.status().commit).to.be.at.least(net.node('a').core.status().commit - 1)
    net.tickAll(1)
    expect(net.node('b').appliedData()).to.deep.equal(['two'])
    // The removed node never campaigns.
    net.recover()
    net.tick('c', 100)
    expect(net.node('c').core.status().role).to.equal('follower')
  })

  it('a removed leader steps down once its removal is committed; another takes over', () => {
    const net = leaderOf3()
    net.node('a').core.proposeConfChange({ type: 'remove', node: 'a' })
    net.send(net.node('a').process())
    net.tickAll(1)
    expect(net.node('a').core.status().role).to.equal('follower')
    net.tickAll(3 * DEFAULT_TEST_CONFIG.electionTick)
    const leader = net.leader()
    expect(leader?.id).to.be.oneOf(['b', 'c'])
    const conf = leader!.core.status().conf
    expect(conf.voters).to.deep.equal(['b', 'c'])
    const applied = leader!.applied.filter((e) => e.kind === EntryKind.ConfChange).map((e) => decodeConfChange(e.data))
    expect(applied.length).to.be.greaterThan(0)
  })
})

describe('core: snapshots', () => {
  it('a follower behind the compacted log receives the snapshot in chunks, then appends', () => {
    const net = leaderOf3({ config: { snapshotChunkBytes: 10 } })
    net.isolate('c')
    for (let i = 0; i < 10; i++) net.propose('a', `s${i}`)
    const a = net.node('a')
    const data = enc('application-state-of-45-bytes-long..........')
    const snap = a.takeSnapshot(data)
    expect(a.core.status().firstIndex).to.equal(snap.meta.index + 1)
    net.propose('a', 'after')
    net.recover()
    net.delivered = []
    net.tickAll(2)
    const chunks = net.delivered.filter((m) => m.type === 'snapshot' && m.to === 'c')
    expect(chunks.length).to.equal(Math.ceil(data.length / 10))
    const c = net.node('c')
    expect(c.restoredFrom?.data).to.deep.equal(data)
    expect(c.restoredFrom?.meta.index).to.equal(snap.meta.index)
    expect(c.appliedData()).to.deep.equal(['after'])
    expect(c.core.status().conf.voters).to.deep.equal(['a', 'b', 'c'])
  })

  it('entries kept behind the snapshot let a follower that lags a little catch up without it', () => {
    const net = leaderOf3()
    net.isolate('c')
    for (let i = 0; i < 3; i++) net.propose('a', `k${i}`)
    const a = net.node('a')
    const snap = a.takeSnapshot(enc('state'), 10)
    expect(a.core.status().firstIndex).to.be.at.most(snap.meta.index - 9)
    net.recover()
    net.delivered = []
    net.tickAll(2)
    expect(net.delivered.filter((m) => m.type === 'snapshot')).to.deep.equal([])
    expect(net.node('c').appliedData()).to.deep.equal(['k0', 'k1', 'k2'])
  })

  it('refuses a snapshot beyond the applied index or with the wrong term', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    const st = a.status()
    expect(() => a.compact({ meta: { index: st.applied + 1, term: 2, conf: st.conf }, data: new Uint8Array(0) })).to.throw(/applied/)
    expect(() => a.compact({ meta: { index: st.applied, term: 9, conf: st.conf }, data: new Uint8Array(0) })).to.throw(/term/)
  })

  it('a lost chunk is sent again on a heartbeat timeout', () => {
    const net = leaderOf3({ config: { snapshotChunkBytes: 8 } })
    net.isolate('c')
    for (let i = 0; i < 3; i++) net.propose('a', `s${i}`)
    net.node('a').takeSnapshot(enc('0123456789abcdefghij'))
    net.recover()
    net.ignore('snapshotResp')
    net.tick('a', 1)
    const first = net.delivered.filter((m) => m.type === 'snapshot').length
    expect(first).to.be.greaterThan(0)
    net.tick('a', 3)
    expect(net.delivered.filter((m) => m.type === 'snapshot').length).to.be.greaterThan(first)
    net.recover()
    net.tickAll(3)
    expect(net.node('c').restoredFrom?.data).to.deep.equal(enc('0123456789abcdefghij'))
  })

  it('a restarted node recovers from its snapshot and durable log', () => {
    const net = leaderOf3()
    for (let i = 0; i < 4; i++) net.propose('a', `r${i}`)
    net.tickAll(1)
    const b = net.node('b')
    b.takeSnapshot(enc('b-state'))
    net.propose('a', 'tail')
    net.tickAll(1)
    const before = b.core.status()
    b.restart()
    b.process()
    const after = b.core.status()
    expect(after).to.include({ term: before.term, commit: before.commit, lastIndex: before.lastIndex, firstIndex: before.firstIndex })
    expect(b.appliedData()).to.deep.equal(['tail'])
    expect(after.conf).to.deep.equal(before.conf)
  })
})

describe('core: Ready contract and untrusted input', () => {
  it('persists the vote before the vote response leaves (same Ready, mustSync)', () => {
    const net = Network.bootstrap(['a', 'b', 'c'])
    const b = net.node('b')
    b.core.step({ type: 'vote', from: 'a', to: 'b', term: 2, lastLogIndex: 6, lastLogTerm: 1, transfer: false })
    const rd = b.core.ready()
    expect(rd.hardState).to.deep.include({ term: 2, vote: 'a' })
    expect(rd.mustSync).to.equal(true)
    expect(rd.messages).to.deep.equal([])
    expect(rd.messagesAfterPersist).to.deep.equal([{ type: 'voteResp', from: 'b', to: 'a', term: 2, reject: false }])
    b.core.advance(rd)
  })

  it('the leader sends its appends at once but counts itself only for entries advance() reports persisted', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    const b = net.node('b').core
    const commit = a.status().commit
    a.propose(enc('x'))
    const rd = a.ready()
    const index = rd.entries.at(-1)!.index
    expect(rd.messagesAfterPersist).to.deep.equal([])
    const toB = rd.messages.find((m) => m.type === 'append' && m.to === 'b')!
    expect(toB.type === 'append' && toB.entries.map((e) => e.index)).to.deep.equal([index])
    // The follower acks only after persisting.
    b.step(toB)
    const brd = b.ready()
    expect(brd.messages).to.deep.equal([])
    expect(brd.messagesAfterPersist).to.have.length(1)
    expect(brd.messagesAfterPersist[0]).to.include({ type: 'appendResp', index, reject: false })
    b.advance(brd)
    // One follower's ack and a leader write still in flight: not a majority yet.
    a.step(brd.messagesAfterPersist[0]!)
    expect(a.status().commit).to.equal(commit)
    a.advance(rd)
    expect(a.status().commit).to.equal(index)
  })

  it('two followers commit an entry the leader has not persisted yet (a majority without it)', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    a.propose(enc('x'))
    const rd = a.ready()
    const index = rd.entries.at(-1)!.index
    for (const id of ['b', 'c']) {
      const f = net.node(id).core
      f.step(rd.messages.find((m) => m.to === id)!)
      const frd = f.ready()
      f.advance(frd)
      a.step(frd.messagesAfterPersist[0]!)
    }
    expect(a.status().commit).to.equal(index)
    a.advance(rd)
  })

  it('a single-member leader commits its entry only after advance() reports it persisted', () => {
    const net = Network.bootstrap(['a'])
    net.tick('a', 2 * DEFAULT_TEST_CONFIG.electionTick)
    const a = net.node('a').core
    expect(a.status().role).to.equal('leader')
    const { index } = a.propose(enc('solo')) as { index: number }
    const rd = a.ready()
    expect(rd.entries.map((e) => e.index)).to.deep.equal([index])
    expect(rd.committedEntries.map((e) => e.index)).to.not.include(index)
    expect(a.status().commit).to.be.below(index)
    a.advance(rd)
    expect(a.status().commit).to.equal(index)
    expect(a.ready().committedEntries.map((e) => e.index)).to.include(index)
  })

  it('a commit-only change does not require an fsync', () => {
    const net = leaderOf3()
    const b = net.node('b')
    net.node('a').core.propose(enc('x'))
    const apps = net.node('a').process().filter((m) => m.to === 'b')
    b.core.step(apps[0]!)
    b.process()
    b.core.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 8, context: new Uint8Array(0) })
    const rd = b.core.ready()
    expect(rd.hardState?.commit).to.equal(8)
    expect(rd.mustSync).to.equal(false)
    b.core.advance(rd)
  })

  it('ready() twice without advance() is a programming error; hasReady() waits for advance()', () => {
    const net = leaderOf3()
    const a = net.node('a').core
    a.propose(enc('x'))
    const rd = a.ready()
    expect(a.hasReady()).to.equal(false)
    expect(() => a.ready()).to.throw(/advance/)
    a.advance(rd)
  })

  it('drops malformed or misaddressed messages without throwing', () => {
    const net = leaderOf3()
    const b = net.node('b').core
    const before = b.status()
    const bad: unknown[] = [
      { type: 'append', from: 'a', to: 'zz', term: 2, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 },
      { type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 7, prevTerm: 2, entries: [{ term: 2, index: 99, kind: 0, data: new Uint8Array(0) }], commit: 0 },
      { type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 7, prevTerm: 2, entries: [{ term: 9, index: 8, kind: 0, data: new Uint8Array(0) }], commit: 0 },
      { type: 'append', from: 'a', to: 'b', term: -1, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 },
      { type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 1.5, context: new Uint8Array(0) },
      { type: 'snapshot', from: 'a', to: 'b', term: 2, meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, offset: 0, data: new Uint8Array(0), done: true },
      { type: 'bogus', from: 'a', to: 'b', term: 2 },
      { type: 'vote', from: 'b', to: 'b', term: 9, lastLogIndex: 0, lastLogTerm: 0, transfer: false },
    ]
    for (const m of bad) expect(() => b.step(m as RaftMessage)).to.not.throw()
    expect(b.status()).to.deep.equal(before)
  })

  it('an append that would rewrite committed entries changes nothing', () => {
    const net = leaderOf3()
    const b = net.node('b')
    const commit = b.core.status().commit
    b.core.step({ type: 'append', from: 'c', to: 'b', term: 2, prevIndex: commit - 1, prevTerm: b.core.termAt(commit - 1)!, entries: [{ term: 2, index: commit, kind: EntryKind.Normal, data: enc('evil') }], commit: 0 })
    expect(b.process()).to.deep.equal([{ type: 'appendResp', from: 'b', to: 'c', term: 2, reject: false, index: commit, hintIndex: 0, hintTerm: 0 }])
    expect(b.core.termAt(commit)).to.equal(2)
    expect(b.core.entriesFrom(commit)[0]!.data).to.have.length(0)
  })

  it('is deterministic: the same seed and inputs give the same messages', () => {
    const run = (): string => {
      const core = RaftCore.create({ ...DEFAULT_TEST_CONFIG, id: 'a', rng: seededRng(9) }, bootstrapState(['a', 'b', 'c']))
      const node = new MemoryNode({ ...DEFAULT_TEST_CONFIG, id: 'a', rng: seededRng(9) }, bootstrapState(['a', 'b', 'c']))
      node.core = core
      const out: RaftMessage[] = []
      for (let i = 0; i < 40; i++) {
        core.tick()
        out.push(...node.process())
      }
      return JSON.stringify(out)
    }
    expect(run()).to.equal(run())
  })
})
