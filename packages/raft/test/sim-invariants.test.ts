import { expect } from 'chai'
import { EntryKind, type Entry, type NodeId } from '@tessera/protocol'
import { DEFAULT_TEST_CONFIG, KvStateMachine, MemoryNode, Network, RaftInvariants, seededRng } from '../src/testing/index.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

function e(index: number, term: number, data: string): Entry {
  return { index, term, kind: EntryKind.Normal, data: enc(data) }
}

function node(id: NodeId, entries: Entry[], term: number, commit = 0): MemoryNode {
  const n = new MemoryNode(
    { ...DEFAULT_TEST_CONFIG, id, rng: seededRng(1) },
    { hardState: { term, vote: '', commit }, conf: { voters: ['a', 'b', 'c'], learners: [] }, entries, applied: commit },
  )
  n.process()
  return n
}

function makeLeader(n: MemoryNode): void {
  n.core.campaign()
  n.process()
  const term = n.core.status().term
  for (const v of ['a', 'b', 'c']) if (v !== n.id) n.core.step({ type: 'voteResp', from: v, to: n.id, term, reject: false })
  n.process()
  expect(n.core.status().role).to.equal('leader')
}

describe('testing/invariants', () => {
  it('election safety: two leaders of one term', () => {
    const a = node('a', [], 0)
    const b = node('b', [], 0)
    makeLeader(a)
    makeLeader(b)
    const v = new RaftInvariants().observe([{ id: 'a', core: a.core }, { id: 'b', core: b.core }])
    expect(v?.property).to.equal('election-safety')
  })

  it('log matching: same (index, term) but different history before it', () => {
    const a = node('a', [e(1, 1, 'x'), e(2, 2, 'y')], 2)
    const b = node('b', [e(1, 1, 'z'), e(2, 2, 'y')], 2)
    const v = new RaftInvariants().checkLogMatching([{ id: 'a', core: a.core }, { id: 'b', core: b.core }])
    expect(v?.property).to.equal('log-matching')
    expect(v?.detail).to.match(/differ at 1/)
  })

  it('log matching: divergent uncommitted tails are fine', () => {
    const a = node('a', [e(1, 1, 'x'), e(2, 2, 'y')], 2)
    const b = node('b', [e(1, 1, 'x'), e(2, 3, 'q'), e(3, 3, 'r')], 3)
    expect(new RaftInvariants().checkLogMatching([{ id: 'a', core: a.core }, { id: 'b', core: b.core }])).to.equal(undefined)
  })

  it('leader completeness: a later leader lacks a committed entry', () => {
    const inv = new RaftInvariants()
    const a = node('a', [e(1, 1, 'x'), e(2, 1, 'y')], 1, 2)
    expect(inv.observe([{ id: 'a', core: a.core }])).to.equal(undefined)
    const b = node('b', [e(1, 1, 'x')], 3)
    makeLeader(b)
    const v = inv.observe([{ id: 'b', core: b.core }])
    expect(v?.property).to.equal('leader-completeness')
    expect(v?.detail).to.match(/index 2/)
  })

  it('state machine safety: different entries applied at one index', () => {
    const inv = new RaftInvariants()
    expect(inv.onApply('a', e(5, 2, 'x'))).to.equal(undefined)
    expect(inv.onApply('b', e(5, 2, 'x'))).to.equal(undefined)
    expect(inv.onApply('c', e(5, 3, 'x'))?.property).to.equal('state-machine-safety')
    expect(inv.onApply('c', e(5, 2, 'w'))?.property).to.equal('state-machine-safety')
  })

  it('reports nothing on a healthy group through elections and partitions', () => {
    const net = Network.bootstrap(['a', 'b', 'c'])
    const inv = new RaftInvariants()
    const all = (): Array<{ id: NodeId; core: MemoryNode['core'] }> => [...net.nodes.values()].map((n) => ({ id: n.id, core: n.core }))
    net.campaign('a')
    for (let i = 0; i < 5; i++) net.propose('a', `p${i}`)
    expect(inv.observe(all())).to.equal(undefined)
    net.isolate('a')
    net.campaign('b')
    for (let i = 0; i < 5; i++) net.propose('b', `q${i}`)
    net.recover()
    net.tickAll(3)
    expect(inv.observe(all())).to.equal(undefined)
    expect(inv.checkLogMatching(all())).to.equal(undefined)
    for (const n of net.nodes.values()) for (const entry of n.applied) expect(inv.onApply(n.id, entry)).to.equal(undefined)
  })
})

describe('testing/kv', () => {
  it('applies a retried command once and answers it with the first result', () => {
    const kv = new KvStateMachine()
    expect(kv.apply({ client: 'c1', seq: 1, op: 'cas', key: 'k', expected: null, value: 'v1' })).to.equal(true)
    expect(kv.apply({ client: 'c1', seq: 1, op: 'cas', key: 'k', expected: null, value: 'v1' })).to.equal(true)
    expect(kv.executed).to.equal(1)
    expect(kv.apply({ client: 'c2', seq: 1, op: 'cas', key: 'k', expected: null, value: 'v2' })).to.equal(false)
    expect(kv.apply({ client: 'c1', seq: 2, op: 'delete', key: 'k' })).to.equal(true)
    // A stale duplicate of seq 1 is not answered and changes nothing.
    expect(kv.apply({ client: 'c1', seq: 1, op: 'cas', key: 'k', expected: null, value: 'v1' })).to.equal(undefined)
    expect(kv.read('k')).to.equal(null)
  })

  it('snapshots and restores data and sessions', () => {
    const kv = new KvStateMachine()
    kv.apply({ client: 'c1', seq: 1, op: 'put', key: 'a', value: '1' })
    const copy = KvStateMachine.restore(kv.snapshot())
    expect(copy.read('a')).to.equal('1')
    expect(copy.apply({ client: 'c1', seq: 1, op: 'put', key: 'a', value: '1' })).to.equal(true)
    expect(copy.executed).to.equal(1)
  })
})
