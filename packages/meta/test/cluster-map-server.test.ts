import { expect } from 'chai'
import { MetaCalls, MetaClient } from '@tessera/client'
import {
  RpcClient, TesseraError, metaClusterCatalogue, verifyBlockToken, type MetaClusterCatalogue,
} from '@tessera/protocol'
import type { MetaService } from '../src/index.js'
import { TestCluster } from './server-cluster.js'

const KEY = 'aaaaaaaaaaaaaaaa-1000'
const REF = { key: 'aaaaaaaaaaaaaaaa', len: 1000 }

async function rejection(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    return err as TesseraError
  }
  expect.fail('expected a rejection')
}

describe('meta server: the cluster map over RPC', function () {
  this.timeout(20_000)
  let cluster: TestCluster
  let calls: MetaCalls
  let leader: MetaService
  const address = (n: number) => `127.0.0.1:${7600 + n}`

  before(async () => {
    cluster = await TestCluster.start(3, { dataPath: { chunkTimeoutMs: 1500, minCopies: 2 } })
    leader = await cluster.leader()
    calls = new MetaCalls({ addresses: cluster.addresses(), secret: cluster.secret, deadlineMs: 5000 })
    for (const n of [1, 2, 3]) {
      await calls.call('chunk.register', {
        id: `c${n}`, address: address(n), zone: `z${n}`, capacityBytes: 1e9, usedBytes: 0, blocks: n === 1 ? [KEY] : [],
      })
    }
  })

  after(async () => {
    await calls?.close()
    await cluster?.destroy()
  })

  const beat = (n: number) => calls.call('chunk.heartbeat', { id: `c${n}`, usedBytes: 0, capacityBytes: 1e9, blockCount: 0, load: 0 })

  it('places blocks on three distinct live servers with a write token signed by the cluster secret', async () => {
    for (const n of [1, 2, 3]) expect((await beat(n)).register).to.equal(false)
    const placement = await calls.call('meta.placeBlock', { key: KEY, length: 1000 })
    expect([...placement.servers].sort()).to.deep.equal([address(1), address(2), address(3)])
    expect(placement.minCopies).to.equal(2)
    const claims = verifyBlockToken(cluster.secret, placement.token, { key: KEY, op: 'write', nowMs: Date.now() })
    expect(claims.expiresAtMs - Date.now()).to.be.within(60_000, 5 * 60_000)
    expect(() => verifyBlockToken(cluster.secret, placement.token, { key: KEY, op: 'read', nowMs: Date.now() })).to.throw()

    const fewer = await calls.call('meta.placeBlock', { key: KEY, length: 1000, exclude: [address(2)] })
    expect([...fewer.servers].sort()).to.deep.equal([address(1), address(3)])
    const refused = await rejection(calls.call('meta.placeBlock', { key: KEY, length: 1000, exclude: [address(2), address(3)] }))
    expect(refused.code).to.equal('EAGAIN')
    const noRoom = await rejection(calls.call('meta.placeBlock', { key: 'bbbbbbbbbbbbbbbb-1000', length: 2e9 }))
    expect(noRoom.code).to.equal('ENOSPC')
  })

  it('records written blocks, counts under-replication, locates copies with a read token, forgets bad copies', async () => {
    const written = await calls.call('meta.blocksWritten', { blocks: [{ ref: REF, servers: [address(2), address(3)] }] })
    // c1 reported the block when it registered: three copies now.
    expect(written.underReplicated).to.equal(0)
    const located = await calls.call('meta.locateBlock', { ref: REF })
    expect([...located.servers].sort()).to.deep.equal([address(1), address(2), address(3)])
    verifyBlockToken(cluster.secret, located.token, { key: KEY, op: 'read', nowMs: Date.now() })

    await calls.call('meta.reportBadCopy', { ref: REF, server: address(1) })
    const [info] = (await calls.call('meta.blockLocations', { refs: [REF] })).blocks
    expect(info!.servers.map((s) => s.id).sort()).to.deep.equal(['c2', 'c3'])
    expect(info!.underReplicated).to.equal(true)
    expect((await calls.call('meta.chunkServers', {})).underReplicated).to.equal(1)
    const missing = await rejection(calls.call('meta.locateBlock', { ref: { key: 'cccccccccccccccc', len: 5 } }))
    expect(missing.code).to.equal('EIO')
  })

  it('a commit carries where its new blocks landed: meta records the file and the copies together', async () => {
    const client = new MetaClient({ addresses: cluster.addresses(), secret: cluster.secret, deadlineMs: 5000 })
    try {
      const { attr } = await client.create(1, 'committed-with-copies', 0o644, false)
      const ref = { key: 'dddddddddddddddd', len: 2000 }
      const reply = await client.exec({
        op: 'commitFile', cred: client.cred, ino: attr.ino, blocks: [{ ...ref, used: 2000 }], size: 2000,
        mtime: { sec: 1_700_000_000, nsec: 0 }, written: [{ ref, servers: [address(2), address(3)] }],
      })
      expect(reply.underReplicated).to.equal(1)
      expect(reply.attr.size).to.equal(2000)
      const located = await calls.call('meta.locateBlock', { ref })
      expect([...located.servers].sort()).to.deep.equal([address(2), address(3)])
      const [info] = (await calls.call('meta.blockLocations', { refs: [ref] })).blocks
      expect(info!.underReplicated).to.equal(true)
      const refused = await rejection(client.exec({
        op: 'commitFile', cred: client.cred, ino: attr.ino, blocks: [{ ...ref, used: 2000 }], size: 2000,
        mtime: { sec: 1_700_000_000, nsec: 0 }, written: [{ ref: { key: 'eeeeeeeeeeeeeeee', len: 10 }, servers: [address(1)] }],
      }))
      expect(refused.code).to.equal('EINVAL')
    } finally {
      await client.close()
    }
  })

  it('answers NOT_LEADER with a hint on a follower', async () => {
    const follower = cluster.followers(leader)[0]!
    const raw = new RpcClient<MetaClusterCatalogue>({
      url: `ws://${follower.address}`, catalogue: metaClusterCatalogue, secret: cluster.secret, clientId: 'raw',
    })
    try {
      const err = await rejection(raw.call('meta.placeBlock', { key: KEY, length: 1 }))
      expect(err.code).to.equal('NOT_LEADER')
      expect(err.details?.leaderHint).to.equal(leader.address)
    } finally {
      await raw.close()
    }
  })

  it('marks a silent server down after the timeout, stops placing on it, and asks it to register again', async () => {
    const deadline = Date.now() + 8000
    let states: Record<string, string> = {}
    while (Date.now() < deadline) {
      await beat(1)
      await beat(2)
      states = Object.fromEntries((await calls.call('meta.chunkServers', {})).servers.map((s) => [s.id, s.state]))
      if (states.c3 === 'down') break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(states).to.deep.equal({ c1: 'up', c2: 'up', c3: 'down' })
    for (let i = 0; i < 20; i++) {
      const placement = await calls.call('meta.placeBlock', { key: KEY, length: 1000 })
      expect(placement.servers).to.not.include(address(3))
    }
    const [info] = (await calls.call('meta.blockLocations', { refs: [REF] })).blocks
    expect(info!.servers.map((s) => s.id)).to.deep.equal(['c2'])
    expect((await beat(3)).register).to.equal(true)
    expect((await beat(1)).register).to.equal(false)
  })
})
