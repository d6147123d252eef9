/**
 * Scenario tests for the rules of the Raft paper's Figure 2 and §5, on real RaftCore instances
 * (modelled on etcd-io/raft's raft_paper_test.go). Messages are inspected and delivered by hand
 * or through the synchronous test Network.
 */
import { expect } from 'chai'
import { EntryKind, type Entry, type NodeId, type RaftMessage } from '@tessera/protocol'
import type { PlantedBugs, RaftConfig } from '../src/core/index.js'
import { DEFAULT_TEST_CONFIG, MemoryNode, Network, seededRng } from '../src/testing/index.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

function ent(index: number, term: number, data = ''): Entry {
  return { index, term, kind: EntryKind.Normal, data: enc(data) }
}

function logOf(...terms: number[]): Entry[] {
  return terms.map((t, k) => ent(k + 1, t))
}

interface NodeOpts {
  entries?: Entry[]
  term?: number
  vote?: NodeId
  commit?: number
  config?: Partial<RaftConfig>
  seed?: number
}

function ids(n: number): NodeId[] {
  return Array.from({ length: n }, (_, k) => String.fromCharCode(97 + k))
}

function newNode(id: NodeId, voters: NodeId[], o: NodeOpts = {}): MemoryNode {
  const commit = o.commit ?? 0
  const node = new MemoryNode(
    { ...DEFAULT_TEST_CONFIG, ...o.config, id, rng: seededRng(o.seed ?? 42) },
    { hardState: { term: o.term ?? 0, vote: o.vote ?? '', commit }, conf: { voters, learners: [] }, entries: o.entries ?? [], applied: commit },
  )
  node.process()
  return node
}

function grant(to: NodeId, from: NodeId, term: number): RaftMessage {
  return { type: 'voteResp', from, to, term, reject: false }
}

function appendResp(to: NodeId, from: NodeId, term: number, index: number): RaftMessage {
  return { type: 'appendResp', from, to, term, reject: false, index, hintIndex: 0, hintTerm: 0 }
}

/** Makes `node` leader through a real election, granting every vote. */
function elect(node: MemoryNode, voters: NodeId[]): RaftMessage[] {
  node.core.campaign()
  node.process()
  const term = node.core.status().term
  for (const v of voters) if (v !== node.id) node.core.step(grant(node.id, v, term))
  expect(node.core.status().role).to.equal('leader')
  return node.process()
}

function ofType<T extends RaftMessage['type']>(msgs: RaftMessage[], type: T): Array<RaftMessage & { type: T }> {
  return msgs.filter((m): m is RaftMessage & { type: T } => m.type === type)
}

describe('core: Raft paper §5.1 terms', () => {
  it('starts as a follower at term 0', () => {
    const n = newNode('a', ids(3))
    expect(n.core.status()).to.include({ role: 'follower', term: 0, leader: '' })
  })

  for (const start of ['follower', 'candidate', 'leader'] as const) {
    it(`a ${start} that sees a higher term adopts it and becomes follower`, () => {
      const n = newNode('a', ids(3))
      if (start === 'candidate') n.core.campaign()
      if (start === 'leader') elect(n, ids(3))
      n.process()
      n.core.step({ type: 'append', from: 'b', to: 'a', term: 5, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 })
      expect(n.core.status()).to.include({ role: 'follower', term: 5, leader: 'b' })
      const rd = n.core.ready()
      expect(rd.hardState?.term).to.equal(5)
      expect(rd.mustSync).to.equal(true)
      n.core.advance(rd)
    })
  }

  it('ignores requests with a stale term', () => {
    const n = newNode('a', ids(3), { term: 2, entries: logOf(1, 2) })
    n.core.step({ type: 'append', from: 'b', to: 'a', term: 1, prevIndex: 2, prevTerm: 2, entries: [ent(3, 1)], commit: 3 })
    n.core.step({ type: 'vote', from: 'c', to: 'a', term: 1, lastLogIndex: 9, lastLogTerm: 1, transfer: false })
    expect(n.process()).to.deep.equal([])
    expect(n.core.status()).to.include({ term: 2, lastIndex: 2, commit: 0, vote: '' })
  })

  it('with CheckQuorum, answers a stale leader with its term so that the stale leader steps down', () => {
    const n = newNode('a', ids(3), { term: 2, config: { checkQuorum: true } })
    n.core.step({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0, context: new Uint8Array(0) })
    const out = n.process()
    expect(out).to.have.length(1)
    expect(out[0]).to.include({ type: 'appendResp', to: 'b', term: 2 })
    const stale = newNode('b', ids(3), { term: 0 })
    elect(stale, ids(3))
    stale.core.step(out[0]!)
    expect(stale.core.status()).to.include({ role: 'follower', term: 2 })
  })

  it('the answer to a stale leader claims no entry: delivered once its sender leads in that term, it counts as no match', () => {
    // Found by the simulator (seed 17413485384062000607): a follower answered a stale heartbeat
    // with its own last index; the old leader, by then leader of the follower's term, counted
    // that as a match of entries it never checked, and committed over a divergent suffix.
    const a = newNode('a', ids(3), { term: 2, entries: logOf(1, 1, 2, 2), config: { preVote: true } })
    a.core.step({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0, context: new Uint8Array(0) })
    const [answer] = a.process()
    expect(answer).to.include({ type: 'appendResp', to: 'b', term: 2, reject: false, index: 0 })
    const b = newNode('b', ids(3), { term: 1, entries: logOf(1, 1) })
    elect(b, ids(3))
    const term = b.core.status().term
    b.core.step({ ...answer!, term } as RaftMessage)
    b.process()
    expect(b.core.status().commit).to.equal(0)
  })
})

