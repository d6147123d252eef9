import { expect } from 'chai'
import {
  FileMode, ROOT_INO, RpcClient, TesseraError, metaCatalogue, type MetaCatalogue, type Credentials,
} from '@tessera/protocol'
import { join } from 'node:path'
import { FAST_RAFT, TestCluster } from './server-cluster.js'
import { MetaService } from '../src/index.js'

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }

function rawClient(cluster: TestCluster, member: MetaService): RpcClient<MetaCatalogue> {
  return new RpcClient({ url: `ws://${member.address}`, catalogue: metaCatalogue, secret: cluster.secret, clientId: 'raw-test' })
}

async function rejection(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    return err as TesseraError
  }
  expect.fail('expected a rejection')
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) expect.fail('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('meta server: three members in one process', function () {
  this.timeout(20_000)
  let cluster: TestCluster
  const raws: RpcClient<MetaCatalogue>[] = []

  before(async () => {
    cluster = await TestCluster.start(3)
    await cluster.leader()
  })
  afterEach(async () => {
    await Promise.all(raws.splice(0).map((r) => r.close()))
  })
  after(async () => {
    await cluster?.destroy()
  })

  it('runs mkdir, create, rename, unlink and readdir through MetaClient', async () => {
    const client = cluster.client({ cred: ROOT })
    const dir = await client.mkdir(ROOT_INO, 'docs')
    expect(dir.mode & FileMode.IFMT).to.equal(FileMode.IFDIR)
    const file = await client.create(dir.ino, 'a.txt')
    expect(file.created).to.equal(true)
    await client.rename(dir.ino, 'a.txt', dir.ino, 'b.txt')
    expect((await client.readdir(dir.ino)).map((e) => e.name)).to.deep.equal(['b.txt'])
    expect((await client.resolve('/docs/b.txt')).ino).to.equal(file.attr.ino)
    await client.unlink(dir.ino, 'b.txt')
    expect(await client.readdir(dir.ino)).to.deep.equal([])
    const err = await rejection(client.unlink(dir.ino, 'b.txt'))
    expect(err.code).to.equal('ENOENT')
    expect((await client.mkdirp('/docs/x/y/z')).mode & FileMode.IFMT).to.equal(FileMode.IFDIR)
    expect((await client.mkdirp('/docs/x/y/z')).ino).to.equal((await client.resolve('/docs/x/y/z')).ino)
  })

  it('runs calls from 8 sessions at once', async () => {
    const client = cluster.client({ cred: ROOT, sessions: 8 })
    const base = await client.mkdir(ROOT_INO, 'many')
    const names = Array.from({ length: 64 }, (_, i) => `f${String(i).padStart(2, '0')}`)
    await Promise.all(names.map((n) => client.create(base.ino, n)))
    expect((await client.readdir(base.ino)).map((e) => e.name)).to.deep.equal(names)
    const status = (await client.status()).find((r) => r.status?.role === 'leader')!.status!
    expect(status.sessions).to.be.at.least(8)
  })

  it('answers NOT_LEADER with the leader address on a follower, and the client follows it', async () => {
    const leader = await cluster.leader()
    const follower = cluster.followers(leader)[0]!
    const raw = rawClient(cluster, follower)
    raws.push(raw)
    const err = await rejection(raw.call('meta.openSession', {}))
    expect(err.code).to.equal('NOT_LEADER')
    expect(err.details?.leaderHint).to.equal(leader.address)
    const linearizable = await rejection(raw.call('meta.query', { query: { op: 'getattr', ino: ROOT_INO } }))
    expect(linearizable.code).to.equal('NOT_LEADER')

    const client = cluster.client({ addresses: [follower.address], cred: ROOT })
    const made = await client.mkdir(ROOT_INO, 'via-follower')
    expect((await client.lookup(ROOT_INO, 'via-follower')).ino).to.equal(made.ino)
  })

  it('serves stale reads on any member and linearizable reads on the leader', async () => {
    const leader = await cluster.leader()
    const follower = cluster.followers(leader)[0]!
    const client = cluster.client({ cred: ROOT })
    const made = await client.mkdir(ROOT_INO, 'stale-check')
    const raw = rawClient(cluster, follower)
    raws.push(raw)
    const seen = await eventually(async () => {
      try {
        return await raw.call('meta.query', { query: { op: 'lookup', cred: ROOT, parent: ROOT_INO, name: 'stale-check' }, stale: true })
      } catch {
        return undefined
      }
    })
    expect(seen).to.deep.include({ op: 'lookup' })
    expect((seen.reply as { attr: { ino: number } }).attr.ino).to.equal(made.ino)
    const fresh = await client.query({ op: 'lookup', cred: ROOT, parent: ROOT_INO, name: 'stale-check' })
    expect(fresh.attr.ino).to.equal(made.ino)
  })

  it('answers a retried (session, seq) with its first reply across a leader change', async () => {
    const leader = await cluster.leader()
    const raw = rawClient(cluster, leader)
    raws.push(raw)
    const { session } = await raw.call('meta.openSession', {})
    const call = { session, seq: 1, req: { op: 'mkdir' as const, cred: ROOT, parent: ROOT_INO, name: 'once', mode: 0o755 } }
    const first = await raw.call('meta.exec', call)

    // The reply was "lost": leadership moves before the client retries the same call.
    const target = cluster.followers(leader)[0]!
    await raw.call('meta.transferLeader', { to: target.id })
    const next = await cluster.leader()
    expect(next.id).to.equal(target.id)
    const rawNext = rawClient(cluster, next)
    raws.push(rawNext)
    const retried = await rawNext.call('meta.exec', call)
    expect(retried).to.deep.equal(first)
    // Injected duplicates in flight together: both get the first reply, nothing applies twice.
    const dupes = await Promise.all([rawNext.call('meta.exec', call), rawNext.call('meta.exec', call)])
    expect(dupes).to.deep.equal([first, first])
    const client = cluster.client({ cred: ROOT })
    expect((await client.readdir(ROOT_INO)).filter((e) => e.name === 'once')).to.have.length(1)
    // A new seq in the same session applies again: now it is EEXIST.
    const again = await rejection(rawNext.call('meta.exec', { ...call, seq: 2 }))
    expect(again.code).to.equal('EEXIST')
  })

  it('keeps a session alive, refuses to revive an unknown one, and closes it', async () => {
    const leader = await cluster.leader()
    const raw = rawClient(cluster, leader)
    raws.push(raw)
    const { session, timeoutMs } = await raw.call('meta.openSession', {})
    expect(timeoutMs).to.be.greaterThan(0)
    await raw.call('meta.keepAlive', { session })
    await raw.call('meta.closeSession', { session })
    expect((await rejection(raw.call('meta.keepAlive', { session }))).code).to.equal('SESSION_EXPIRED')
    const call = { session, seq: 1, req: { op: 'mkdir' as const, cred: ROOT, parent: ROOT_INO, name: 'never', mode: 0o755 } }
    expect((await rejection(raw.call('meta.exec', call))).code).to.equal('SESSION_EXPIRED')
  })

  it('answers /healthz and /metrics on the RPC port', async () => {
    const leader = await cluster.leader()
    for (const member of cluster.members) {
      const health = await fetch(`http://${member.address}/healthz`)
      expect(health.status).to.equal(200)
      expect(await health.json()).to.include({ status: 'ok', leader: leader.id })
    }
    const metrics = await (await fetch(`http://${leader.address}/metrics`)).text()
    expect(metrics).to.match(/^tessera_meta_raft_term [1-9]\d*$/m)
    expect(metrics).to.match(/^tessera_meta_raft_role\{role="leader"\} 1$/m)
    expect(metrics).to.match(/^tessera_meta_proposals_total [1-9]\d*$/m)
    expect(metrics).to.match(/^tessera_meta_apply_seconds_count [1-9]\d*$/m)
    expect(metrics).to.match(/^tessera_meta_inodes [1-9]\d*$/m)
    expect(metrics).to.match(/^tessera_meta_sessions \d+$/m)
    expect((await fetch(`http://${leader.address}/nope`)).status).to.equal(404)
  })

  it('reports every member in status, with replication progress from the leader', async () => {
    const client = cluster.client()
    const reports = await client.status()
    expect(reports.map((r) => r.status?.id)).to.deep.equal(['m1', 'm2', 'm3'])
    const leader = reports.find((r) => r.status?.role === 'leader')!.status!
    expect(leader.members).to.have.length(3)
    for (const member of leader.members) {
      expect(member.voter).to.equal(true)
      expect(member.match).to.be.a('number')
    }
  })

  it('restarts from its log and a snapshot with the namespace intact', async () => {
    const client = cluster.client({ cred: ROOT })
    await client.mkdirp('/persist/deep')
    const before = await client.readdir(ROOT_INO)
    const index = await client.snapshot()
    expect(index).to.be.greaterThan(0)
    await client.mkdir((await client.resolve('/persist')).ino, 'after-snapshot')
    await cluster.stopMembers()
    await cluster.boot()
    await cluster.leader()
    const again = cluster.client({ cred: ROOT })
    expect(await again.readdir(ROOT_INO)).to.deep.equal(before)
    expect((await again.readdir((await again.resolve('/persist')).ino)).map((e) => e.name)).to.deep.equal(['after-snapshot', 'deep'])
    const leaderStatus = (await again.status()).find((r) => r.status?.role === 'leader')!.status!
    expect(leaderStatus.sessions).to.be.greaterThan(0)
  })
})

