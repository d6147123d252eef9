import { expect } from 'chai'
import { TesseraError } from '@tessera/protocol'
import { encodeKvCommand } from './support/kv.js'
import { LoopbackNetwork } from './support/loopback.js'
import { TestCluster, loopbackEndpoints, waitFor, type Member } from './support/cluster.js'

async function rejection(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    return err as TesseraError
  }
  throw new Error('expected a rejection')
}

function followers(cluster: TestCluster, leader: Member): Member[] {
  return cluster.running().filter((m) => m.id !== leader.id)
}

describe('RaftNode: three members over the loopback network', function () {
  this.timeout(20_000)
  let network: LoopbackNetwork
  let cluster: TestCluster

  beforeEach(async () => {
    network = new LoopbackNetwork()
    cluster = await TestCluster.create(['m1', 'm2', 'm3'], loopbackEndpoints(network), { snapshotEntries: 10_000 })
  })

  afterEach(async () => {
    await cluster.close()
  })

  it('elects one leader that every member knows', async () => {
    const leader = await cluster.leader()
    for (const m of cluster.running()) {
      expect(m.node.leaderId()).to.equal(leader.id)
      expect(m.node.isLeader()).to.equal(m.id === leader.id)
    }
    expect(leader.node.status().conf.voters).to.deep.equal(['m1', 'm2', 'm3'])
  })

  it('resolves a proposal with the apply result and applies it on every member', async () => {
    const leader = await cluster.leader()
    const first = await leader.node.propose(encodeKvCommand({ op: 'put', key: 'a', value: '1' }))
    expect(first).to.equal(null)
    const second = await leader.node.propose(encodeKvCommand({ op: 'put', key: 'a', value: '2' }))
    expect(second).to.equal('1')
    await cluster.applied(leader.node.appliedIndex())
    for (const m of cluster.running()) expect(m.kv.get('a')).to.equal('2')
  })

  it('answers many concurrent proposals in order and exactly once per session', async () => {
    const leader = await cluster.leader()
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => leader.node.propose(encodeKvCommand({ op: 'put', key: `k${i % 10}`, value: `v${i}`, client: 'c', seq: i + 1 }))),
    )
    results.forEach((result, i) => expect(result).to.equal(i < 10 ? null : `v${i - 10}`))
    // A retry of an applied command answers from the session instead of applying again.
    const retry = await leader.node.propose(encodeKvCommand({ op: 'put', key: 'k9', value: 'v199', client: 'c', seq: 200 }))
    expect(retry).to.equal('v189')
    await cluster.applied(leader.node.appliedIndex())
    for (const m of cluster.running()) {
      expect(m.kv.executed).to.equal(200)
      expect(m.kv.get('k9')).to.equal('v199')
    }
  })

  it('rejects a proposal on a follower with NOT_LEADER and the leader address', async () => {
    const leader = await cluster.leader()
    for (const follower of followers(cluster, leader)) {
      const err = await rejection(follower.node.propose(encodeKvCommand({ op: 'put', key: 'x', value: 'y' })))
      expect(err.code).to.equal('NOT_LEADER')
      expect(err.details?.leaderId).to.equal(leader.id)
      expect(err.details?.leaderHint).to.equal(cluster.addressOf(leader.id))
    }
  })

  it('serves a read barrier on the leader only', async () => {
    const leader = await cluster.leader()
    await leader.node.propose(encodeKvCommand({ op: 'put', key: 'r', value: '1' }))
    const commit = leader.node.status().commit
    await leader.node.readBarrier()
    expect(leader.node.appliedIndex()).to.be.at.least(commit)
    for (const follower of followers(cluster, leader)) {
      const err = await rejection(follower.node.readBarrier())
      expect(err.code).to.equal('NOT_LEADER')
      expect(err.details?.leaderHint).to.equal(cluster.addressOf(leader.id))
    }
  })

  it('survives stopping and restarting every member from disk', async () => {
    const leader = await cluster.leader()
    for (let i = 0; i < 30; i++) await leader.node.propose(encodeKvCommand({ op: 'put', key: `k${i}`, value: `v${i}` }))
    const last = leader.node.appliedIndex()
    await cluster.applied(last)
    for (const id of ['m1', 'm2', 'm3']) await cluster.stop(id)
    for (const id of ['m1', 'm2', 'm3']) await cluster.start(id, true) // bootstrap is ignored on a non-empty store
    await cluster.applied(last)
    for (const m of cluster.running()) {
      for (let i = 0; i < 30; i++) expect(m.kv.get(`k${i}`)).to.equal(`v${i}`)
    }
    await cluster.put('after', 'restart')
    const newLeader = await cluster.leader()
    await cluster.applied(newLeader.node.appliedIndex())
    for (const m of cluster.running()) expect(m.kv.get('after')).to.equal('restart')
  })

  it('hands leadership over on request', async () => {
    const leader = await cluster.leader()
    const target = followers(cluster, leader)[0]!
    leader.node.transferLeadership(target.id)
    await waitFor(() => target.node.isLeader(), 5000, `${target.id} to lead`)
    const after = await cluster.leader()
    expect(after.id).to.equal(target.id)
    expect(await after.node.propose(encodeKvCommand({ op: 'put', key: 't', value: '1' }))).to.equal(null)
  })

  it('fails over when the leader stops, and the old leader catches up on return', async () => {
    const leader = await cluster.leader()
    await leader.node.propose(encodeKvCommand({ op: 'put', key: 'before', value: '1' }))
    await cluster.stop(leader.id)
    const next = await cluster.leader()
    expect(next.id).to.not.equal(leader.id)
    await next.node.propose(encodeKvCommand({ op: 'put', key: 'during', value: '2' }))
    const back = await cluster.start(leader.id, false)
    await cluster.applied(next.node.appliedIndex())
    expect(back.kv.get('before')).to.equal('1')
    expect(back.kv.get('during')).to.equal('2')
  })
})

