import { expect } from 'chai'
import { Namespace, SnapshotWriter, decodeCommand, encodeCommand, type SystemRequest } from '../src/index.js'
import { blockIdOf } from '../src/fsm/block-list.js'
import { Harness, ROOT, ROOT_INO, code, key, ok } from './harness.js'

const id = (n: number, len = 1000): string => blockIdOf(key(n), len)

function register(h: Harness, server: string, extra: { zone?: string; blocks?: string[]; address?: string } = {}): number {
  return ok(h.system({
    op: 'registerChunk', id: server, address: extra.address ?? `127.0.0.1:${7500 + Number(server.slice(1))}`,
    zone: extra.zone ?? '', capacityBytes: 1e9, usedBytes: 0, ...(extra.blocks === undefined ? {} : { blocks: extra.blocks }),
  })).num
}

function servers(ns: Namespace): Record<string, string> {
  return Object.fromEntries(ns.chunkServers().map((s) => [s.id, s.state]))
}

function holders(ns: Namespace, block: string): string[] {
  const byNum = new Map(ns.chunkServers().map((s) => [s.num, s.id]))
  return ns.locationsOf(block).map((n) => byNum.get(n)!)
}

function concat(writer: SnapshotWriter): string {
  return [...writer].map((c) => Buffer.from(c).toString('hex')).join('|')
}

