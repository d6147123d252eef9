/**
 * GC on real meta members: the leader retires blocks past a (tiny) grace period, heartbeat
 * replies carry each server's delete orders, blocksGone confirms them, a new leader carries on
 * with orders its predecessor issued, and referenced blocks are never ordered deleted. Writers in
 * flight: a block placed while it is an orphan is spared while its pin lasts, and a new leader
 * spares what was unreferenced before its term for one pin time.
 */
import { expect } from 'chai'
import { MetaCalls, type MetaClient } from '@tessera/client'
import { ROOT_INO, TesseraError } from '@tessera/protocol'
import type { MetaService } from '../src/index.js'
import { TestCluster } from './server-cluster.js'

const ORPHAN = 'aaaaaaaaaaaaaaaa-1000'
const SHARED = 'bbbbbbbbbbbbbbbb-1000'
const SHARED_REF = { key: 'bbbbbbbbbbbbbbbb', len: 1000 }
const GRACE_MS = 300
const address = (n: number) => `127.0.0.1:${7700 + n}`

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('meta server: garbage collection through heartbeats', function () {
  this.timeout(30_000)
  let cluster: TestCluster
  let calls: MetaCalls
  let client: MetaClient
  let leader: MetaService

  const beat = (n: number) => calls.call('chunk.heartbeat', { id: `c${n}`, usedBytes: 0, capacityBytes: 1e9, blockCount: 0, load: 0 })
  const ordersOf = async (n: number) => (await beat(n)).deletes.map((d) => d.key)

  before(async () => {
    // Short placement pins (token lifetime + margin), so that a new leader's wait is short too.
    cluster = await TestCluster.start(3, { gc: { graceMs: GRACE_MS, intervalMs: 100, pinMarginMs: 200 }, dataPath: { tokenTtlMs: 500 } })
    leader = await cluster.leader()
    calls = new MetaCalls({ addresses: cluster.addresses(), secret: cluster.secret, deadlineMs: 10_000 })
    client = cluster.client()
    for (const n of [1, 2, 3]) {
      // c1 holds a block no file references (its writer died before committing): an orphan.
      await calls.call('chunk.register', {
        id: `c${n}`, address: address(n), zone: '', capacityBytes: 1e9, usedBytes: 0, blocks: n === 1 ? [ORPHAN] : [],
      })
    }
    // A file referencing a block every server holds.
    const created = await client.create(ROOT_INO, 'keep', 0o644, true)
    await client.exec({
      op: 'commitFile', cred: { uid: 0, gid: 0, groups: [] }, ino: created.attr.ino, blocks: [{ ...SHARED_REF, used: 1000 }], size: 1000,
      mtime: { sec: 1, nsec: 0 }, written: [{ ref: SHARED_REF, servers: [address(1), address(2), address(3)] }],
    })
  })

  after(async () => {
    await calls?.close()
    await cluster?.destroy()
  })

  it('orders the orphan deleted on its server after the grace period, and only there; the referenced block never', async () => {
    const orders = await until('an order for c1', async () => {
      const keys = await ordersOf(1)
      return keys.length > 0 ? keys : undefined
    })
    expect(orders).to.deep.equal([ORPHAN])
    expect(await ordersOf(2)).to.deep.equal([])
    expect(await ordersOf(3)).to.deep.equal([])
    // Being deleted, the block is not handed out: no locations, no placement (a write could
    // find the doomed copy still stored and keep it).
    const [info] = (await calls.call('meta.blockLocations', { refs: [{ key: 'aaaaaaaaaaaaaaaa', len: 1000 }] })).blocks
    expect(info!.servers).to.deep.equal([])
    const refused = await calls.call('meta.placeBlock', { key: ORPHAN, length: 1000 }).then(() => undefined, (err: TesseraError) => err)
    expect(refused?.code).to.equal('EAGAIN')
    const metrics = await (await fetch(`http://${leader.address}/metrics`)).text()
    expect(metrics).to.match(/^tessera_meta_pending_deletes 1$/m)
    // The same backlog reaches `tessera status` through meta.chunkServers.
    const status = await calls.call('meta.chunkServers', {})
    expect(status.pendingDeletes).to.equal(1)
    expect(status.unreferencedBlocks).to.equal(leader.stateMachine.namespace.unreferencedCount)
  })

  it('a new leader keeps sending the orders its predecessor issued', async () => {
    const next = cluster.followers(leader)[0]!
    leader.raft!.transferLeadership(next.id)
    leader = await until('the new leader', async () => {
      const l = await cluster.leader().catch(() => undefined)
      return l !== undefined && l.id === next.id ? l : undefined
    })
    expect(await ordersOf(1)).to.deep.equal([ORPHAN])
  })

  it('drops an order once the server reports the block gone', async () => {
    await calls.call('chunk.blocksGone', { id: 'c1', blocks: [ORPHAN] })
    expect(await ordersOf(1)).to.deep.equal([])
    expect(leader.stateMachine.namespace.pendingDeleteCount).to.equal(0)
    expect((await calls.call('meta.chunkServers', {})).pendingDeletes).to.equal(0)
    // Once the deletes are done the key can be written (and placed) afresh.
    for (const n of [2, 3]) await beat(n)
    const placement = await calls.call('meta.placeBlock', { key: ORPHAN, length: 1000 })
    expect(placement.servers).to.have.length(3)
  })

  it('retires a released block everywhere it was, once its grace period has passed', async () => {
    await client.unlink(ROOT_INO, 'keep')
    const orders = await until('orders on every server', async () => {
      const all = [await ordersOf(1), await ordersOf(2), await ordersOf(3)]
      return all.every((keys) => keys.length > 0) ? all : undefined
    })
    expect(orders).to.deep.equal([[SHARED], [SHARED], [SHARED]])
    for (const n of [1, 2, 3]) await calls.call('chunk.blocksGone', { id: `c${n}`, blocks: [SHARED] })
    for (const n of [1, 2, 3]) expect(await ordersOf(n)).to.deep.equal([])
  })
})

