import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import {
  LIMITS,
  RpcClient,
  RpcServer,
  TesseraError,
  protocolCatalogue,
  type NotificationHandlers,
  type ProtocolCatalogue,
  type RaftMessage,
} from '@tessera/protocol'
import { RpcRaftTransport, registerRaftStep, splitBatches } from '../src/driver/index.js'
import { encodeKvCommand } from './support/kv.js'
import { TestCluster, rpcEndpoints, waitFor } from './support/cluster.js'

const secret = randomBytes(32)

function heartbeat(from: string, to: string, term = 1): RaftMessage {
  return { type: 'heartbeat', from, to, term, commit: 0, context: new Uint8Array(0) }
}

/** A server that records the raft.step batches it receives for `id`. */
async function recordingServer(id: string, port = 0): Promise<{ server: RpcServer<ProtocolCatalogue>; received: RaftMessage[]; address: string }> {
  const received: RaftMessage[] = []
  const notificationHandlers: NotificationHandlers<ProtocolCatalogue> = {}
  registerRaftStep(notificationHandlers, () => ({ step: (messages) => received.push(...messages) }))
  const server = await RpcServer.listen({ catalogue: protocolCatalogue, handlers: {}, notificationHandlers, secret, serverId: id, host: '127.0.0.1', port })
  return { server, received, address: `127.0.0.1:${server.address().port}` }
}

describe('RpcRaftTransport', function () {
  this.timeout(10_000)
  const closers: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined)
  })

  it('delivers messages to the peer they are addressed to, one batch per peer', async () => {
    const b = await recordingServer('b')
    const c = await recordingServer('c')
    closers.push(() => b.server.close(), () => c.server.close())
    const transport = new RpcRaftTransport({ id: 'a', secret })
    closers.push(() => transport.close())
    transport.setPeers(new Map([['a', 'unused'], ['b', b.address], ['c', c.address]]))
    // The first send dials and is dropped (not connected yet): Raft retries, nothing queues.
    transport.send([heartbeat('a', 'b')])
    expect(transport.stats().dropped).to.equal(1)
    await waitFor(() => transport.isConnected('b'), 5000, 'a connection to b')
    transport.send([heartbeat('a', 'c')])
    await waitFor(() => transport.isConnected('c'), 5000, 'a connection to c')
    transport.send([heartbeat('a', 'b', 2), heartbeat('a', 'c', 2), heartbeat('a', 'b', 3), heartbeat('a', 'x')])
    await waitFor(() => b.received.length === 2 && c.received.length === 1, 5000, 'delivery')
    expect(b.received.map((m) => m.term)).to.deep.equal([2, 3])
    expect(c.received.map((m) => m.term)).to.deep.equal([2])
    const stats = transport.stats()
    expect(stats.batches).to.equal(2)
    expect(stats.sent).to.equal(3)
    expect(stats.dropped).to.equal(3) // the first to b, the first to c, and the one to unknown x
  })

  it('drops while a peer is down, and reconnects when it returns on the same address', async () => {
    const b = await recordingServer('b')
    const transport = new RpcRaftTransport({ id: 'a', secret, reconnectMaxDelayMs: 50 })
    closers.push(() => transport.close())
    transport.setPeers(new Map([['b', b.address]]))
    transport.send([heartbeat('a', 'b')])
    await waitFor(() => transport.isConnected('b'), 5000, 'a connection to b')
    const port = b.server.address().port
    await b.server.close()
    await waitFor(() => !transport.isConnected('b'), 5000, 'the connection to drop')
    const dropped = transport.stats().dropped
    for (let i = 0; i < 1000; i++) transport.send([heartbeat('a', 'b', 5)])
    expect(transport.stats().dropped).to.equal(dropped + 1000)
    const again = await recordingServer('b', port)
    closers.push(() => again.server.close())
    await waitFor(() => transport.isConnected('b'), 5000, 'the reconnection')
    transport.send([heartbeat('a', 'b', 6)])
    await waitFor(() => again.received.length === 1, 5000, 'delivery after the restart')
    expect(again.received[0]!.term).to.equal(6) // nothing sent while down was queued
  })

  it('follows a peer to a new address and closes the connection of a peer that left', async () => {
    const b1 = await recordingServer('b')
    const b2 = await recordingServer('b')
    closers.push(() => b1.server.close(), () => b2.server.close())
    const transport = new RpcRaftTransport({ id: 'a', secret })
    closers.push(() => transport.close())
    transport.setPeers(new Map([['b', b1.address]]))
    transport.send([heartbeat('a', 'b')])
    await waitFor(() => b1.server.peers().length === 1, 5000, 'a connection to b1')
    transport.setPeers(new Map([['b', b2.address]]))
    await waitFor(() => b1.server.peers().length === 0, 5000, 'the old connection to close')
    transport.send([heartbeat('a', 'b')])
    await waitFor(() => transport.isConnected('b'), 5000, 'a connection to b2')
    transport.send([heartbeat('a', 'b', 9)])
    await waitFor(() => b2.received.length === 1, 5000, 'delivery at the new address')
    transport.setPeers(new Map())
    await waitFor(() => b2.server.peers().length === 0, 5000, 'the connection of a removed peer to close')
    expect(transport.isConnected('b')).to.equal(false)
  })

  it('drops messages a peer sends in another member\'s name', async () => {
    const b = await recordingServer('b')
    closers.push(() => b.server.close())
    const liar = new RpcClient({ url: `ws://${b.address}`, catalogue: protocolCatalogue, secret, clientId: 'mallory' })
    closers.push(() => liar.close())
    await liar.ready()
    liar.notify('raft.step', { messages: [heartbeat('a', 'b'), heartbeat('mallory', 'b', 4)] })
    await waitFor(() => b.received.length > 0, 5000, 'the honest message')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(b.received.map((m) => m.from)).to.deep.equal(['mallory'])
  })

  it('splits large sends within the batch count and frame size limits', () => {
    const many = Array.from({ length: LIMITS.maxRaftBatch * 2 + 1 }, () => heartbeat('a', 'b'))
    expect(splitBatches(many).map((b) => b.length)).to.deep.equal([LIMITS.maxRaftBatch, LIMITS.maxRaftBatch, 1])
    const big: RaftMessage = { type: 'append', from: 'a', to: 'b', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ term: 1, index: 1, kind: 0, data: new Uint8Array(3 * 1024 * 1024) }] }
    const batches = splitBatches([big, big, big])
    expect(batches.map((b) => b.length)).to.deep.equal([1, 1, 1])
  })
})

