/**
 * The mount's data-path caches: block locations reused while young and while their read token
 * lasts (CachingPlanner), and read-ahead slots bounding read-ahead memory over all open files
 * (ReadAheadSlots, BudgetedReader); and ClusterDataPath asking meta again when a read with a
 * cached location fails.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockStore, ChunkServer } from '@tessera/chunk'
import { signBlockToken, type BlockId, type BlockRef } from '@tessera/protocol'
import type { MetaCalls } from '../src/data/meta-planner.js'
import { ClusterDataPath } from '../src/vfs/cluster-data-path.js'
import type { BlockPlanner, Location, PlaceRequest, Placement } from '../src/data/planner.js'
import { CachingPlanner, UnreachableServers } from '../src/vfs/block-locations.js'
import { CallStats } from '../src/vfs/call-stats.js'
import type { RangeReader } from '../src/vfs/data-path.js'
import { BudgetedReader, ReadAheadSlots } from '../src/vfs/read-ahead-budget.js'

const SECRET = randomBytes(32)
const REF: BlockId = { key: '0123456789abcdef', len: 4096 }
const OTHER_REF: BlockId = { key: 'fedcba9876543210', len: 4096 }

/** A planner answering locations with tokens that expire `tokenTtlMs` after `clock.now`. */
class FakePlanner implements BlockPlanner {
  locates = 0
  reports = 0
  constructor(private readonly clock: { now: number }, private readonly tokenTtlMs: number, private readonly secret = SECRET) {}
  async placeBlock(_request: PlaceRequest): Promise<Placement> {
    return { servers: ['127.0.0.1:1'], token: 't', minCopies: 1 }
  }
  async locateBlock(ref: BlockId): Promise<Location> {
    this.locates++
    const token = signBlockToken(this.secret, { key: `${ref.key}-${ref.len}`, op: 'read', expiresAtMs: this.clock.now + this.tokenTtlMs })
    return { servers: ['127.0.0.1:1', '127.0.0.1:2'], token }
  }
  async reportBadCopy(_ref: BlockId, _server: string): Promise<void> {
    this.reports++
  }
}

describe('CachingPlanner: block locations for a mount', function () {
  it('reuses a location while it is young, then asks again', async () => {
    const clock = { now: 1_000_000 }
    const inner = new FakePlanner(clock, 300_000)
    const stats = new CallStats()
    const planner = new CachingPlanner(inner, stats, { secret: SECRET, maxAgeMs: 10_000, now: () => clock.now })
    const first = await planner.locateBlock(REF)
    expect(await planner.locateBlock(REF)).to.equal(first)
    await planner.locateBlock(OTHER_REF)
    expect(inner.locates).to.equal(2)
    clock.now += 10_001
    await planner.locateBlock(REF)
    expect(inner.locates).to.equal(3)
    expect(stats.snapshot()).to.deep.equal({ 'cluster.locateBlock': 3, 'cluster.locateBlock.cached': 1 })
  })

  it('does not reuse a token close to its expiry, nor one it cannot verify', async () => {
    const clock = { now: 1_000_000 }
    const shortLived = new FakePlanner(clock, 20_000)
    const planner = new CachingPlanner(shortLived, new CallStats(), { secret: SECRET, tokenMarginMs: 30_000, now: () => clock.now })
    await planner.locateBlock(REF)
    await planner.locateBlock(REF)
    expect(shortLived.locates).to.equal(2)
    const foreign = new FakePlanner(clock, 300_000, randomBytes(32))
    const other = new CachingPlanner(foreign, new CallStats(), { secret: SECRET, now: () => clock.now })
    await other.locateBlock(REF)
    await other.locateBlock(REF)
    expect(foreign.locates).to.equal(2)
  })

  it('forgets a block whose copy was reported bad, or on request', async () => {
    const clock = { now: 1_000_000 }
    const inner = new FakePlanner(clock, 300_000)
    const planner = new CachingPlanner(inner, new CallStats(), { secret: SECRET, now: () => clock.now })
    await planner.locateBlock(REF)
    await planner.reportBadCopy(REF, '127.0.0.1:1')
    expect(inner.reports).to.equal(1)
    await planner.locateBlock(REF)
    expect(inner.locates).to.equal(2)
    planner.forget(REF)
    await planner.locateBlock(REF)
    expect(inner.locates).to.equal(3)
  })

  it('puts servers that lately failed to connect last in a cached location, until their time is up', async () => {
    const clock = { now: 1_000_000 }
    const inner = new FakePlanner(clock, 300_000)
    const unreachable = new UnreachableServers(15_000, () => clock.now)
    const planner = new CachingPlanner(inner, new CallStats(), { secret: SECRET, unreachable, now: () => clock.now })
    expect((await planner.locateBlock(REF)).servers).to.deep.equal(['127.0.0.1:1', '127.0.0.1:2'])
    unreachable.note('127.0.0.1:1')
    expect((await planner.locateBlock(REF)).servers).to.deep.equal(['127.0.0.1:2', '127.0.0.1:1'])
    clock.now += 15_001
    expect((await planner.locateBlock(REF)).servers).to.deep.equal(['127.0.0.1:1', '127.0.0.1:2'])
    expect(inner.locates).to.equal(1)
  })

  it('keeps at most maxEntries locations, dropping the oldest', async () => {
    const clock = { now: 1_000_000 }
    const inner = new FakePlanner(clock, 300_000)
    const planner = new CachingPlanner(inner, new CallStats(), { secret: SECRET, maxEntries: 2, now: () => clock.now })
    const refs = [0, 1, 2].map((i): BlockId => ({ key: `000000000000000${i}`, len: 10 }))
    for (const ref of refs) await planner.locateBlock(ref)
    await planner.locateBlock(refs[2]!)
    await planner.locateBlock(refs[1]!)
    expect(inner.locates).to.equal(3)
    await planner.locateBlock(refs[0]!)
    expect(inner.locates).to.equal(4)
  })
})

