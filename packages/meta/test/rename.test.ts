import { RenameFlag } from '@tessera/protocol'
import { expect } from 'chai'
import { ALICE, BOB, code, Harness, ok, ROOT, ROOT_INO } from './harness.js'

function mv(h: Harness, parent: number, name: string, newParent: number, newName: string, flags = 0, cred = ROOT): string {
  return code(h.call({ op: 'rename', cred, parent, name, newParent, newName, flags }))
}

describe('fsm: rename', () => {
  it('moves a file within a directory and across directories, keeping the inode', () => {
    const h = new Harness()
    const a = h.mkdir(ROOT_INO, 'a')
    const f = h.create(ROOT_INO, 'f')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'g')).to.equal('OK')
    expect(mv(h, ROOT_INO, 'g', a, 'h')).to.equal('OK')
    expect(h.names(ROOT_INO)).to.deep.equal(['a'])
    expect(ok(h.lookup(a, 'h')).attr.ino).to.equal(f)
    expect(h.attr(f).nlink).to.equal(1)
  })

  it('moves a directory: its ".." and both parents\' link counts follow', () => {
    const h = new Harness()
    const a = h.mkdir(ROOT_INO, 'a')
    const b = h.mkdir(ROOT_INO, 'b')
    const d = h.mkdir(a, 'd')
    expect(mv(h, a, 'd', b, 'd2')).to.equal('OK')
    expect(h.attr(a).nlink).to.equal(2)
    expect(h.attr(b).nlink).to.equal(3)
    expect(ok(h.lookup(d, '..')).attr.ino).to.equal(b)
  })

  it('replaces an existing file atomically; the replaced inode goes', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f')
    const g = h.create(ROOT_INO, 'g')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'g')).to.equal('OK')
    expect(ok(h.lookup(ROOT_INO, 'g')).attr.ino).to.equal(f)
    expect(code(h.read({ op: 'getattr', ino: g }))).to.equal('ENOENT')
    expect(h.names(ROOT_INO)).to.deep.equal(['g'])
  })

  it('replaces an empty directory; ENOTEMPTY for a non-empty one', () => {
    const h = new Harness()
    const a = h.mkdir(ROOT_INO, 'a')
    const b = h.mkdir(ROOT_INO, 'b')
    const c = h.mkdir(ROOT_INO, 'c')
    h.create(c, 'x')
    expect(mv(h, ROOT_INO, 'a', ROOT_INO, 'c')).to.equal('ENOTEMPTY')
    expect(mv(h, ROOT_INO, 'a', ROOT_INO, 'b')).to.equal('OK')
    expect(code(h.read({ op: 'getattr', ino: b }))).to.equal('ENOENT')
    expect(h.attr(ROOT_INO).nlink).to.equal(4) // a (now named b) and c
    expect(ok(h.lookup(ROOT_INO, 'b')).attr.ino).to.equal(a)
  })

  it('directory onto a file is ENOTDIR; file onto a directory is EISDIR', () => {
    const h = new Harness()
    h.mkdir(ROOT_INO, 'd')
    h.create(ROOT_INO, 'f')
    expect(mv(h, ROOT_INO, 'd', ROOT_INO, 'f')).to.equal('ENOTDIR')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'd')).to.equal('EISDIR')
  })

  it('EINVAL moving a directory into its own subtree; ENOTEMPTY onto its own ancestor', () => {
    const h = new Harness()
    const a = h.mkdir(ROOT_INO, 'a')
    const b = h.mkdir(a, 'b')
    h.mkdir(b, 'c')
    expect(mv(h, ROOT_INO, 'a', a, 'x')).to.equal('EINVAL')
    expect(mv(h, ROOT_INO, 'a', b, 'x')).to.equal('EINVAL')
    expect(mv(h, a, 'b', ROOT_INO, 'a')).to.equal('ENOTEMPTY')
  })

  it('onto itself or another link of the same inode: success, nothing changes', () => {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f')
    ok(h.call({ op: 'link', cred: ROOT, ino: f, newParent: ROOT_INO, newName: 'g' }))
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'f')).to.equal('OK')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'g')).to.equal('OK')
    expect(h.names(ROOT_INO)).to.deep.equal(['f', 'g'])
    expect(h.attr(f).nlink).to.equal(2)
  })

  it('ENOENT for a missing source, EBUSY for "." or "..", EINVAL for unknown or conflicting flags', () => {
    const h = new Harness()
    h.create(ROOT_INO, 'f')
    expect(mv(h, ROOT_INO, 'nope', ROOT_INO, 'x')).to.equal('ENOENT')
    expect(mv(h, ROOT_INO, '.', ROOT_INO, 'x')).to.equal('EBUSY')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, '..')).to.equal('EBUSY')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, '.', RenameFlag.NOREPLACE)).to.equal('EEXIST')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'x', 4)).to.equal('EINVAL')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'x', RenameFlag.NOREPLACE | RenameFlag.EXCHANGE)).to.equal('EINVAL')
  })

  it('RENAME_NOREPLACE: EEXIST when the target exists, a plain move otherwise', () => {
    const h = new Harness()
    h.create(ROOT_INO, 'f')
    h.create(ROOT_INO, 'g')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'g', RenameFlag.NOREPLACE)).to.equal('EEXIST')
    expect(mv(h, ROOT_INO, 'f', ROOT_INO, 'h', RenameFlag.NOREPLACE)).to.equal('OK')
  })

  it('RENAME_EXCHANGE swaps two entries of any types, across directories', () => {
    const h = new Harness()
    const a = h.mkdir(ROOT_INO, 'a')
    const b = h.mkdir(ROOT_INO, 'b')
    const d = h.mkdir(a, 'd')
    const f = h.create(b, 'f')
    expect(mv(h, a, 'd', b, 'f', RenameFlag.EXCHANGE)).to.equal('OK')
    expect(ok(h.lookup(a, 'd')).attr.ino).to.equal(f)
    expect(ok(h.lookup(b, 'f')).attr.ino).to.equal(d)
    expect(ok(h.lookup(d, '..')).attr.ino).to.equal(b)
    expect(h.attr(a).nlink).to.equal(2)
    expect(h.attr(b).nlink).to.equal(3)
    expect(mv(h, a, 'd', b, 'missing', RenameFlag.EXCHANGE)).to.equal('ENOENT')
    // a directory may not be exchanged with its own ancestor
    expect(mv(h, ROOT_INO, 'b', b, 'f', RenameFlag.EXCHANGE)).to.equal('EINVAL')
  })

  it('needs write+search on both parents and, to move a directory across, write on it', () => {
    const h = new Harness()
    h.chmod(ROOT_INO, 0o777)
    const src = h.mkdir(ROOT_INO, 'src', 0o777, ALICE)
    const dst = h.mkdir(ROOT_INO, 'dst', 0o755, ROOT)
    h.create(src, 'f', 0o644, ALICE)
    expect(mv(h, src, 'f', dst, 'f', 0, ALICE)).to.equal('EACCES')
    h.chmod(dst, 0o777)
    expect(mv(h, src, 'f', dst, 'f', 0, ALICE)).to.equal('OK')
    h.mkdir(src, 'rootdir', 0o755, ROOT)
    expect(mv(h, src, 'rootdir', dst, 'x', 0, ALICE)).to.equal('EACCES') // cannot rewrite its ".."
    expect(mv(h, src, 'rootdir', src, 'y', 0, ALICE)).to.equal('OK') // same parent: no ".." change
  })

  it('sticky source directory: only the file owner, directory owner or root may rename out of it', () => {
    const h = new Harness()
    const tmp = h.mkdir(ROOT_INO, 'tmp', 0o1777)
    h.create(tmp, 'alices', 0o644, ALICE)
    expect(mv(h, tmp, 'alices', tmp, 'x', 0, BOB)).to.equal('EPERM')
    expect(mv(h, tmp, 'alices', tmp, 'x', 0, ALICE)).to.equal('OK')
    h.create(tmp, 'bobs', 0o644, BOB)
    expect(mv(h, tmp, 'bobs', tmp, 'x', 0, BOB)).to.equal('EPERM') // would replace Alice's file
  })

  it('EMLINK moving a directory into a full parent; replacing a directory there is fine', () => {
    const h = new Harness({ maxLinks: 4 })
    const a = h.mkdir(ROOT_INO, 'a')
    const b = h.mkdir(ROOT_INO, 'b')
    h.mkdir(a, 'x')
    h.mkdir(a, 'y')
    h.mkdir(b, 'z')
    expect(mv(h, b, 'z', a, 'z')).to.equal('EMLINK')
    expect(mv(h, b, 'z', a, 'x')).to.equal('OK')
    expect(h.attr(a).nlink).to.equal(4)
    expect(h.attr(b).nlink).to.equal(2)
  })
})
