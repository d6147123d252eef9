import { expect } from 'chai'
import { CliCluster } from './support/meta-cluster.js'

interface Member {
  id: string
  address: string
  voter: boolean
}

describe('cli: members and snapshot against a 3-member cluster', function () {
  this.timeout(30_000)
  let cluster: CliCluster
  before(async () => {
    cluster = await CliCluster.start(3)
  })
  after(async () => {
    await cluster?.stop()
  })

  const members = async (): Promise<Member[]> => {
    const r = await cluster.run(['members', '--json'])
    expect(r.code, r.err).to.equal(0)
    return (JSON.parse(r.out) as { members: Member[] }).members
  }

  it('lists the members (text and JSON)', async () => {
    expect((await members()).map((m) => [m.id, m.voter])).to.deep.equal([['m1', true], ['m2', true], ['m3', true]])
    const text = await cluster.run(['members'])
    expect(text.code).to.equal(0)
    expect(text.out.split('\n')[0]).to.match(/^ID\s+ADDRESS\s+KIND\s+MATCH\s+LAG\s+ACTIVE$/)
    expect(text.out).to.match(/m2\s+127\.0\.0\.1:\d+\s+voter/)
  })

  it('transfer-leader moves leadership and waits for it', async () => {
    const leader = await cluster.leader()
    const target = cluster.members.find((m) => m !== leader)!
    const r = await cluster.run(['members', 'transfer-leader', target.id])
    expect(r.code, r.err).to.equal(0)
    expect(target.raft!.isLeader()).to.equal(true)
  })

  it('adds a member as a learner, promotes it, and removes it', async () => {
    const joiner = await cluster.startJoiner('m4')
    const added = await cluster.run(['members', 'add', 'm4', joiner.address, '--json'])
    expect(added.code, added.err).to.equal(0)
    expect((JSON.parse(added.out) as { members: Member[] }).members.find((m) => m.id === 'm4')).to.include({ voter: false, address: joiner.address })
    const promoted = await cluster.run(['members', 'promote', 'm4'])
    expect(promoted.code, promoted.err).to.equal(0)
    expect((await members()).find((m) => m.id === 'm4')?.voter).to.equal(true)
    // the new voter has the namespace: a directory made now is applied there too
    expect((await cluster.run(['mkdir', '/after-join'])).code).to.equal(0)
    const deadline = Date.now() + 5000
    while (joiner.stateMachine.namespace.read({ op: 'lookup', cred: { uid: 0, gid: 0, groups: [] }, parent: 1, name: 'after-join' }).ok !== true) {
      if (Date.now() > deadline) {
        const st = joiner.raft!.status()
        expect.fail(`m4 did not apply the new directory: ${JSON.stringify({ ...st, applied: joiner.raft!.appliedIndex() })}; leader ${JSON.stringify((await cluster.leader()).raft!.status())}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const removed = await cluster.run(['members', 'remove', 'm4'])
    expect(removed.code, removed.err).to.equal(0)
    expect((await members()).map((m) => m.id)).to.deep.equal(['m1', 'm2', 'm3'])
  })

  it('refuses a bad action or address with a usage error', async () => {
    expect((await cluster.run(['members', 'frob'])).code).to.equal(2)
    expect((await cluster.run(['members', 'add', 'm9'])).code).to.equal(2)
    expect((await cluster.run(['members', 'add', 'm9', 'nohost'])).code).to.equal(2)
  })

  it('snapshot compacts the leader\'s log and prints the index', async () => {
    await cluster.run(['mkdir', '/snap'])
    const r = await cluster.run(['snapshot', '--json'])
    expect(r.code, r.err).to.equal(0)
    const { index } = JSON.parse(r.out) as { index: number }
    const leader = await cluster.leader()
    expect(index).to.be.greaterThan(0)
    expect(leader.raft!.status().snapshotIndex).to.equal(index)
    const member = cluster.members.find((m) => m !== leader && m.id !== 'm4')!
    const one = await cluster.run(['snapshot', '--member', member.address])
    expect(one.code, one.err).to.equal(0)
    expect(one.out).to.match(/^snapshot at index \d+\n$/)
  })
})