/** A reader that records which instance answered. */
function recordingReader(name: string, log: string[]): RangeReader {
  return {
    async readRange(_blocks: readonly BlockRef[], offset: number, length: number): Promise<Uint8Array> {
      log.push(`${name}@${offset}`)
      return new Uint8Array(length)
    },
  }
}

describe('ReadAheadSlots: read-ahead memory bounded over all open files', function () {
  it('gives read-ahead to a file once it reads sequentially, while a slot is free, and takes it back at close', async () => {
    const slots = new ReadAheadSlots(1)
    const log: string[] = []
    let made = 0
    const open = (): BudgetedReader => new BudgetedReader(recordingReader('plain', log), () => recordingReader(`ahead${++made}`, log), slots)
    const a = open()
    const b = open()
    await a.readRange([], 8192, 4096) // random: no slot
    expect(a.readsAhead).to.equal(false)
    await a.readRange([], 12288, 4096) // sequential: takes the slot
    expect(a.readsAhead).to.equal(true)
    await b.readRange([], 0, 4096)
    await b.readRange([], 4096, 4096) // sequential, but no slot is free
    expect(b.readsAhead).to.equal(false)
    expect(slots.inUse).to.equal(1)
    a.close()
    expect(slots.inUse).to.equal(0)
    await b.readRange([], 8192, 4096)
    expect(b.readsAhead).to.equal(true)
    expect(log).to.deep.equal(['plain@8192', 'ahead1@12288', 'plain@0', 'plain@4096', 'ahead2@8192'])
    b.close()
    b.close()
    expect(slots.inUse).to.equal(0)
  })

  it('a closed reader never takes a slot again', async () => {
    const slots = new ReadAheadSlots(2)
    const reader = new BudgetedReader(recordingReader('plain', []), () => recordingReader('ahead', []), slots)
    reader.close()
    await reader.readRange([], 0, 10)
    await reader.readRange([], 10, 10)
    expect(slots.inUse).to.equal(0)
  })
})

/** Meta's cluster-map calls, reduced to what ClusterDataPath uses; `locations` is where meta says blocks are. */
class FakeMetaCalls {
  readonly clientId = 'vfs-cache-test'
  locations: string[] = []
  readonly called: string[] = []
  constructor(private readonly chain: string[]) {}
  private token(key: string, op: 'read' | 'write'): string {
    return signBlockToken(SECRET, { key, op, expiresAtMs: Date.now() + 300_000, clientId: this.clientId })
  }
  async call(method: string, request: { key?: string; ref?: BlockId }): Promise<unknown> {
    this.called.push(method)
    switch (method) {
      case 'meta.dataConfig': return { blockSize: 64 * 1024, replication: this.chain.length, minCopies: 1 }
      case 'meta.placeBlock': return { servers: this.chain, token: this.token(request.key!, 'write'), minCopies: 1 }
      case 'meta.locateBlock': return { servers: this.locations, token: this.token(`${request.ref!.key}-${request.ref!.len}`, 'read') }
      case 'meta.reportBadCopy': return {}
      case 'meta.blocksWritten': return { underReplicated: 0 }
      default: throw new Error(`unexpected ${method}`)
    }
  }
}

describe('ClusterDataPath: cached locations over real chunk servers', function () {
  this.timeout(30_000)
  const members: { server: ChunkServer; store: BlockStore; dir: string }[] = []

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'tessera-vfs-cache-'))
      const store = await BlockStore.open(dir)
      const server = await ChunkServer.start({ id: `chunk-${i}`, secret: SECRET, store, host: '127.0.0.1', port: 0 })
      members.push({ server, store, dir })
    }
  })
  after(async () => {
    for (const m of members) await m.server.close()
    for (const m of members) await m.store.close()
    await Promise.all(members.map((m) => rm(m.dir, { recursive: true, force: true })))
  })

  it('reads a block lately read with one chunk call and no meta call, and asks meta again when that location went stale', async () => {
    const [a, b] = members.map((m) => m.server.address) as [string, string]
    const calls = new FakeMetaCalls([a, b])
    const data = await ClusterDataPath.open({ calls: calls as unknown as MetaCalls, secret: SECRET })
    try {
      const bytes = randomBytes(20_000)
      const { blocks } = await data.writeBlocks((async function* () { yield bytes })())
      calls.locations = [a]
      const reader = data.openReader()
      expect(Buffer.compare(Buffer.from(await reader.readRange(blocks, 100, 4096)), bytes.subarray(100, 4196))).to.equal(0)
      const before = data.callCounts()
      expect(Buffer.compare(Buffer.from(await reader.readRange(blocks, 9000, 4096)), bytes.subarray(9000, 13096))).to.equal(0)
      const after = data.callCounts()
      expect(after['cluster.locateBlock']).to.equal(before['cluster.locateBlock'])
      expect(after['chunk.call']).to.equal(before['chunk.call']! + 1)
      // The only copy meta named is gone; meta now knows the other one.
      await members[0]!.server.close()
      calls.locations = [b]
      expect(Buffer.compare(Buffer.from(await reader.readRange(blocks, 0, 20_000)), bytes)).to.equal(0)
      expect(data.callCounts()['chunk.readRetried']).to.equal(1)
      expect(data.callCounts()['cluster.locateBlock']).to.equal(2)
      reader.close?.()
    } finally {
      await data.close()
    }
  })
})