describe('meta server: one member per data directory', () => {
  it('refuses a second member on a data directory in use, and frees it on stop', async () => {
    const cluster = await TestCluster.start(1)
    const dataDir = join(cluster.root, 'm1')
    const second = await MetaService.listen({ id: 'm1', dataDir, secret: cluster.secret })
    try {
      await cluster.leader()
      const err = await rejection(second.start({ peers: {} }))
      expect(err.code).to.equal('EBUSY')
      await cluster.stopMembers()
      await second.start({ peers: {} })
      expect(second.raft).to.not.equal(undefined)
    } finally {
      await second.stop()
      await cluster.destroy()
    }
  })
})

describe('meta server: health before it starts', () => {
  it('answers 503 on /healthz while the node is not running', async () => {
    const cluster = await TestCluster.start(1)
    try {
      await cluster.leader()
      const member = cluster.members[0]!
      expect((await fetch(`http://${member.address}/healthz`)).status).to.equal(200)
      await member.stop()
    } finally {
      await cluster.destroy()
    }
    const idle = await MetaService.listen({ id: 'idle', dataDir: '/nonexistent', secret: Buffer.alloc(32, 1) })
    try {
      const health = await fetch(`http://${idle.address}/healthz`)
      expect(health.status).to.equal(503)
    } finally {
      await idle.stop()
    }
  })
})