describe('core: Raft paper §5.2 leader election', () => {
  it('the leader sends a heartbeat to every follower each heartbeat interval', () => {
    const n = newNode('a', ids(3), { config: { heartbeatTick: 2 } })
    elect(n, ids(3))
    n.core.tick()
    expect(ofType(n.process(), 'heartbeat')).to.have.length(0)
    n.core.tick()
    const hb = ofType(n.process(), 'heartbeat')
    expect(hb.map((m) => m.to).sort()).to.deep.equal(['b', 'c'])
    for (const m of hb) expect(m).to.include({ term: 1, commit: 0 })
  })

  for (const start of ['follower', 'candidate'] as const) {
    it(`a ${start} starts an election after its election timeout: new term, votes for itself, asks every voter`, () => {
      const n = newNode('a', ids(3))
      if (start === 'candidate') n.core.campaign()
      n.process()
      const before = n.core.status().term
      for (let i = 0; i < 2 * DEFAULT_TEST_CONFIG.electionTick; i++) n.core.tick()
      const st = n.core.status()
      expect(st).to.include({ role: 'candidate', term: before + 1, vote: 'a' })
      const rd = n.core.ready()
      expect(rd.hardState).to.deep.include({ term: before + 1, vote: 'a' })
      const reqs = ofType(rd.messagesAfterPersist, 'vote')
      expect(reqs.map((m) => m.to).sort()).to.deep.equal(['b', 'c'])
      for (const m of reqs) expect(m).to.include({ term: before + 1, lastLogIndex: 0, lastLogTerm: 0 })
      n.core.advance(rd)
    })
  }

  const table: Array<[number, Record<string, boolean>, string]> = [
    [1, {}, 'leader'],
    [3, { b: true, c: true }, 'leader'],
    [3, { b: true }, 'leader'],
    [5, { b: true, c: true, d: true, e: true }, 'leader'],
    [5, { b: true, c: true, d: true }, 'leader'],
    [5, { b: true, c: true }, 'leader'],
    [3, {}, 'candidate'],
    [5, { b: true }, 'candidate'],
    [5, { b: false, c: false }, 'candidate'],
    [5, { b: false, c: false, d: false }, 'follower'],
    [3, { b: false, c: false }, 'follower'],
  ]
  for (const [size, votes, want] of table) {
    it(`one round of votes in a group of ${size} with ${JSON.stringify(votes)} ends as ${want}`, () => {
      const n = newNode('a', ids(size))
      n.core.campaign()
      n.process()
      for (const [from, ok] of Object.entries(votes)) n.core.step({ type: 'voteResp', from, to: 'a', term: 1, reject: !ok })
      expect(n.core.status().role).to.equal(want)
      expect(n.core.status().term).to.equal(1)
    })
  }

  const voteTable: Array<[NodeId, NodeId, boolean]> = [
    ['', 'b', true],
    ['', 'c', true],
    ['b', 'b', true],
    ['c', 'c', true],
    ['b', 'c', false],
    ['c', 'b', false],
  ]
  for (const [vote, from, granted] of voteTable) {
    it(`a follower that voted for '${vote}' ${granted ? 'grants' : 'refuses'} ${from} in the same term (first come, first served)`, () => {
      const n = newNode('a', ids(3), { term: 1, vote })
      n.core.step({ type: 'vote', from, to: 'a', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false })
      const out = n.process()
      expect(out).to.deep.equal([{ type: 'voteResp', from: 'a', to: from, term: 1, reject: !granted }])
    })
  }

  for (const term of [1, 2]) {
    it(`a candidate that hears from a leader of term ${term} (>= its own) becomes its follower`, () => {
      const n = newNode('a', ids(3))
      n.core.campaign()
      n.process()
      n.core.step({ type: 'append', from: 'b', to: 'a', term, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 })
      expect(n.core.status()).to.include({ role: 'follower', term, leader: 'b' })
    })
  }

  it('election timeouts are randomized within [electionTick, 2*electionTick)', () => {
    const et = DEFAULT_TEST_CONFIG.electionTick
    const seen = new Set<number>()
    for (let seed = 1; seed <= 200; seed++) {
      const n = newNode('a', ids(3), { seed })
      let ticks = 0
      while (n.core.status().role === 'follower') {
        n.core.tick()
        ticks++
        expect(ticks).to.be.below(2 * et + 1)
      }
      expect(ticks).to.be.at.least(et)
      seen.add(ticks)
    }
    expect([...seen].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: et }, (_, k) => et + k))
  })
})

