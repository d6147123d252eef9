import { expect } from 'chai'
import { ALICE, BOB, CAROL, code, FileMode, Harness, ok, ROOT, ROOT_INO } from './harness.js'

describe('fsm: permissions', () => {
  it('owner, group (primary or supplementary) and other classes; the owner class wins even if narrower', () => {
    const h = new Harness()
    h.chmod(ROOT_INO, 0o777)
    const d = h.mkdir(ROOT_INO, 'd', 0o070, ALICE) // group rwx, owner nothing
    h.chown(d, 1000, 1000)
    expect(code(h.lookup(d, 'x', ALICE))).to.equal('EACCES') // owner class: no x
    expect(code(h.lookup(d, 'x', CAROL))).to.equal('ENOENT') // supplementary group 1000: searchable
    expect(code(h.lookup(d, 'x', BOB))).to.equal('EACCES') // other
    expect(code(h.lookup(d, 'x', ROOT))).to.equal('ENOENT')
  })

  it('root bypasses read/write checks but execute needs some x bit (data read of a 000 file is allowed)', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o000)
    h.chown(f, 1000, 1000)
    expect(code(h.read({ op: 'getBlocks', cred: ROOT, ino: f }))).to.equal('OK')
    expect(code(h.read({ op: 'getBlocks', cred: ALICE, ino: f }))).to.equal('EACCES')
    const d = h.mkdir(ROOT_INO, 'd', 0o000)
    expect(code(h.lookup(d, 'x', ROOT))).to.equal('ENOENT') // directories: root may always search
  })

  it('sticky directory: only the file owner, the directory owner or root may unlink', () => {
    const h = new Harness()
    const tmp = h.mkdir(ROOT_INO, 'tmp', 0o1777)
    h.chown(tmp, 1002, 1002)
    h.create(tmp, 'a', 0o666, ALICE)
    const rm = (name: string, cred: typeof ALICE) => code(h.call({ op: 'unlink', cred, parent: tmp, name }))
    expect(rm('a', BOB)).to.equal('EPERM')
    expect(rm('a', ALICE)).to.equal('OK')
    h.create(tmp, 'b', 0o666, ALICE)
    expect(rm('b', CAROL)).to.equal('OK') // the directory's owner
    h.create(tmp, 'c', 0o666, ALICE)
    expect(rm('c', ROOT)).to.equal('OK')
    h.mkdir(tmp, 'sub', 0o777, ALICE)
    expect(code(h.call({ op: 'rmdir', cred: BOB, parent: tmp, name: 'sub' }))).to.equal('EPERM')
  })

  it('setgid directory: new entries take its group, new subdirectories the setgid bit too', () => {
    const h = new Harness()
    const shared = h.mkdir(ROOT_INO, 'shared', 0o2777)
    expect(h.attr(shared).mode).to.equal(FileMode.IFDIR | 0o777) // mkdir(2) ignores setgid in its mode
    h.chown(shared, 0, 50)
    h.chmod(shared, 0o2777)
    const f = ok(h.call({ op: 'create', cred: ALICE, parent: shared, name: 'f', mode: 0o644, exclusive: true })).attr
    expect([f.uid, f.gid, f.mode]).to.deep.equal([1000, 50, FileMode.IFREG | 0o644])
    const sub = ok(h.call({ op: 'mkdir', cred: ALICE, parent: shared, name: 'sub', mode: 0o777 })).attr
    expect([sub.gid, sub.mode]).to.deep.equal([50, FileMode.IFDIR | 0o2777])
    const link = ok(h.call({ op: 'symlink', cred: ALICE, parent: shared, name: 'l', target: 'f' })).attr
    expect(link.gid).to.equal(50)
    // a setgid-executable file created there by a non-member loses setgid; a member keeps it
    const alices = ok(h.call({ op: 'create', cred: ALICE, parent: shared, name: 'x', mode: 0o2755, exclusive: true })).attr
    expect(alices.mode).to.equal(FileMode.IFREG | 0o755)
    const bobs = ok(h.call({ op: 'create', cred: BOB, parent: shared, name: 'y', mode: 0o2755, exclusive: true })).attr
    expect(bobs.mode).to.equal(FileMode.IFREG | 0o2755)
    const inSub = ok(h.call({ op: 'create', cred: BOB, parent: sub.ino, name: 'z', mode: 0o644, exclusive: true }))
    expect(inSub.attr.gid).to.equal(50) // sub inherited setgid
    // elsewhere: the creator's primary group
    h.chmod(ROOT_INO, 0o777)
    expect(ok(h.call({ op: 'create', cred: BOB, parent: ROOT_INO, name: 'p', mode: 0o644, exclusive: true })).attr.gid).to.equal(1001)
  })

  describe('chmod', () => {
    it('only the owner or root (EPERM); file type bits are kept', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f', 0o644, ROOT)
      h.chown(f, 1000, 1000)
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: f, mode: 0o777 }))).to.equal('EPERM')
      const attr = ok(h.call({ op: 'setattr', cred: ALICE, ino: f, mode: FileMode.IFDIR | 0o4600 })).attr
      expect(attr.mode).to.equal(FileMode.IFREG | 0o4600)
      expect(attr.ctime).to.not.deep.equal(attr.mtime)
    })

    it('a non-root owner outside the file\'s group cannot set setgid (silently dropped)', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f', 0o644)
      h.chown(f, 1000, 50)
      expect(ok(h.call({ op: 'setattr', cred: ALICE, ino: f, mode: 0o2755 })).attr.mode).to.equal(FileMode.IFREG | 0o755)
      h.chown(f, 1000, 1000)
      expect(ok(h.call({ op: 'setattr', cred: ALICE, ino: f, mode: 0o2755 })).attr.mode).to.equal(FileMode.IFREG | 0o2755)
    })
  })

  describe('chown', () => {
    it('only root changes the owner; the owner may only "change" it to itself', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f')
      h.chown(f, 1000, 1000)
      expect(code(h.call({ op: 'setattr', cred: ALICE, ino: f, uid: 1001 }))).to.equal('EPERM')
      expect(code(h.call({ op: 'setattr', cred: ALICE, ino: f, uid: 1000 }))).to.equal('OK')
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: f, uid: 1000 }))).to.equal('EPERM')
      expect(code(h.call({ op: 'setattr', cred: ROOT, ino: f, uid: 1001 }))).to.equal('OK')
      expect(h.attr(f).uid).to.equal(1001)
    })

    it('the owner may change the group to a group it belongs to, nothing else', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f')
      h.chown(f, 1001, 1001)
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: f, gid: 50 }))).to.equal('OK') // supplementary
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: f, gid: 1001 }))).to.equal('OK') // primary
      expect(code(h.call({ op: 'setattr', cred: BOB, ino: f, gid: 0 }))).to.equal('EPERM')
      expect(code(h.call({ op: 'setattr', cred: ALICE, ino: f, gid: 1000 }))).to.equal('EPERM') // not the owner
    })

    it('clears setuid, and setgid with group-execute, on non-directories (setgid without g+x stays)', () => {
      const h = new Harness()
      const f = h.create(ROOT_INO, 'f', 0o6755)
      h.chown(f, 1001, 1001)
      expect(h.attr(f).mode).to.equal(FileMode.IFREG | 0o755)
      const g = h.create(ROOT_INO, 'g', 0o2644)
      ok(h.call({ op: 'setattr', cred: ROOT, ino: g, mode: 0o6644 }))
      h.chown(g, 1001, 50)
      expect(h.attr(g).mode).to.equal(FileMode.IFREG | 0o2644)
      const d = h.mkdir(ROOT_INO, 'd', 0o755)
      ok(h.call({ op: 'setattr', cred: ROOT, ino: d, mode: 0o2755 }))
      h.chown(d, 1001, 50)
      expect(h.attr(d).mode).to.equal(FileMode.IFDIR | 0o2755)
    })
  })
})