describe('meta server: membership', function () {
  this.timeout(20_000)

  it('adds a member that joined empty, promotes it, and removes it', async () => {
    const cluster = await TestCluster.start(3)
    const joiner = await MetaService.listen({ id: 'm4', dataDir: join(cluster.root, 'm4'), secret: cluster.secret, raft: FAST_RAFT })
    try {
      await cluster.leader()
      const peers = Object.fromEntries(cluster.members.map((m) => [m.id, m.address]))
      await joiner.start({ peers, join: true })
      const client = cluster.client({ cred: ROOT })
      await client.mkdirp('/before/join')
      const added = await client.changeMembers({ op: 'add', id: 'm4', address: joiner.address })
      expect(added.find((m) => m.id === 'm4')).to.include({ voter: false, address: joiner.address })
      await eventually(async () => (joiner.stateMachine.namespace.read({ op: 'lookup', cred: ROOT, parent: ROOT_INO, name: 'before' }).ok ? true : undefined))
      const promoted = await client.changeMembers({ op: 'promote', id: 'm4' })
      expect(promoted.find((m) => m.id === 'm4')?.voter).to.equal(true)
      await client.mkdir(ROOT_INO, 'with-four')
      await eventually(async () => (joiner.stateMachine.namespace.read({ op: 'lookup', cred: ROOT, parent: ROOT_INO, name: 'with-four' }).ok ? true : undefined))
      const removed = await client.changeMembers({ op: 'remove', id: 'm4' })
      expect(removed.map((m) => m.id)).to.not.include('m4')
      const err = await rejection(client.changeMembers({ op: 'add', id: 'm5' }))
      expect(err.code).to.equal('EINVAL')
    } finally {
      await joiner.stop()
      await cluster.destroy()
    }
  })
})
