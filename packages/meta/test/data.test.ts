import type { BlockRef } from '@tessera/protocol'
import { expect } from 'chai'
import { ALICE, code, FileMode, Harness, key, ok, ROOT, ROOT_INO } from './harness.js'
import { blockIdOf } from '../src/fsm/block-list.js'

const ref = (n: number, len = 4096, used = len): BlockRef => ({ key: key(n), len, used })

describe('fsm: commitFile and block references', () => {
  it('replaces the block list and size; mtime from the request, ctime from the command', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o666)
    const mtime = { sec: 42, nsec: 7 }
    const reply = ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(1), ref(2, 100)], size: 4196, mtime }))
    expect(reply.attr.size).to.equal(4196)
    expect(reply.attr.mtime).to.deep.equal(mtime)
    expect(reply.attr.ctime.sec).to.be.greaterThan(1e9)
    expect(reply.released).to.deep.equal([])
    expect(ok(h.read({ op: 'getBlocks', cred: ROOT, ino: f })).blocks).to.deep.equal([ref(1), ref(2, 100)])
    expect(ok(h.read({ op: 'statfs' }))).to.deep.include({ files: 1, bytes: 4196, blocks: 2, blockBytes: 4196 })
  })

  it('returns the blocks that lost their last reference; shared blocks stay until the last user goes', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o666)
    const g = h.create(ROOT_INO, 'g', 0o666)
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(1), ref(2)], size: 8192, mtime: h.now }))
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(2), ref(2)], size: 8192, mtime: h.now }))
    const rewrite = ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(3)], size: 4096, mtime: h.now }))
    expect(rewrite.released).to.deep.equal([{ key: key(1), len: 4096 }])
    expect(ok(h.read({ op: 'statfs' }))).to.deep.include({ blocks: 2 })
    ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'g' }))
    expect(h.ns.unreferencedBlocks(10).map((b) => b.key)).to.deep.equal([key(1), key(2)])
    expect(h.ns.unreferencedBlocks(10)[1]!.sinceMs).to.be.greaterThan(h.ns.unreferencedBlocks(10)[0]!.sinceMs)
  })

  it('a block referenced again leaves the unreferenced table; retireBlocks drops retired blocks', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o666)
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(1)], size: 4096, mtime: h.now }))
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(2)], size: 4096, mtime: h.now }))
    expect(h.ns.unreferencedBlocks(10).map((b) => b.key)).to.deep.equal([key(1)])
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [ref(1), ref(2)], size: 8192, mtime: h.now }))
    expect(h.ns.unreferencedBlocks(10)).to.deep.equal([])
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [], size: 0, mtime: h.now }))
    expect(ok(h.system({ op: 'retireBlocks', blocks: [blockIdOf(key(1), 4096), blockIdOf(key(9), 1)], graceMs: 0 })))
      .to.deep.equal({ retired: 1, orders: 0 })
    expect(h.ns.unreferencedBlocks(10).map((b) => b.key)).to.deep.equal([key(2)])
    expect(h.ns.unreferencedBlocks(10, key(2) + '1000')).to.deep.equal([])
  })

  it('a rename that replaces a file releases the replaced file\'s blocks', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o666)
    const g = h.create(ROOT_INO, 'g', 0o666)
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: g, blocks: [ref(5)], size: 4096, mtime: h.now }))
    ok(h.call({ op: 'rename', cred: ROOT, parent: ROOT_INO, name: 'f', newParent: ROOT_INO, newName: 'g', flags: 0 }))
    expect(h.ns.unreferencedBlocks(10).map((b) => b.key)).to.deep.equal([key(5)])
    void f
  })

  it('EINVAL for malformed pieces or more bytes than the size; EISDIR / EINVAL on non-files; EACCES', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o644)
    const commit = (blocks: BlockRef[], size: number, ino = f, cred = ROOT) =>
      code(h.call({ op: 'commitFile', cred, ino, blocks, size, mtime: h.now }))
    expect(commit([{ key: 'XYZ', len: 1, used: 1 }], 1)).to.equal('EINVAL')
    expect(commit([{ key: key(1).toUpperCase().replace('0', 'A'), len: 1, used: 1 }], 1)).to.equal('EINVAL')
    expect(commit([ref(1, 0, 0)], 0)).to.equal('EINVAL')
    expect(commit([ref(1, 10, 11)], 11)).to.equal('EINVAL')
    expect(commit([ref(1, 5 * 1024 * 1024)], 5 * 1024 * 1024)).to.equal('EINVAL')
    expect(commit([ref(1, 10)], 9)).to.equal('EINVAL')
    expect(commit([ref(1, 10)], 20)).to.equal('OK') // a tail hole
    expect(commit([], 0, ROOT_INO)).to.equal('EISDIR')
    expect(commit([], 0, f, ALICE)).to.equal('EACCES')
    const l = ok(h.call({ op: 'symlink', cred: ROOT, parent: ROOT_INO, name: 'l', target: 'f' })).attr.ino
    expect(commit([], 0, l)).to.equal('EINVAL')
    expect(code(h.read({ op: 'getBlocks', cred: ROOT, ino: l }))).to.equal('EINVAL')
  })

  it('a write by a non-root user clears setuid', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o4666)
    const reply = ok(h.call({ op: 'commitFile', cred: ALICE, ino: f, blocks: [], size: 3, mtime: h.now }))
    expect(reply.attr.mode).to.equal(FileMode.IFREG | 0o666)
  })
})