describe('core: Raft paper §5.3 log replication', () => {
  function committedGroup(size = 3): Network {
    const net = Network.fromConf(ids(size))
    net.campaign('a')
    expect(net.node('a').core.status()).to.include({ role: 'leader', commit: 1 })
    return net
  }

  it('the leader appends a proposal and sends it with the previous index/term and its commit', () => {
    const net = committedGroup()
    const a = net.node('a')
    const r = a.core.propose(enc('x'))
    expect(r).to.deep.equal({ index: 2, term: 1 })
    const rd = a.core.ready()
    expect(rd.entries.map((e) => [e.index, e.term])).to.deep.equal([[2, 1]])
    const apps = ofType(rd.messages, 'append')
    expect(apps.map((m) => m.to).sort()).to.deep.equal(['b', 'c'])
    for (const m of apps) {
      expect(m).to.include({ term: 1, prevIndex: 1, prevTerm: 1, commit: 1 })
      expect(m.entries.map((e) => e.index)).to.deep.equal([2])
    }
    a.core.advance(rd)
  })

  it('commits once a majority stores the entry, applies it, and tells the followers', () => {
    const net = committedGroup()
    net.drop('a', 'c')
    net.propose('a', 'x')
    expect(net.node('a').core.status().commit).to.equal(2)
    expect(net.node('a').appliedData()).to.deep.equal(['x'])
    net.tick('a')
    expect(net.node('b').appliedData()).to.deep.equal(['x'])
    expect(net.node('c').appliedData()).to.deep.equal([])
    net.recover()
    net.tick('a')
    expect(net.node('c').appliedData()).to.deep.equal(['x'])
  })

  const ackTable: Array<[number, number, boolean]> = [
    [1, 0, true],
    [3, 0, false],
    [3, 1, true],
    [3, 2, true],
    [5, 0, false],
    [5, 1, false],
    [5, 2, true],
    [5, 4, true],
  ]
  for (const [size, acks, committed] of ackTable) {
    it(`group of ${size}: ${acks} follower acks ${committed ? 'commit' : 'do not commit'} the entry`, () => {
      const voters = ids(size)
      const a = newNode('a', voters)
      elect(a, voters)
      for (const v of voters.slice(1)) a.core.step(appendResp('a', v, 1, 1))
      a.process()
      a.core.propose(enc('x'))
      a.process()
      for (const v of voters.slice(1, 1 + acks)) a.core.step(appendResp('a', v, 1, 2))
      a.process()
      expect(a.core.status().commit === 2).to.equal(committed)
    })
  }

  it('committing an entry commits every preceding entry, including earlier terms', () => {
    const a = newNode('a', ids(3), { term: 2, entries: logOf(1, 2) })
    elect(a, ids(3))
    a.core.propose(enc('x'))
    a.process()
    a.core.step(appendResp('a', 'b', 3, 4))
    a.process()
    expect(a.core.status().commit).to.equal(4)
    expect(a.applied.map((e) => [e.index, e.term])).to.deep.equal([[1, 1], [2, 2], [3, 3], [4, 3]])
  })

  it('a follower applies what the leader says is committed, in order', () => {
    const b = newNode('b', ids(3))
    b.core.step({ type: 'append', from: 'a', to: 'b', term: 1, prevIndex: 0, prevTerm: 0, entries: [ent(1, 1, 'p'), ent(2, 1, 'q'), ent(3, 1, 'r')], commit: 2 })
    b.process()
    expect(b.appliedData()).to.deep.equal(['p', 'q'])
    b.core.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 3, context: new Uint8Array(0) })
    b.process()
    expect(b.appliedData()).to.deep.equal(['p', 'q', 'r'])
  })

  const checkTable: Array<[string, number, number, Partial<Extract<RaftMessage, { type: 'appendResp' }>>]> = [
    ['below commit: acknowledged at the commit index', 0, 0, { reject: false, index: 1 }],
    ['matching (2, 2): accepted', 2, 2, { reject: false, index: 2 }],
    ['term mismatch at 2: rejected, hint (1, 1)', 2, 1, { reject: true, index: 2, hintIndex: 1, hintTerm: 1 }],
    ['beyond our log (3, 3): rejected, hint (2, 2)', 3, 3, { reject: true, index: 3, hintIndex: 2, hintTerm: 2 }],
  ]
  for (const [name, prevIndex, prevTerm, want] of checkTable) {
    it(`consistency check: ${name}`, () => {
      const b = newNode('b', ids(3), { term: 2, entries: logOf(1, 2), commit: 1 })
      b.core.step({ type: 'append', from: 'a', to: 'b', term: 3, prevIndex, prevTerm, entries: [], commit: 1 })
      const out = b.process()
      expect(out).to.have.length(1)
      expect(out[0]).to.deep.include({ type: 'appendResp', to: 'a', term: 3, ...want })
    })
  }

  const appendTable: Array<[number, number, Entry[], Array<[number, number]>]> = [
    [2, 2, [ent(3, 3)], [[1, 1], [2, 2], [3, 3]]],
    [1, 1, [ent(2, 3), ent(3, 4)], [[1, 1], [2, 3], [3, 4]]],
    [0, 0, [ent(1, 1)], [[1, 1], [2, 2]]],
    [0, 0, [ent(1, 3)], [[1, 3]]],
  ]
  for (const [prevIndex, prevTerm, entries, want] of appendTable) {
    it(`appends after (${prevIndex}, ${prevTerm}), deleting conflicting entries → ${JSON.stringify(want)}`, () => {
      const b = newNode('b', ids(3), { term: 2, entries: logOf(1, 2) })
      b.core.step({ type: 'append', from: 'a', to: 'b', term: 4, prevIndex, prevTerm, entries, commit: 0 })
      b.process()
      expect(b.durable.entries.map((e) => [e.index, e.term])).to.deep.equal(want)
      expect(b.core.entriesFrom(1).map((e) => [e.index, e.term])).to.deep.equal(want)
    })
  }

  // Figure 7: the leader of term 8 (log terms 1 1 1 4 4 5 5 6 6 6) and the followers (a)-(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  }
  for (const [name, terms] of Object.entries(followers)) {
    it(`Figure 7 (${name}): the leader brings the follower's log in line with its own`, () => {
      const voters = ['L', 'F', 'T']
      const net = new Network({})
      net.addNode('L', { hardState: { term: 7, vote: '', commit: 0 }, conf: { voters, learners: [] }, entries: logOf(...leaderLog), applied: 0 })
      net.addNode('F', { hardState: { term: 7, vote: '', commit: 0 }, conf: { voters, learners: [] }, entries: logOf(...terms), applied: 0 })
      net.addNode('T', { hardState: { term: 7, vote: '', commit: 0 }, conf: { voters, learners: [] }, entries: [], applied: 0 })
      net.campaign('L')
      expect(net.node('L').core.status()).to.include({ role: 'leader', term: 8 })
      net.tick('L')
      const want = net.node('L').core.entriesFrom(1).map((e) => [e.index, e.term])
      expect(want).to.have.length(11)
      expect(net.node('F').core.entriesFrom(1).map((e) => [e.index, e.term])).to.deep.equal(want)
      expect(net.node('F').core.status().commit).to.equal(11)
      // Conflict hints: at most a couple of rejections, not one per missing entry.
      const rejections = net.delivered.filter((m) => m.type === 'appendResp' && m.reject && m.from === 'F')
      expect(rejections.length).to.be.at.most(2)
    })
  }
})