describe('RaftNode over RpcRaftTransport on 127.0.0.1', function () {
  this.timeout(20_000)
  let cluster: TestCluster

  beforeEach(async () => {
    cluster = await TestCluster.create(['m1', 'm2', 'm3'], rpcEndpoints(secret), { snapshotEntries: 100, catchUpEntries: 20, segmentBytes: 8192 })
  })

  afterEach(async () => {
    await cluster.close()
  })

  it('elects a leader, replicates proposals and redirects followers to the leader address', async () => {
    const leader = await cluster.leader()
    for (let i = 0; i < 50; i++) {
      expect(await leader.node.propose(encodeKvCommand({ op: 'put', key: `k${i % 5}`, value: `v${i}` }))).to.equal(i < 5 ? null : `v${i - 5}`)
    }
    await leader.node.readBarrier()
    await cluster.applied(leader.node.appliedIndex())
    for (const m of cluster.running()) expect(m.kv.get('k4')).to.equal('v49')
    const follower = cluster.running().find((m) => m.id !== leader.id)!
    const err = await follower.node.propose(encodeKvCommand({ op: 'del', key: 'k1' })).catch((e: unknown) => e)
    expect(err).to.be.instanceOf(TesseraError)
    expect((err as TesseraError).code).to.equal('NOT_LEADER')
    expect((err as TesseraError).details?.leaderHint).to.equal(cluster.addressOf(leader.id))
    expect(cluster.addressOf(leader.id)).to.match(/^127\.0\.0\.1:\d+$/)
  })

  it('fails over, and a member that missed a compacted stretch catches up from a snapshot over the wire', async () => {
    const first = await cluster.leader()
    await cluster.stop(first.id)
    const leader = await cluster.leader()
    for (let i = 0; i < 250; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => leader.node.propose(encodeKvCommand({ op: 'put', key: `k${i + j}`, value: 'x'.repeat(200) }))))
    }
    await waitFor(() => leader.node.status().firstIndex > 20, 5000, 'the leader to compact its log')
    const back = await cluster.start(first.id, false) // same address: the others reconnect to it
    await cluster.applied(leader.node.appliedIndex(), 10_000)
    expect(back.kv.size).to.equal(250)
    expect(back.node.status().snapshotIndex).to.be.greaterThan(0)
    expect(back.node.leaderId()).to.equal(leader.id)
  })
})