describe('meta server: GC spares blocks being written (placement pins)', function () {
  this.timeout(30_000)
  const TOKEN_TTL_MS = 1500
  const PIN_MS = TOKEN_TTL_MS + 500
  let cluster: TestCluster
  let calls: MetaCalls

  const beat = (n: number) => calls.call('chunk.heartbeat', { id: `p${n}`, usedBytes: 0, capacityBytes: 1e9, blockCount: 0, load: 0 })
  const ordersOf = async (n: number) => (await beat(n)).deletes.map((d) => d.key)
  const ordered = (n: number, key: string) => until(`an order for ${key}`, async () => ((await ordersOf(n)).includes(key) ? true : undefined))

  before(async () => {
    cluster = await TestCluster.start(3, { gc: { graceMs: GRACE_MS, intervalMs: 100, pinMarginMs: 500 }, dataPath: { tokenTtlMs: TOKEN_TTL_MS } })
    calls = new MetaCalls({ addresses: cluster.addresses(), secret: cluster.secret, deadlineMs: 10_000 })
  })

  after(async () => {
    await calls?.close()
    await cluster?.destroy()
  })

  it('a new leader waits one pin time before retiring what was unreferenced when it took over', async () => {
    await cluster.leader()
    const leadingSince = Date.now()
    for (const n of [1, 2, 3]) {
      await calls.call('chunk.register', {
        id: `p${n}`, address: address(10 + n), zone: '', capacityBytes: 1e9, usedBytes: 0, blocks: n === 1 ? ['cccccccccccccccc-1000'] : [],
      })
    }
    await ordered(1, 'cccccccccccccccc-1000')
    expect(Date.now() - leadingSince).to.be.at.least(PIN_MS - 500)
  })

  it('spares a block placed while it is an orphan until its pin runs out, and retires the others on time', async () => {
    const pinned = 'dddddddddddddddd-1000'
    const other = 'eeeeeeeeeeeeeeee-1000'
    await calls.call('chunk.blockReport', { id: 'p1', blocks: [pinned, other], replace: false })
    const placedAt = Date.now()
    const placement = await calls.call('meta.placeBlock', { key: pinned, length: 1000 })
    expect(placement.servers).to.have.length(3)
    await ordered(1, other)
    expect(await ordersOf(1)).to.not.include(pinned)
    expect(Date.now() - placedAt).to.be.below(PIN_MS)
    await ordered(1, pinned)
    expect(Date.now() - placedAt).to.be.at.least(PIN_MS)
  })

  it('after a change of leader, the new one waits one pin time as well', async () => {
    const leader = await cluster.leader()
    const next = cluster.followers(leader)[0]!
    const before = 'ffffffffffffffff-1000'
    leader.raft!.transferLeadership(next.id)
    await until('the new leader', async () => {
      const l = await cluster.leader().catch(() => undefined)
      return l !== undefined && l.id === next.id ? l : undefined
    })
    const movedAt = Date.now()
    await calls.call('chunk.blockReport', { id: 'p2', blocks: [before], replace: false })
    await ordered(2, before)
    expect(Date.now() - movedAt).to.be.at.least(PIN_MS - 500)
  })
})