describe('RaftNode: snapshots and membership', function () {
  this.timeout(20_000)
  let network: LoopbackNetwork
  let cluster: TestCluster

  beforeEach(async () => {
    network = new LoopbackNetwork()
    cluster = await TestCluster.create(['m1', 'm2', 'm3'], loopbackEndpoints(network), { snapshotEntries: 50, catchUpEntries: 10, segmentBytes: 4096 })
  })

  afterEach(async () => {
    await cluster.close()
  })

  it('snapshots after snapshotEntries, compacts the log, and catches a lagging member up from the snapshot', async () => {
    const leader = await cluster.leader()
    const lagging = followers(cluster, leader)[0]!
    const segmentsBefore = leader.storage.walSegments()
    network.isolate(lagging.id)
    for (let i = 0; i < 300; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => leader.node.propose(encodeKvCommand({ op: 'put', key: `k${i + j}`, value: `v${i + j}`.padEnd(64, '.') }))))
    }
    await waitFor(() => leader.node.status().snapshotIndex >= 250, 5000, 'the leader to snapshot')
    const laggingApplied = lagging.node.appliedIndex()
    expect(laggingApplied).to.be.below(20)
    // The leader no longer holds the entries the lagging member needs next.
    expect(leader.node.status().firstIndex).to.be.greaterThan(laggingApplied + 1)
    const segmentsAfter = leader.storage.walSegments()
    expect(segmentsAfter[0]).to.not.equal(segmentsBefore[0])

    network.heal(lagging.id)
    await cluster.applied(leader.node.appliedIndex())
    expect(lagging.node.status().snapshotIndex).to.be.greaterThan(laggingApplied)
    expect(lagging.kv.size).to.equal(300)
    for (let i = 0; i < 300; i += 37) expect(lagging.kv.get(`k${i}`)).to.equal(`v${i}`.padEnd(64, '.'))

    // A restart after compaction recovers from the snapshot plus the WAL tail.
    const restarted = await cluster.restart(lagging.id)
    await cluster.applied(leader.node.appliedIndex())
    expect(restarted.kv.size).to.equal(300)
  })

  it('adds a fourth member as a learner, promotes it, and removes another', async () => {
    for (let i = 0; i < 120; i++) await cluster.put(`k${i}`, `v${i}`)
    const leader = await cluster.leader()
    expect(leader.node.status().snapshotIndex).to.be.greaterThan(0) // m4 must start from a snapshot

    const m4 = await cluster.start('m4', false)
    await leader.node.changeMembership({ type: 'addLearner', node: 'm4', address: cluster.addressOf('m4') })
    await cluster.applied(leader.node.appliedIndex())
    expect(m4.kv.get('k119')).to.equal('v119')
    expect(leader.node.status().conf.learners).to.deep.equal(['m4'])
    expect(m4.node.addressOf('m1')).to.equal(cluster.addressOf('m1'))

    await leader.node.changeMembership({ type: 'promote', node: 'm4' })
    expect(leader.node.status().conf.voters).to.deep.equal(['m1', 'm2', 'm3', 'm4'])
    await cluster.applied(leader.node.appliedIndex())
    expect(m4.node.status().conf.voters).to.deep.equal(['m1', 'm2', 'm3', 'm4'])

    const removed = followers(cluster, leader).find((m) => m.id !== 'm4')!
    await leader.node.changeMembership({ type: 'remove', node: removed.id })
    const voters = ['m1', 'm2', 'm3', 'm4'].filter((id) => id !== removed.id)
    expect(leader.node.status().conf.voters).to.deep.equal(voters)
    expect(leader.node.addressOf(removed.id)).to.equal(undefined)
    await cluster.stop(removed.id)

    // The group of three (including m4) still commits, with m4 counted in the quorum.
    await cluster.stop(followers(cluster, leader).find((m) => m.id !== 'm4')!.id)
    expect(await leader.node.propose(encodeKvCommand({ op: 'put', key: 'final', value: 'yes' }), { timeoutMs: 5000 })).to.equal(null)
    await cluster.applied(leader.node.appliedIndex())
    expect(m4.kv.get('final')).to.equal('yes')
  })
})
