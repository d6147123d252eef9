/** GC in the state machine: retiring unreferenced blocks, delete orders, and the races around them. */
import { expect } from 'chai'
import { silentLogger } from '@tessera/protocol'
import { BlockGc, DEFAULT_GC, Namespace, type GcSettings, type RetireBlocksRequest } from '../src/index.js'
import { blockIdOf } from '../src/fsm/block-list.js'
import { PlacementPins } from '../src/server/gc.js'
import { pack, unpack } from '../src/fsm/codec.js'
import { Harness, ROOT, ROOT_INO, code, key, ok } from './harness.js'

const LEN = 1000
const id = (n: number): string => blockIdOf(key(n), LEN)
const ref = (n: number) => ({ key: key(n), len: LEN, used: LEN })
const MINUTE = 60_000

function register(h: Harness, server: string, blocks?: string[]): number {
  return ok(h.system({
    op: 'registerChunk', id: server, address: `127.0.0.1:${7500 + Number(server.slice(1))}`, zone: '', capacityBytes: 1e9, usedBytes: 0,
    ...(blocks === undefined ? {} : { blocks }),
  })).num
}

function later(h: Harness, ms: number): void {
  const total = h.now.sec * 1000 + Math.floor(h.now.nsec / 1e6) + ms
  h.now = { sec: Math.floor(total / 1000), nsec: (total % 1000) * 1e6 }
}

const nowMs = (h: Harness): number => h.now.sec * 1000 + h.now.nsec / 1e6

/** A file `name` holding blocks `ns`, with copies on c1..c3. */
function fileWith(h: Harness, name: string, blocks: number[]): number {
  const ino = h.create(ROOT_INO, name)
  ok(h.call({
    op: 'commitFile', cred: ROOT, ino, blocks: blocks.map(ref), size: blocks.length * LEN, mtime: h.now,
    written: blocks.map((n) => ({ ref: { key: key(n), len: LEN }, servers: ['127.0.0.1:7501', '127.0.0.1:7502', '127.0.0.1:7503'] })),
  }))
  return ino
}

function threeServers(): Harness {
  const h = new Harness()
  for (const s of ['c1', 'c2', 'c3']) register(h, s)
  return h
}

const retire = (h: Harness, blocks: string[], graceMs = 10 * MINUTE) => ok(h.system({ op: 'retireBlocks', blocks, graceMs }))
const gone = (h: Harness, server: string, blocks: string[]) => ok(h.system({ op: 'removeBlockLocation', server, blocks }))