describe('fsm: cluster map', () => {
  it('registers chunk servers under small numbers; registering again keeps the number', () => {
    const h = new Harness()
    expect(register(h, 'c1')).to.equal(1)
    expect(register(h, 'c2', { zone: 'rack-a' })).to.equal(2)
    expect(register(h, 'c1')).to.equal(1)
    const c2 = h.ns.chunkServers().find((s) => s.id === 'c2')!
    expect(c2).to.include({ num: 2, zone: 'rack-a', state: 'up', capacityBytes: 1e9 })
    expect(h.ns.chunkServers()).to.have.length(2)
  })

  it('records block locations; fewer copies than the replication is under-replicated', () => {
    const h = new Harness()
    for (const s of ['c1', 'c2', 'c3']) register(h, s)
    const reply = ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(1), servers: ['c1', 'c2'] }, { block: id(2), servers: ['c1', 'c2', 'c3'] }] }))
    expect(reply.underReplicated).to.equal(1)
    expect(holders(h.ns, id(1))).to.deep.equal(['c1', 'c2'])
    expect(h.ns.underReplicatedCopies(id(1))).to.equal(2)
    expect(h.ns.underReplicatedCopies(id(2))).to.equal(undefined)
    // The third copy arrives (repair, or a second writer of the same block): no longer under-replicated.
    ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(1), servers: ['c3', 'c3'] }] }))
    expect(holders(h.ns, id(1))).to.deep.equal(['c1', 'c2', 'c3'])
    expect(h.ns.underReplicatedCount).to.equal(0)
  })

  it('ignores unknown and down servers in locations', () => {
    const h = new Harness()
    register(h, 'c1')
    register(h, 'c2')
    ok(h.system({ op: 'chunkStateChange', id: 'c2', state: 'down' }))
    ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(1), servers: ['c1', 'c2', 'nobody'] }] }))
    expect(holders(h.ns, id(1))).to.deep.equal(['c1'])
  })

  it('a server going down loses its copies; a referenced block with none left is listed with 0 copies', () => {
    const h = new Harness()
    for (const s of ['c1', 'c2', 'c3']) register(h, s)
    const f = h.create(ROOT_INO, 'f')
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [{ key: key(1), len: 1000, used: 1000 }], size: 1000, mtime: h.now }))
    ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(1), servers: ['c1', 'c2', 'c3'] }, { block: id(2), servers: ['c3'] }] }))
    expect(ok(h.system({ op: 'chunkStateChange', id: 'c3', state: 'down' })).changed).to.equal(true)
    expect(ok(h.system({ op: 'chunkStateChange', id: 'c3', state: 'down' })).changed).to.equal(false)
    expect(servers(h.ns)).to.deep.equal({ c1: 'up', c2: 'up', c3: 'down' })
    expect(holders(h.ns, id(1))).to.deep.equal(['c1', 'c2'])
    expect(h.ns.underReplicatedCopies(id(1))).to.equal(2)
    // Unreferenced block 2 had its only copy there: it is simply gone from the map.
    expect(h.ns.locationsOf(id(2))).to.deep.equal([])
    expect(h.ns.underReplicatedCopies(id(2))).to.equal(undefined)
    ok(h.system({ op: 'removeBlockLocation', server: 'c1', blocks: [id(1)] }))
    ok(h.system({ op: 'removeBlockLocation', server: 'c2', blocks: [id(1)] }))
    expect(h.ns.underReplicatedCopies(id(1))).to.equal(0)
    expect(h.ns.underReplicatedBlocks(10)).to.deep.equal([{ block: { key: key(1), len: 1000 }, copies: 0 }])
  })

  it('registering again with a report replaces what the server held; block reports add or replace', () => {
    const h = new Harness()
    register(h, 'c1', { blocks: [id(1), id(2)] })
    expect(holders(h.ns, id(1))).to.deep.equal(['c1'])
    ok(h.system({ op: 'chunkStateChange', id: 'c1', state: 'down' }))
    expect(h.ns.locationsOf(id(1))).to.deep.equal([])
    register(h, 'c1', { blocks: [id(2), id(3)] })
    expect(servers(h.ns)).to.deep.equal({ c1: 'up' })
    expect([id(1), id(2), id(3)].map((b) => holders(h.ns, b).length)).to.deep.equal([0, 1, 1])
    ok(h.system({ op: 'blockReport', id: 'c1', blocks: [id(4)], replace: false }))
    expect(holders(h.ns, id(4))).to.deep.equal(['c1'])
    ok(h.system({ op: 'blockReport', id: 'c1', blocks: [id(5)], replace: true }))
    expect([2, 3, 4, 5].map((n) => holders(h.ns, id(n)).length)).to.deep.equal([0, 0, 0, 1])
  })

  it('a new server at a known address retires the old record', () => {
    const h = new Harness()
    register(h, 'c1', { address: '127.0.0.1:9000', blocks: [id(1)] })
    register(h, 'c9', { address: '127.0.0.1:9000' })
    expect(servers(h.ns)).to.deep.equal({ c1: 'down', c9: 'up' })
    expect(h.ns.locationsOf(id(1))).to.deep.equal([])
  })

  it('retireBlocks drops the locations of the blocks it retires', () => {
    const h = new Harness()
    register(h, 'c1')
    const f = h.create(ROOT_INO, 'f')
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [{ key: key(7), len: 1000, used: 1000 }], size: 1000, mtime: h.now }))
    ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(7), servers: ['c1'] }] }))
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
    expect(ok(h.system({ op: 'retireBlocks', blocks: [id(7)], graceMs: 0 }))).to.deep.equal({ retired: 1, orders: 1 })
    expect(h.ns.locationsOf(id(7))).to.deep.equal([])
    expect(h.ns.underReplicatedCount).to.equal(0)
  })

  it('log entries round-trip through the codec; malformed ones are PROTOCOL errors', () => {
    const time = { sec: 1, nsec: 2 }
    const reqs: SystemRequest[] = [
      { op: 'registerChunk', id: 'c1', address: '127.0.0.1:1', zone: 'z', capacityBytes: 5, usedBytes: 1, blocks: [id(1)] },
      { op: 'chunkStateChange', id: 'c1', state: 'draining' },
      { op: 'addBlockLocations', blocks: [{ block: blockIdOf(`${key(3)}s2`, 77), servers: ['c1'] }] },
      { op: 'removeBlockLocation', server: 'c1', blocks: [id(1)] },
      { op: 'blockReport', id: 'c1', blocks: [], replace: true },
    ]
    for (const req of reqs) {
      const cmd = decodeCommand(encodeCommand({ kind: 'system', time, req }), 9)
      expect(cmd).to.deep.equal({ kind: 'system', index: 9, time, req })
    }
    const bad = [
      { op: 'registerChunk', id: '', address: '127.0.0.1:1', zone: '', capacityBytes: 5, usedBytes: 1 },
      { op: 'chunkStateChange', id: 'c1', state: 'gone' },
      { op: 'addBlockLocations', blocks: [{ block: 'xyz', servers: ['c1'] }] },
      { op: 'blockReport', id: 'c1', blocks: [id(1)] },
      { op: 'registerChunk', id: 'c1', address: '127.0.0.1:1', zone: '', capacityBytes: -1, usedBytes: 1 },
    ]
    for (const req of bad) {
      expect(() => decodeCommand(encodeCommand({ kind: 'system', time, req } as never), 9), JSON.stringify(req))
        .to.throw().with.property('code', 'PROTOCOL')
    }
  })

  it('is deterministic and travels in snapshots', () => {
    const run = (): Harness => {
      const h = new Harness({ replication: 2 })
      for (let s = 1; s <= 5; s++) register(h, `c${s}`, { zone: `z${s % 2}` })
      for (let b = 0; b < 300; b++) {
        ok(h.system({ op: 'addBlockLocations', blocks: [{ block: id(b, 100 + b), servers: [`c${(b % 5) + 1}`, `c${((b * 7) % 5) + 1}`] }] }))
      }
      ok(h.system({ op: 'chunkStateChange', id: 'c4', state: 'down' }))
      const f = h.create(ROOT_INO, 'f')
      ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [{ key: key(0), len: 100, used: 100 }], size: 100, mtime: h.now }))
      return h
    }
    const a = run()
    const b = run()
    const snapshot = concat(a.ns.snapshot())
    expect(snapshot).to.equal(concat(b.ns.snapshot()))
    expect(a.ns.underReplicatedCount).to.be.greaterThan(0)

    const restored = Namespace.restore([...a.ns.snapshot()])
    expect(concat(restored.snapshot())).to.equal(snapshot)
    expect(restored.chunkServers()).to.deep.equal(a.ns.chunkServers())
    expect(restored.options.replication).to.equal(2)
    expect(restored.underReplicatedBlocks(1000)).to.deep.equal(a.ns.underReplicatedBlocks(1000))
    for (let n = 0; n < 300; n++) expect(restored.locationsOf(id(n, 100 + n))).to.deep.equal(a.ns.locationsOf(id(n, 100 + n)))
    // The restored map keeps working the same way.
    const h = Harness.continuing(restored, a)
    ok(h.system({ op: 'chunkStateChange', id: 'c4', state: 'up' }))
    expect(code(h.system({ op: 'blockReport', id: 'c4', blocks: [id(1, 101)], replace: true }))).to.equal('OK')
    expect(holders(restored, id(1, 101))).to.include('c4')
  })
})