describe('core: Raft paper §5.4 safety', () => {
  it('a vote request carries the candidate\'s last log index and term', () => {
    const n = newNode('a', ids(3), { term: 2, entries: logOf(1, 2) })
    n.core.campaign()
    const reqs = ofType(n.process(), 'vote')
    expect(reqs).to.have.length(2)
    for (const m of reqs) expect(m).to.include({ term: 3, lastLogIndex: 2, lastLogTerm: 2 })
  })

  const upToDate: Array<[number[], number, number, boolean]> = [
    [[1, 1], 2, 1, true],
    [[1, 1], 3, 1, true],
    [[1, 1], 1, 1, false],
    [[1, 1], 1, 2, true],
    [[1, 2], 1, 1, false],
    [[1, 2], 3, 1, false],
    [[1, 2], 1, 2, false],
    [[1, 2], 2, 2, true],
    [[1, 2], 3, 2, true],
    [[1, 2], 1, 3, true],
  ]
  for (const [terms, lastIndex, lastTerm, granted] of upToDate) {
    it(`a voter with log ${JSON.stringify(terms)} ${granted ? 'grants' : 'refuses'} a candidate at (${lastIndex}, ${lastTerm})`, () => {
      const n = newNode('a', ids(3), { term: 2, entries: logOf(...terms) })
      n.core.step({ type: 'vote', from: 'b', to: 'a', term: 3, lastLogIndex: lastIndex, lastLogTerm: lastTerm, transfer: false })
      const out = n.process()
      expect(out).to.have.length(1)
      expect(out[0]).to.include({ type: 'voteResp', reject: !granted })
    })
  }

  it('planted bug voteWithoutLogCheck grants a vote to an out-of-date candidate', () => {
    const bugs: PlantedBugs = { voteWithoutLogCheck: true }
    const n = newNode('a', ids(3), { term: 2, entries: logOf(1, 2), config: { plantedBugs: bugs } })
    n.core.step({ type: 'vote', from: 'b', to: 'a', term: 3, lastLogIndex: 1, lastLogTerm: 1, transfer: false })
    expect(n.process()[0]).to.include({ type: 'voteResp', reject: false })
  })

  function figure8Leader(bugs?: PlantedBugs): MemoryNode {
    // A new leader of term 3 holds an uncommitted entry of term 2 at index 2.
    const a = newNode('a', ids(5), { term: 2, entries: logOf(1, 2), commit: 1, config: bugs === undefined ? {} : { plantedBugs: bugs } })
    elect(a, ids(5))
    expect(a.core.status().lastIndex).to.equal(3)
    return a
  }

  it('§5.4.2: an entry of an earlier term is not committed by counting replicas', () => {
    const a = figure8Leader()
    a.core.step(appendResp('a', 'b', 3, 2))
    a.core.step(appendResp('a', 'c', 3, 2))
    a.process()
    expect(a.core.status().commit).to.equal(1)
    a.core.step(appendResp('a', 'b', 3, 3))
    a.core.step(appendResp('a', 'c', 3, 3))
    a.process()
    expect(a.core.status().commit).to.equal(3)
  })

  it('planted bug commitPreviousTermByCounting commits the earlier-term entry (the Figure 8 hazard)', () => {
    const a = figure8Leader({ commitPreviousTermByCounting: true })
    a.core.step(appendResp('a', 'b', 3, 2))
    a.core.step(appendResp('a', 'c', 3, 2))
    a.process()
    expect(a.core.status().commit).to.equal(2)
  })

  it('Leader Completeness: a committed entry is in the log of every later leader', () => {
    const net = Network.fromConf(ids(5))
    net.campaign('a')
    net.isolate('d')
    net.isolate('e')
    net.propose('a', 'committed')
    expect(net.node('a').core.status().commit).to.equal(2)
    // d and e lack the entry: they cannot win, whatever their term.
    net.recover()
    net.isolate('a')
    net.campaign('d')
    expect(net.node('d').core.status().role).to.not.equal('leader')
    net.campaign('b')
    const b = net.node('b').core
    expect(b.status().role).to.equal('leader')
    expect(b.entriesFrom(2)[0]?.data).to.deep.equal(enc('committed'))
    net.tickAll(1)
    for (const id of ['b', 'c', 'd', 'e']) expect(net.node(id).appliedData()).to.deep.equal(['committed'])
  })
})
