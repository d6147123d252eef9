/**
 * commitFile carrying where its new blocks landed: the block list, the locations and the
 * under-replicated list change in one log entry, or not at all.
 */
import { expect } from 'chai'
import type { BlockCopies, BlockRef } from '@tessera/protocol'
import { Namespace, SnapshotWriter, decodeCommand, encodeCommand } from '../src/index.js'
import { blockIdOf } from '../src/fsm/block-list.js'
import { Harness, ROOT, ROOT_INO, code, key, ok } from './harness.js'

const address = (n: number): string => `127.0.0.1:${7500 + n}`

function register(h: Harness, n: number): void {
  ok(h.system({ op: 'registerChunk', id: `c${n}`, address: address(n), zone: '', capacityBytes: 1e9, usedBytes: 0 }))
}

function cluster(servers = 3, replication = 3): Harness {
  const h = new Harness({ replication })
  for (let n = 1; n <= servers; n++) register(h, n)
  return h
}

const ref = (n: number, len = 1000): BlockRef => ({ key: key(n), len, used: len })
const copies = (n: number, servers: number[], len = 1000): BlockCopies => ({ ref: { key: key(n), len }, servers: servers.map(address) })

function holders(ns: Namespace, n: number, len = 1000): string[] {
  const byNum = new Map(ns.chunkServers().map((s) => [s.num, s.id]))
  return ns.locationsOf(blockIdOf(key(n), len)).map((num) => byNum.get(num)!)
}

function concat(writer: SnapshotWriter): string {
  return [...writer].map((c) => Buffer.from(c).toString('hex')).join('|')
}

