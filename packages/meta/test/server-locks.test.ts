import { expect } from 'chai'
import { hasCode } from '@tessera/protocol'
import { TestCluster } from './server-cluster.js'

describe('meta server: locks through MetaClient (3 members in-process)', function () {
  this.timeout(30_000)
  let cluster: TestCluster
  before(async () => {
    cluster = await TestCluster.start(3, { namespace: { sessionTimeoutMs: 1000 }, expireIntervalMs: 100 })
    await cluster.leader()
    await cluster.client().mkdirp('/l/f')
  })
  after(async () => {
    await cluster?.destroy()
  })

  it('a queued waiter is held open and granted on release, in FIFO order', async () => {
    const [a, b, c] = [cluster.client(), cluster.client(), cluster.client()]
    const first = await a.lock('/l/f', 'exclusive')
    const order: string[] = []
    const second = b.lock('/l/f', 'exclusive').then((h) => (order.push('b'), h))
    await new Promise((resolve) => setTimeout(resolve, 100))
    const third = c.lock('/l/f', 'shared').then((h) => (order.push('c'), h))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(order).to.deep.equal([])
    await first.release()
    const hb = await second
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(order).to.deep.equal(['b'])
    await hb.release()
    await (await third).release()
    expect(order).to.deep.equal(['b', 'c'])
  })

  it('a queued waiter keeps its place through a leader change', async () => {
    const [a, b] = [cluster.client(), cluster.client()]
    const held = await a.lock('/l/f')
    const waiting = b.lock('/l/f')
    await new Promise((resolve) => setTimeout(resolve, 200))
    const leader = await cluster.leader()
    const next = cluster.followers(leader)[0]!
    leader.raft!.transferLeadership(next.id)
    const deadline = Date.now() + 5000
    while (!next.raft!.isLeader() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(next.raft!.isLeader()).to.equal(true)
    await held.release()
    const granted = await waiting
    expect(granted.lockId).to.be.greaterThan(0)
    await granted.release()
  })

  it('a lock whose holder stops refreshing passes on when its session expires', async () => {
    const holder = cluster.client()
    const handle = await holder.lock('/l/f')
    // stop the holder's keep-alive without unlocking: as if its process had died
    ;(handle as unknown as { timer: NodeJS.Timeout }).timer.unref()
    clearInterval((handle as unknown as { timer: NodeJS.Timeout }).timer)
    const other = cluster.client()
    try {
      await other.lock('/l/f', 'shared', { wait: false })
      expect.fail('granted while held')
    } catch (err) {
      expect(hasCode(err, 'EAGAIN')).to.equal(true)
    }
    const started = Date.now()
    const next = await other.lock('/l/f', 'shared', { timeoutMs: 5000 })
    expect(Date.now() - started).to.be.greaterThan(300)
    await next.release()
    try {
      await handle.release()
      expect.fail('releasing an expired lock succeeded')
    } catch (err) {
      expect(hasCode(err, 'ENOLCK') || hasCode(err, 'SESSION_EXPIRED'), String(err)).to.equal(true)
    }
  })
})
