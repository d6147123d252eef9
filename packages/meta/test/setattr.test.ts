import { UTIME_NOW } from '@tessera/protocol'
import { expect } from 'chai'
import { ALICE, BOB, code, FileMode, Harness, key, ok, ROOT, ROOT_INO } from './harness.js'

describe('fsm: setattr (truncate, utimens)', () => {
  describe('truncate', () => {
    function fileWith(h: Harness, lens: number[]): number {
      const ino = h.create(ROOT_INO, 'f', 0o666)
      const blocks = lens.map((len, i) => ({ key: key(i + 1), len, used: len }))
      const size = lens.reduce((a, b) => a + b, 0)
      ok(h.call({ op: 'commitFile', cred: ROOT, ino, blocks, size, mtime: h.now }))
      return ino
    }
    const blocksOf = (h: Harness, ino: number) => ok(h.read({ op: 'getBlocks', cred: ROOT, ino }))

    it('shrinking drops whole blocks past the size and cuts the straddling one', () => {
      const h = new Harness()
      const ino = fileWith(h, [100, 100, 100])
      ok(h.call({ op: 'setattr', cred: ROOT, ino, size: 150 }))
      expect(blocksOf(h, ino)).to.deep.equal({
        size: 150,
        blocks: [{ key: key(1), len: 100, used: 100 }, { key: key(2), len: 100, used: 50 }],
      })
      expect(h.ns.unreferencedBlocks(10).map((b) => b.key)).to.deep.equal([key(3)])
      expect(ok(h.read({ op: 'statfs' }))).to.deep.include({ bytes: 150, blocks: 2, blockBytes: 200 })
    })

    it('growing adds a hole at the tail: no new blocks, and cut bytes do not come back', () => {
      const h = new Harness()
      const ino = fileWith(h, [100])
      ok(h.call({ op: 'setattr', cred: ROOT, ino, size: 40 }))
      const attr = ok(h.call({ op: 'setattr', cred: ROOT, ino, size: 1000 })).attr
      expect(attr.size).to.equal(1000)
      expect(blocksOf(h, ino).blocks).to.deep.equal([{ key: key(1), len: 100, used: 40 }])
      ok(h.call({ op: 'setattr', cred: ROOT, ino, size: 0 }))
      expect(blocksOf(h, ino)).to.deep.equal({ size: 0, blocks: [] })
    })

    it('EISDIR on a directory, EINVAL on a symlink, EACCES without write permission', () => {
      const h = new Harness()
      const d = h.mkdir(ROOT_INO, 'd')
      const l = ok(h.call({ op: 'symlink', cred: ROOT, parent: ROOT_INO, name: 'l', target: 'x' })).attr.ino
      const f = h.create(ROOT_INO, 'f', 0o644)
      expect(code(h.call({ op: 'setattr', cred: ROOT, ino: d, size: 0 }))).to.equal('EISDIR')
      expect(code(h.call({ op: 'setattr', cred: ROOT, ino: l, size: 0 }))).to.equal('EINVAL')
      expect(code(h.call({ op: 'setattr', cred: ALICE, ino: f, size: 0 }))).to.equal('EACCES')
    })

    it('updates mtime and ctime, and clears setuid when a non-root caller truncates', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f', 0o4777)
      const before = h.attr(f)
      const after = ok(h.call({ op: 'setattr', cred: ALICE, ino: f, size: 10 })).attr
      expect(after.mtime).to.not.deep.equal(before.mtime)
      expect(after.ctime).to.deep.equal(after.mtime)
      expect(after.mode).to.equal(FileMode.IFREG | 0o777)
    })

    it('a failed setattr changes nothing (size and mode checked together)', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f', 0o666)
      h.chown(f, 1000, 1000)
      const before = h.attr(f)
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: f, size: 5, mode: 0o600 }))).to.equal('EPERM')
      expect(h.attr(f)).to.deep.equal(before)
    })
  })

  describe('utimens', () => {
    it('explicit times: owner or root only (EPERM), stored with nanoseconds', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f', 0o666)
      h.chown(f, 1000, 1000)
      const t = { sec: 1234, nsec: 567_890_123 }
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: f, atime: t }))).to.equal('EPERM')
      const attr = ok(h.call({ op: 'setattr', cred: ALICE, ino: f, atime: t, mtime: { sec: 99, nsec: 1 } })).attr
      expect(attr.atime).to.deep.equal(t)
      expect(attr.mtime).to.deep.equal({ sec: 99, nsec: 1 })
      expect(attr.ctime.sec).to.be.greaterThan(1_600_000_000)
    })

    it('UTIME_NOW: the owner, root, or anyone with write permission (EACCES otherwise)', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f', 0o646) // others may write
      const g = h.create(ROOT_INO, 'g', 0o644)
      const now = { sec: 0, nsec: UTIME_NOW }
      const time = h.now
      const attr = ok(h.call({ op: 'setattr', cred: BOB, ino: f, atime: now, mtime: now })).attr
      expect(attr.atime).to.deep.equal(time)
      expect(attr.mtime).to.deep.equal(time)
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: g, atime: now, mtime: now }))).to.equal('EACCES')
      // omitting one time leaves it unchanged
      const before = h.attr(g)
      const onlyM = ok(h.call({ op: 'setattr', cred: ROOT, ino: g, mtime: now })).attr
      expect(onlyM.atime).to.deep.equal(before.atime)
    })

    it('EINVAL for nanoseconds out of range', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f')
      expect(code(h.call({ op: 'setattr', cred: ROOT, ino: f, atime: { sec: 1, nsec: 1_000_000_000 } }))).to.equal('EINVAL')
    })
  })

  it('ENOENT for a missing inode', () => {
    const h = new Harness()
    expect(code(h.call({ op: 'setattr', cred: ROOT, ino: 777, mode: 0o600 }))).to.equal('ENOENT')
  })
})