describe('fsm: commitFile with the written blocks\' copies', () => {
  it('records the copies and the under-replicated blocks in the commit itself, and says how many', () => {
    const h = cluster()
    const f = h.create(ROOT_INO, 'f')
    const reply = ok(h.call({
      op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(1), ref(2)], size: 2000, mtime: h.now,
      written: [copies(1, [1, 2, 3]), copies(2, [2, 3])],
    }))
    expect(reply.underReplicated).to.equal(1)
    expect(reply.attr.size).to.equal(2000)
    expect(holders(h.ns, 1)).to.deep.equal(['c1', 'c2', 'c3'])
    expect(holders(h.ns, 2)).to.deep.equal(['c2', 'c3'])
    expect(h.ns.underReplicatedCopies(blockIdOf(key(2), 1000))).to.equal(2)
    expect(h.ns.underReplicatedCount).to.equal(1)
  })

  it('counts only servers the map knows and does not hold down; a block with none is listed with 0 copies', () => {
    const h = cluster()
    ok(h.system({ op: 'chunkStateChange', id: 'c3', state: 'down' }))
    const f = h.create(ROOT_INO, 'f')
    const reply = ok(h.call({
      op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(1), ref(2)], size: 2000, mtime: h.now,
      written: [copies(1, [1, 3, 9]), copies(2, [3])],
    }))
    expect(reply.underReplicated).to.equal(2)
    expect(holders(h.ns, 1)).to.deep.equal(['c1'])
    expect(h.ns.underReplicatedCopies(blockIdOf(key(1), 1000))).to.equal(1)
    expect(h.ns.locationsOf(blockIdOf(key(2), 1000))).to.deep.equal([])
    expect(h.ns.underReplicatedCopies(blockIdOf(key(2), 1000))).to.equal(0)
  })

  it('refuses copies of a block the commit does not name, and changes nothing', () => {
    const h = cluster()
    const f = h.create(ROOT_INO, 'f')
    const result = h.call({
      op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(1)], size: 1000, mtime: h.now, written: [copies(1, [1]), copies(5, [1, 2, 3])],
    })
    expect(code(result)).to.equal('EINVAL')
    expect(h.ns.locationsOf(blockIdOf(key(5), 1000))).to.deep.equal([])
    expect(h.ns.locationsOf(blockIdOf(key(1), 1000))).to.deep.equal([])
    expect(h.attr(f).size).to.equal(0)
    expect(h.ns.underReplicatedCount).to.equal(0)
  })

  it('a failed commit (permission) records no copy either', () => {
    const h = cluster()
    const f = h.create(ROOT_INO, 'f', 0o600)
    const result = h.ns.apply({
      kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: ++h.seq,
      req: { op: 'commitFile', cred: { uid: 1000, gid: 1000, groups: [] }, ino: f, blocks: [ref(1)], size: 1000, mtime: h.now, written: [copies(1, [1, 2, 3])] },
    })
    expect(code(result)).to.equal('EACCES')
    expect(h.ns.locationsOf(blockIdOf(key(1), 1000))).to.deep.equal([])
  })

  it('a retried commit (same session and seq) answers the first reply and records nothing twice', () => {
    const h = cluster()
    const f = h.create(ROOT_INO, 'f')
    const req = { op: 'commitFile' as const, cred: ROOT, ino: f, blocks: [ref(1)], size: 1000, mtime: h.now, written: [copies(1, [1, 2])] }
    const seq = ++h.seq
    const first = h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq, req })
    // c2's copy is found bad meanwhile: applying the commit again would bring it back.
    ok(h.system({ op: 'removeBlockLocation', server: 'c2', blocks: [blockIdOf(key(1), 1000)] }))
    const again = h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq, req })
    expect(again).to.deep.equal(first)
    expect(ok(first).underReplicated).to.equal(1)
    expect(holders(h.ns, 1)).to.deep.equal(['c1'])
  })

  it('travels through the log codec; malformed copies are PROTOCOL errors', () => {
    const time = { sec: 1, nsec: 2 }
    const req = {
      op: 'commitFile' as const, cred: ROOT, ino: 5, blocks: [ref(1), { key: `${key(2)}s3`, len: 77, used: 70 }], size: 2000, mtime: time,
      written: [copies(1, [1, 2, 3]), { ref: { key: `${key(2)}s3`, len: 77 }, servers: ['[::1]:7001'] }],
    }
    const cmd = decodeCommand(encodeCommand({ kind: 'client', time, session: 's', seq: 1, req }), 4)
    expect(cmd).to.deep.equal({ kind: 'client', index: 4, time, session: 's', seq: 1, req })
    const bad = [
      { ...req, written: [{ ref: { key: key(1), len: 1000 }, servers: ['not an address'] }] },
      { ...req, written: [{ ref: { key: 'XYZ', len: 1000 }, servers: [address(1)] }] },
      { ...req, written: [{ ref: { key: key(1), len: 1000 }, servers: Array.from({ length: 17 }, (_, i) => address(i)) }] },
    ]
    for (const r of bad) {
      expect(() => decodeCommand(encodeCommand({ kind: 'client', time, session: 's', seq: 1, req: r }), 4), JSON.stringify(r.written))
        .to.throw().with.property('code', 'PROTOCOL')
    }
  })

  it('is deterministic: the same commands give the same map on every member, and it survives a snapshot', () => {
    const run = (): Harness => {
      const h = cluster(5, 3)
      for (let i = 0; i < 50; i++) {
        const f = h.create(ROOT_INO, `f${i}`)
        ok(h.call({
          op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(i), ref(i + 100)], size: 2000, mtime: h.now,
          written: [copies(i, [(i % 5) + 1, ((i + 1) % 5) + 1, ((i + 2) % 5) + 1]), copies(i + 100, [(i % 5) + 1])],
        }))
        if (i === 25) ok(h.system({ op: 'chunkStateChange', id: 'c2', state: 'down' }))
      }
      return h
    }
    const a = run()
    const snapshot = concat(a.ns.snapshot())
    expect(snapshot).to.equal(concat(run().ns.snapshot()))
    const restored = Namespace.restore([...a.ns.snapshot()])
    expect(restored.underReplicatedBlocks(1000)).to.deep.equal(a.ns.underReplicatedBlocks(1000))
    expect(restored.underReplicatedCount).to.be.at.least(50)
    for (let i = 0; i < 50; i++) expect(restored.locationsOf(blockIdOf(key(i), 1000))).to.deep.equal(a.ns.locationsOf(blockIdOf(key(i), 1000)))
  })
})