describe('fsm: garbage collection of unreferenced blocks', () => {
  it('retires a block only once it has been unreferenced for the grace period, and orders every holder to delete it', () => {
    const h = threeServers()
    fileWith(h, 'f', [1])
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    expect(retire(h, [id(1)])).to.deep.equal({ retired: 0, orders: 0 })
    expect(h.ns.locationsOf(id(1))).to.deep.equal([1, 2, 3])
    later(h, 10 * MINUTE)
    expect(retire(h, [id(1)])).to.deep.equal({ retired: 1, orders: 3 })
    expect(h.ns.locationsOf(id(1))).to.deep.equal([])
    expect(h.ns.unreferencedCount).to.equal(0)
    expect(h.ns.isRetired(id(1))).to.equal(true)
    for (const num of [1, 2, 3]) expect(h.ns.deleteOrdersFor(num, 10)).to.deep.equal([id(1)])
    expect(h.ns.pendingDeleteCount).to.equal(3)
    // Retiring again (a duplicate proposal) changes nothing.
    expect(retire(h, [id(1)])).to.deep.equal({ retired: 0, orders: 0 })
  })

  it('never retires a block that is referenced again, or unreferenced anew after the cutoff', () => {
    const h = threeServers()
    const f = fileWith(h, 'f', [1, 2])
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [], size: 0, mtime: h.now }))
    later(h, 11 * MINUTE)
    // Block 1 is referenced again (a second file deduplicating onto it) before GC's command applies.
    const g = h.create(ROOT_INO, 'g')
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(1)], size: LEN, mtime: h.now }))
    // Block 2 is referenced and released again: its grace period starts over.
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(1), ref(2)], size: 2 * LEN, mtime: h.now }))
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(1)], size: LEN, mtime: h.now }))
    expect(retire(h, [id(1), id(2)])).to.deep.equal({ retired: 0, orders: 0 })
    expect(h.ns.locationsOf(id(1))).to.deep.equal([1, 2, 3])
    expect(h.ns.deleteOrdersFor(1, 10)).to.deep.equal([])
    later(h, 10 * MINUTE)
    expect(retire(h, [id(1), id(2)])).to.deep.equal({ retired: 1, orders: 3 })
    expect(ok(h.read({ op: 'getBlocks', cred: ROOT, ino: g })).blocks).to.deep.equal([ref(1)])
  })

  it('drops an order once its server reports the block gone; the block is forgotten after the last', () => {
    const h = threeServers()
    fileWith(h, 'f', [1, 2])
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    later(h, 10 * MINUTE)
    retire(h, [id(1), id(2)])
    expect(h.ns.deleteOrdersFor(2, 1)).to.deep.equal([id(1)])
    expect(gone(h, 'c2', [id(1), id(2), id(9)])).to.deep.equal({ removed: 0, confirmed: 2 })
    expect(h.ns.deleteOrdersFor(2, 10)).to.deep.equal([])
    expect(gone(h, 'c1', [id(1)]).confirmed).to.equal(1)
    expect(h.ns.isRetired(id(1))).to.equal(true)
    gone(h, 'c3', [id(1)])
    expect(h.ns.isRetired(id(1))).to.equal(false)
    expect(h.ns.pendingDeleteCount).to.equal(2)
  })

  it('refuses (EAGAIN) a commit that references a block with delete orders out; accepts it once they are done', () => {
    const h = threeServers()
    fileWith(h, 'f', [1])
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    later(h, 10 * MINUTE)
    retire(h, [id(1)])
    const g = h.create(ROOT_INO, 'g')
    // A writer found the block still stored on the chunk servers (deduplicated) and commits it.
    const written = [{ ref: { key: key(1), len: LEN }, servers: ['127.0.0.1:7501', '127.0.0.1:7502'] }]
    const refused = h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(1)], size: LEN, mtime: h.now, written })
    expect(code(refused)).to.equal('EAGAIN')
    expect(h.attr(g).size).to.equal(0)
    expect(h.ns.locationsOf(id(1))).to.deep.equal([])
    // Copies with a pending delete order never count as locations, whoever reports them.
    ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(1), servers: ['c1', 'c2'] }] }))
    ok(h.system({ op: 'blockReport', id: 'c3', blocks: [id(1)], replace: false }))
    expect(h.ns.locationsOf(id(1))).to.deep.equal([])
    for (const s of ['c1', 'c2', 'c3']) gone(h, s, [id(1)])
    // Written afresh (the chunk servers no longer had it), the block can be committed again.
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(1)], size: LEN, mtime: h.now, written }))
    expect(h.ns.locationsOf(id(1))).to.deep.equal([1, 2])
    expect(h.ns.unreferencedCount).to.equal(0)
  })

  it('refuses (EAGAIN) a commit deduplicated onto a block GC has already deleted and forgotten', () => {
    const h = threeServers()
    fileWith(h, 'f', [1])
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    later(h, 10 * MINUTE)
    retire(h, [id(1)])
    for (const s of ['c1', 'c2', 'c3']) gone(h, s, [id(1)])
    expect(h.ns.isRetired(id(1))).to.equal(false)
    // The writer was told the block was stored before GC retired it, so it sends no `written`.
    const g = h.create(ROOT_INO, 'g')
    const refused = h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(1)], size: LEN, mtime: h.now, written: [] })
    expect(code(refused)).to.equal('EAGAIN')
    expect(h.attr(g).size).to.equal(0)
    // A block another file still references needs no `written`.
    fileWith(h, 'kept', [2])
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(2)], size: LEN, mtime: h.now, written: [] }))
  })

  it('a server declared down loses its orders; its report on return makes the block an orphan, never referenced', () => {
    const h = threeServers()
    fileWith(h, 'f', [1])
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    later(h, 10 * MINUTE)
    retire(h, [id(1)])
    gone(h, 'c1', [id(1)])
    gone(h, 'c2', [id(1)])
    ok(h.system({ op: 'chunkStateChange', id: 'c3', state: 'down' }))
    expect(h.ns.deleteOrdersFor(3, 10)).to.deep.equal([])
    expect(h.ns.isRetired(id(1))).to.equal(false)
    // c3 comes back still holding the block: a copy again, but of a block nobody references.
    later(h, MINUTE)
    const returnedAt = h.now.sec * 1000 + h.now.nsec / 1e6
    register(h, 'c3', [id(1)])
    expect(h.ns.locationsOf(id(1))).to.deep.equal([3])
    expect(h.ns.unreferencedBlocks(10)).to.deep.equal([{ key: key(1), len: LEN, sinceMs: returnedAt }])
    expect(ok(h.read({ op: 'statfs' }))).to.deep.include({ blocks: 0 })
    later(h, 10 * MINUTE)
    expect(retire(h, [id(1)])).to.deep.equal({ retired: 1, orders: 1 })
    expect(h.ns.deleteOrdersFor(3, 10)).to.deep.equal([id(1)])
  })

  it('orphans (reported, never referenced) are deleted after the grace period counted from when meta first saw them', () => {
    const h = threeServers()
    const seenAt = h.now.sec * 1000 + h.now.nsec / 1e6
    register(h, 'c1', [id(5)])
    ok(h.system({ op: 'blockReport', id: 'c2', blocks: [id(5)], replace: false }))
    expect(h.ns.unreferencedBlocks(10)).to.deep.equal([{ key: key(5), len: LEN, sinceMs: seenAt }])
    later(h, 5 * MINUTE)
    expect(retire(h, [id(5)]).retired).to.equal(0)
    later(h, 5 * MINUTE)
    expect(retire(h, [id(5)])).to.deep.equal({ retired: 1, orders: 2 })
    expect([h.ns.deleteOrdersFor(1, 10), h.ns.deleteOrdersFor(2, 10), h.ns.deleteOrdersFor(3, 10)]).to.deep.equal([[id(5)], [id(5)], []])
  })

  const record = (h: Harness, n: number, servers = ['c1', 'c2', 'c3']) =>
    ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(n), servers }] }))

  it('a writer\'s record renews an unreferenced block: a cutoff after its first record but before the renewal spares it, an unrenewed one goes', () => {
    const h = threeServers()
    // Two old orphans; a writer deduplicated onto c1's copy of 6 and records it (its lease).
    register(h, 'c1', [id(6), id(7)])
    later(h, 5 * MINUTE)
    const firstRecord = nowMs(h)
    record(h, 6)
    expect(h.ns.unreferencedBlocks(10)).to.deep.include({ key: key(6), len: LEN, sinceMs: firstRecord })
    later(h, 5 * MINUTE)
    const renewed = nowMs(h)
    record(h, 6)
    later(h, 6 * MINUTE)
    // Cutoff = now - 10 min: after the first record, before the renewal.
    expect(nowMs(h) - 10 * MINUTE).to.be.above(firstRecord).and.below(renewed)
    expect(retire(h, [id(6), id(7)])).to.deep.equal({ retired: 1, orders: 1 })
    expect(h.ns.deleteOrdersFor(1, 10)).to.deep.equal([id(7)])
    expect(h.ns.locationsOf(id(6))).to.deep.equal([1, 2, 3])
    // The commit that names it takes it out of GC's reach for good.
    const f = h.create(ROOT_INO, 'f')
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(6)], size: LEN, mtime: h.now }))
    expect(h.ns.unreferencedCount).to.equal(0)
    later(h, 60 * MINUTE)
    expect(retire(h, [id(6)]).retired).to.equal(0)
  })

  it('blocks a writer recorded and never committed go one grace period after the last record (no leak)', () => {
    const h = threeServers()
    // A writer records two fresh blocks ahead of its commit, then dies.
    record(h, 8)
    record(h, 9, ['c2'])
    expect(h.ns.unreferencedCount).to.equal(2)
    later(h, 10 * MINUTE - 100)
    expect(retire(h, [id(8), id(9)]).retired).to.equal(0)
    later(h, 100)
    expect(retire(h, [id(8), id(9)])).to.deep.equal({ retired: 2, orders: 4 })
    expect(h.ns.unreferencedCount).to.equal(0)
    // A later report of a copy does not restart an orphan's clock; a writer's record does.
    const seen = nowMs(h)
    register(h, 'c1', [id(10)])
    later(h, MINUTE)
    ok(h.system({ op: 'blockReport', id: 'c2', blocks: [id(10)], replace: false }))
    expect(h.ns.unreferencedBlocks(10)).to.deep.equal([{ key: key(10), len: LEN, sinceMs: seen }])
  })

  it('a record of a block GC has retired counts only the copies without an order, and its commit is refused while orders are out', () => {
    const h = threeServers()
    register(h, 'c1', [id(11)])
    later(h, 10 * MINUTE)
    retire(h, [id(11)])
    // The writer's chain deduplicated onto c1's doomed copy and stored fresh ones on c2 and c3.
    const recordedAt = nowMs(h)
    record(h, 11)
    expect(h.ns.locationsOf(id(11))).to.deep.equal([2, 3])
    expect(h.ns.unreferencedBlocks(10)).to.deep.equal([{ key: key(11), len: LEN, sinceMs: recordedAt }])
    expect(h.ns.isRetired(id(11))).to.equal(true)
    const f = h.create(ROOT_INO, 'f')
    expect(code(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(11)], size: LEN, mtime: h.now }))).to.equal('EAGAIN')
  })

  it('delete orders survive a snapshot and restore; malformed ones are refused', () => {
    const h = threeServers()
    fileWith(h, 'f', [1, 2])
    fileWith(h, 'keep', [3])
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    later(h, 10 * MINUTE)
    retire(h, [id(1), id(2)])
    gone(h, 'c1', [id(1)])
    const chunks = [...h.ns.snapshot()]
    const restored = Namespace.restore(chunks)
    expect([...restored.snapshot()].map((c) => Buffer.from(c).toString('hex'))).to.deep.equal(chunks.map((c) => Buffer.from(c).toString('hex')))
    for (const num of [1, 2, 3]) expect(restored.deleteOrdersFor(num, 10)).to.deep.equal(h.ns.deleteOrdersFor(num, 10))
    expect(restored.pendingDeleteCount).to.equal(5)
    expect(restored.isRetired(id(1))).to.equal(true)
    // The restored member goes on identically: confirmations finish the retirement.
    const twin = Harness.continuing(restored, h)
    gone(twin, 'c2', [id(1)])
    gone(twin, 'c3', [id(1)])
    expect(restored.isRetired(id(1))).to.equal(false)
    expect(restored.isRetired(id(2))).to.equal(true)

    const withOrder = (record: unknown[]) => chunks.map((c) => {
      const [name] = unpack(c, 'chunk') as [string, unknown]
      return name === 'deleteOrders' ? pack(['deleteOrders', [record]]) : c
    })
    expect(() => Namespace.restore(withOrder([9, id(1), 0]))).to.throw(/bad delete order/)
    expect(() => Namespace.restore(withOrder([1, 'nope', 0]))).to.throw(/bad delete order/)
    expect(() => Namespace.restore(withOrder([1, id(3), 0]))).to.throw(/end says|delete orders/)
  })
})

describe('BlockGc: the leader\'s passes', () => {
  function gcOver(h: Harness, settings: Partial<GcSettings> = {}, pins = new PlacementPins(0)) {
    const term = { value: 1 }
    const proposed: RetireBlocksRequest[] = []
    const gc = new BlockGc({
      namespace: () => h.ns,
      isLeader: () => true,
      propose: async (req) => {
        proposed.push(req)
        return ok(h.system(req))
      },
      clockMs: () => nowMs(h),
      term: () => term.value,
      pins,
      logger: silentLogger(),
      settings: { ...DEFAULT_GC, ...settings },
    })
    return { gc, proposed, pins, term }
  }

  it('proposes only blocks past the grace period, in bounded batches, and resumes where it stopped', async () => {
    const h = threeServers()
    register(h, 'c1', [id(1), id(2), id(3)])
    later(h, 2 * MINUTE)
    register(h, 'c2', [id(4)])
    const { gc, proposed } = gcOver(h, { graceMs: MINUTE, batch: 2 })
    expect(await gc.pass()).to.deep.equal({ retired: 2, orders: 2 })
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 1 })
    expect(await gc.pass()).to.deep.equal({ retired: 0, orders: 0 })
    expect(proposed.map((r) => r.blocks)).to.deep.equal([[id(1), id(2)], [id(3)]])
    expect(proposed[0]!.graceMs).to.equal(MINUTE)
    later(h, MINUTE)
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 1 })
    expect(h.ns.unreferencedCount).to.equal(0)
  })

  it('retires nothing more while too many orders are unconfirmed', async () => {
    const h = threeServers()
    register(h, 'c1', [id(1), id(2)])
    later(h, 2 * MINUTE)
    const { gc } = gcOver(h, { graceMs: MINUTE, batch: 1, maxPendingOrders: 1 })
    expect((await gc.pass()).retired).to.equal(1)
    expect((await gc.pass()).retired).to.equal(0)
    gone(h, 'c1', [id(1)])
    expect((await gc.pass()).retired).to.equal(1)
  })

  it('spares a block placed while it was unreferenced until the pin runs out; one unreferenced after its placement is not pinned', async () => {
    const h = threeServers()
    const pins = new PlacementPins(2 * MINUTE)
    pins.observeTerm(1, nowMs(h))
    later(h, 3 * MINUTE)
    register(h, 'c1', [id(1), id(2)])
    later(h, 2 * MINUTE)
    // A writer is placing block 1 (it may deduplicate onto the old orphan copy).
    pins.note(id(1), nowMs(h))
    // Block 3 is placed, then lost its last reference a moment later.
    pins.note(id(3), nowMs(h))
    later(h, 1000)
    fileWith(h, 'f', [3])
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    const { gc } = gcOver(h, { graceMs: MINUTE }, pins)
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 1 })
    expect(h.ns.deleteOrdersFor(1, 10)).to.deep.equal([id(2)])
    later(h, MINUTE)
    // Block 3's grace period is over and its pin does not hold it; block 1's pin still does.
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 3 })
    expect(h.ns.isRetired(id(3))).to.equal(true)
    expect(h.ns.isRetired(id(1))).to.equal(false)
    later(h, MINUTE - 1000 - 100)
    expect((await gc.pass()).retired).to.equal(0)
    later(h, 100)
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 1 })
    expect(pins.size).to.equal(0)
  })

  it('a new leader spares every block unreferenced before its term for one pin time, and nothing unreferenced later', async () => {
    const h = threeServers()
    register(h, 'c1', [id(1)])
    later(h, 5 * MINUTE)
    const { gc, term } = gcOver(h, { graceMs: MINUTE }, new PlacementPins(3 * MINUTE))
    expect((await gc.pass()).retired).to.equal(0)
    later(h, MINUTE)
    register(h, 'c2', [id(2)])
    later(h, MINUTE)
    // Block 2 became an orphan after this leader's start: its grace period is all it waits.
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 1 })
    expect(h.ns.isRetired(id(2))).to.equal(true)
    later(h, MINUTE - 100)
    expect((await gc.pass()).retired).to.equal(0)
    later(h, 100)
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 1 })
    expect(h.ns.isRetired(id(1))).to.equal(true)
    // Leadership moves away and back: a new term, a new wait.
    register(h, 'c3', [id(3)])
    later(h, 5 * MINUTE)
    term.value = 2
    expect((await gc.pass()).retired).to.equal(0)
    later(h, 3 * MINUTE)
    expect(await gc.pass()).to.deep.equal({ retired: 1, orders: 1 })
  })

  it('keeps its memory bounded: old pins are pruned, and a full table becomes one blanket pin', () => {
    const pins = new PlacementPins(MINUTE, 3)
    pins.observeTerm(1, 0)
    pins.note('a', 10 * MINUTE)
    pins.note('b', 10 * MINUTE + 1)
    pins.note('a', 10 * MINUTE + 2)
    pins.note('c', 10 * MINUTE + 3)
    expect(pins.size).to.equal(3)
    pins.prune(11 * MINUTE + 1)
    expect(pins.size).to.equal(2)
    expect(pins.isPinned('b', 0, 11 * MINUTE + 1)).to.equal(false)
    expect(pins.isPinned('a', 0, 11 * MINUTE + 1)).to.equal(true)
    pins.note('d', 11 * MINUTE + 1)
    pins.note('e', 11 * MINUTE + 1)
    expect(pins.size).to.equal(1)
    // Every block unreferenced before the table overflowed is spared for one pin time.
    expect(pins.isPinned('x', 11 * MINUTE, 12 * MINUTE)).to.equal(true)
    expect(pins.isPinned('x', 11 * MINUTE, 12 * MINUTE + 1)).to.equal(false)
    pins.prune(12 * MINUTE + 1)
    expect(pins.size).to.equal(0)
  })
})
