import { expect } from 'chai'
import { ALICE, BOB, code, FileMode, Harness, ok, ROOT, ROOT_INO } from './harness.js'

describe('fsm: creating and removing entries', () => {
  it('formats a root directory owned by root, mode 0755, nlink 2', () => {
    const h = new Harness()
    const root = h.attr(ROOT_INO)
    expect(root.mode).to.equal(FileMode.IFDIR | 0o755)
    expect([root.uid, root.gid, root.nlink, root.ino]).to.deep.equal([0, 0, 2, 1])
  })

  it('gives the root directory the time of the first command applied, once', () => {
    const h = new Harness()
    const born = { sec: 1_700_000_000, nsec: 0 } // the time of the harness's first command (openSession)
    const root = h.attr(ROOT_INO)
    expect([root.atime, root.mtime, root.ctime]).to.deep.equal([born, born, born])
    h.create(h.mkdir(ROOT_INO, 'sub'), 'f') // later commands leave the root's atime alone
    expect(h.attr(ROOT_INO).atime).to.deep.equal(born)
    expect(h.attr(ROOT_INO).mtime).to.not.deep.equal(born)
  })

  describe('mkdir', () => {
    it('creates a directory, links it into the parent and bumps the parent link count', () => {
      const h = new Harness()
      h.chmod(ROOT_INO, 0o777)
      const attr = ok(h.call({ op: 'mkdir', cred: ALICE, parent: ROOT_INO, name: 'a', mode: 0o750 })).attr
      expect(attr.mode).to.equal(FileMode.IFDIR | 0o750) // as given: the caller applied its umask
      expect([attr.uid, attr.gid, attr.nlink]).to.deep.equal([1000, 1000, 2])
      expect(h.attr(ROOT_INO).nlink).to.equal(3)
      expect(ok(h.lookup(ROOT_INO, 'a')).attr.ino).to.equal(attr.ino)
      expect(ok(h.lookup(attr.ino, '..')).attr.ino).to.equal(ROOT_INO)
      expect(ok(h.lookup(attr.ino, '.')).attr.ino).to.equal(attr.ino)
      expect(h.attr(ROOT_INO).mtime).to.not.deep.equal({ sec: 0, nsec: 0 })
    })

    it('drops setuid/setgid from the requested mode but keeps sticky', () => {
      const h = new Harness()
      const ino = h.mkdir(ROOT_INO, 'a', 0o7777)
      expect(h.attr(ino).mode).to.equal(FileMode.IFDIR | 0o1777)
    })

    it('EEXIST for an existing name, ".", and ".."', () => {
      const h = new Harness()
      h.mkdir(ROOT_INO, 'a')
      for (const name of ['a', '.', '..']) {
        expect(code(h.call({ op: 'mkdir', cred: ROOT, parent: ROOT_INO, name, mode: 0o755 }))).to.equal('EEXIST')
      }
    })

    it('checks names: ENOENT empty, EINVAL "/" or NUL, ENAMETOOLONG past 255 UTF-8 bytes', () => {
      const h = new Harness()
      const mk = (name: string) => code(h.call({ op: 'mkdir', cred: ROOT, parent: ROOT_INO, name, mode: 0o755 }))
      expect(mk('')).to.equal('ENOENT')
      expect(mk('a/b')).to.equal('EINVAL')
      expect(mk('a\0b')).to.equal('EINVAL')
      expect(mk('x'.repeat(255))).to.equal('OK')
      expect(mk('y'.repeat(256))).to.equal('ENAMETOOLONG')
      expect(mk('é'.repeat(127))).to.equal('OK') // 254 bytes
      expect(mk('ü'.repeat(128))).to.equal('ENAMETOOLONG') // 256 bytes in 128 characters
      expect(mk('😀'.repeat(63))).to.equal('OK') // 252 bytes
      expect(mk('😀'.repeat(64))).to.equal('ENAMETOOLONG')
    })

    it('ENOENT for a missing parent, ENOTDIR for a file parent', () => {
      const h = new Harness()
      const file = h.create(ROOT_INO, 'f')
      expect(code(h.call({ op: 'mkdir', cred: ROOT, parent: 999, name: 'a', mode: 0o755 }))).to.equal('ENOENT')
      expect(code(h.call({ op: 'mkdir', cred: ROOT, parent: file, name: 'a', mode: 0o755 }))).to.equal('ENOTDIR')
    })

    it('EACCES without write or search permission on the parent', () => {
      const h = new Harness()
      const dir = h.mkdir(ROOT_INO, 'd', 0o755)
      expect(code(h.call({ op: 'mkdir', cred: ALICE, parent: dir, name: 'a', mode: 0o755 }))).to.equal('EACCES')
      h.chmod(dir, 0o776) // writable, not searchable by others
      expect(code(h.call({ op: 'mkdir', cred: ALICE, parent: dir, name: 'a', mode: 0o755 }))).to.equal('EACCES')
      h.chmod(dir, 0o777)
      expect(code(h.call({ op: 'mkdir', cred: ALICE, parent: dir, name: 'a', mode: 0o755 }))).to.equal('OK')
    })

    it('EMLINK when the parent already holds maxLinks - 2 subdirectories', () => {
      const h = new Harness({ maxLinks: 5 })
      for (const name of ['a', 'b', 'c']) h.mkdir(ROOT_INO, name)
      expect(code(h.call({ op: 'mkdir', cred: ROOT, parent: ROOT_INO, name: 'd', mode: 0o755 }))).to.equal('EMLINK')
      expect(h.create(ROOT_INO, 'file')).to.be.a('number') // files do not count
    })
  })

  describe('create and mknod', () => {
    it('creates a regular file with nlink 1 and size 0, keeping setuid in the mode', () => {
      const h = new Harness()
      h.chmod(ROOT_INO, 0o777)
      const reply = ok(h.call({ op: 'create', cred: ALICE, parent: ROOT_INO, name: 'f', mode: 0o4755, exclusive: true }))
      expect(reply.created).to.equal(true)
      expect(reply.attr.mode).to.equal(FileMode.IFREG | 0o4755)
      expect([reply.attr.nlink, reply.attr.size, reply.attr.uid]).to.deep.equal([1, 0, 1000])
      expect(h.attr(ROOT_INO).nlink).to.equal(2)
    })

    it('exclusive create of an existing name is EEXIST; plain create returns the file', () => {
      const h = new Harness()
      const ino = h.create(ROOT_INO, 'f')
      expect(code(h.call({ op: 'create', cred: ROOT, parent: ROOT_INO, name: 'f', mode: 0o644, exclusive: true }))).to.equal('EEXIST')
      const again = ok(h.call({ op: 'create', cred: ROOT, parent: ROOT_INO, name: 'f', mode: 0o600, exclusive: false }))
      expect(again).to.deep.include({ created: false })
      expect(again.attr.ino).to.equal(ino)
      expect(again.attr.mode).to.equal(FileMode.IFREG | 0o644)
    })

    it('create over a directory or "." is EISDIR, EEXIST when exclusive (as Linux open(O_CREAT))', () => {
      const h = new Harness()
      h.mkdir(ROOT_INO, 'd')
      const cr = (name: string, exclusive: boolean) => code(h.call({ op: 'create', cred: ROOT, parent: ROOT_INO, name, mode: 0o644, exclusive }))
      expect(cr('d', false)).to.equal('EISDIR')
      expect(cr('.', false)).to.equal('EISDIR')
      expect(cr('d', true)).to.equal('EEXIST')
      expect(cr('.', true)).to.equal('EEXIST')
      expect(cr('..', true)).to.equal('EEXIST')
    })

    it('mknod makes regular files only: other types are EPERM', () => {
      const h = new Harness()
      const attr = ok(h.call({ op: 'mknod', cred: ROOT, parent: ROOT_INO, name: 'r', mode: FileMode.IFREG | 0o600 })).attr
      expect(attr.mode).to.equal(FileMode.IFREG | 0o600)
      const plain = ok(h.call({ op: 'mknod', cred: ROOT, parent: ROOT_INO, name: 'p', mode: 0o600 })).attr
      expect(plain.mode).to.equal(FileMode.IFREG | 0o600)
      for (const type of [0o010000 /* fifo */, 0o020000 /* chr */, 0o060000 /* blk */, 0o140000 /* sock */]) {
        expect(code(h.call({ op: 'mknod', cred: ROOT, parent: ROOT_INO, name: `n${type}`, mode: type | 0o600 }))).to.equal('EPERM')
      }
      expect(code(h.call({ op: 'mknod', cred: ROOT, parent: ROOT_INO, name: 'r', mode: 0o600 }))).to.equal('EEXIST')
    })
  })

  describe('symlink and readlink', () => {
    it('stores the target; size is its UTF-8 length; mode 0777', () => {
      const h = new Harness()
      const attr = ok(h.call({ op: 'symlink', cred: ROOT, parent: ROOT_INO, name: 'l', target: '../ü/x' })).attr
      expect(attr.mode).to.equal(FileMode.IFLNK | 0o777)
      expect(attr.size).to.equal(7)
      expect(ok(h.read({ op: 'readlink', ino: attr.ino })).target).to.equal('../ü/x')
    })

    it('ENOENT for an empty target, ENAMETOOLONG past 4096 bytes, EINVAL readlink of a non-link', () => {
      const h = new Harness()
      expect(code(h.call({ op: 'symlink', cred: ROOT, parent: ROOT_INO, name: 'l', target: '' }))).to.equal('ENOENT')
      expect(code(h.call({ op: 'symlink', cred: ROOT, parent: ROOT_INO, name: 'l', target: 'a'.repeat(4097) }))).to.equal('ENAMETOOLONG')
      expect(code(h.read({ op: 'readlink', ino: ROOT_INO }))).to.equal('EINVAL')
    })
  })

  describe('link', () => {
    it('adds a name for the same inode and counts it in nlink', () => {
      const h = new Harness()
      const ino = h.create(ROOT_INO, 'f')
      const attr = ok(h.call({ op: 'link', cred: ROOT, ino, newParent: ROOT_INO, newName: 'g' })).attr
      expect([attr.ino, attr.nlink]).to.deep.equal([ino, 2])
      expect(ok(h.lookup(ROOT_INO, 'g')).attr.ino).to.equal(ino)
    })

    it('EPERM on a directory, EEXIST on an existing name, EMLINK past maxLinks, ENOENT missing inode', () => {
      const h = new Harness({ maxLinks: 3 })
      const dir = h.mkdir(ROOT_INO, 'd')
      const ino = h.create(ROOT_INO, 'f')
      const ln = (target: number, newName: string) => code(h.call({ op: 'link', cred: ROOT, ino: target, newParent: ROOT_INO, newName }))
      expect(ln(dir, 'd2')).to.equal('EPERM')
      expect(ln(ino, 'd')).to.equal('EEXIST')
      expect(ln(ino, '.')).to.equal('EEXIST')
      expect(ln(ino, 'f2')).to.equal('OK')
      expect(ln(ino, 'f3')).to.equal('OK')
      expect(ln(ino, 'f4')).to.equal('EMLINK')
      expect(ln(12345, 'x')).to.equal('ENOENT')
    })
  })

  describe('unlink', () => {
    it('removes a name; the inode goes with its last link', () => {
      const h = new Harness()
      const ino = h.create(ROOT_INO, 'f')
      ok(h.call({ op: 'link', cred: ROOT, ino, newParent: ROOT_INO, newName: 'g' }))
      ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'f' }))
      expect(h.attr(ino).nlink).to.equal(1)
      ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: 'g' }))
      expect(code(h.read({ op: 'getattr', ino }))).to.equal('ENOENT')
      expect(h.names(ROOT_INO)).to.deep.equal([])
      expect(ok(h.read({ op: 'statfs' }))).to.deep.include({ inodes: 1, files: 0, dirs: 1 })
    })

    it('ENOENT missing, EISDIR for a directory, ".", ".."; EACCES without write on the parent', () => {
      const h = new Harness()
      h.mkdir(ROOT_INO, 'd')
      h.create(ROOT_INO, 'f')
      const rm = (name: string, cred = ROOT) => code(h.call({ op: 'unlink', cred, parent: ROOT_INO, name }))
      expect(rm('nope')).to.equal('ENOENT')
      expect(rm('d')).to.equal('EISDIR')
      expect(rm('.')).to.equal('EISDIR')
      expect(rm('..')).to.equal('EISDIR')
      expect(rm('f', ALICE)).to.equal('EACCES')
    })
  })

  describe('rmdir', () => {
    it('removes an empty directory and drops the parent link count', () => {
      const h = new Harness()
      h.mkdir(ROOT_INO, 'd')
      ok(h.call({ op: 'rmdir', cred: ROOT, parent: ROOT_INO, name: 'd' }))
      expect(h.attr(ROOT_INO).nlink).to.equal(2)
      expect(code(h.lookup(ROOT_INO, 'd'))).to.equal('ENOENT')
    })

    it('ENOTEMPTY, ENOTDIR, EINVAL for ".", ENOTEMPTY for "..", ENOENT', () => {
      const h = new Harness()
      const d = h.mkdir(ROOT_INO, 'd')
      h.create(d, 'inner')
      h.create(ROOT_INO, 'f')
      const rm = (parent: number, name: string) => code(h.call({ op: 'rmdir', cred: ROOT, parent, name }))
      expect(rm(ROOT_INO, 'd')).to.equal('ENOTEMPTY')
      expect(rm(ROOT_INO, 'f')).to.equal('ENOTDIR')
      expect(rm(d, '.')).to.equal('EINVAL')
      expect(rm(d, '..')).to.equal('ENOTEMPTY')
      expect(rm(ROOT_INO, 'nope')).to.equal('ENOENT')
      ok(h.call({ op: 'unlink', cred: ROOT, parent: d, name: 'inner' }))
      expect(rm(ROOT_INO, 'd')).to.equal('OK')
    })
  })

  describe('lookup and readdir', () => {
    it('EACCES looking up in a directory without search permission', () => {
      const h = new Harness()
      const d = h.mkdir(ROOT_INO, 'd', 0o700)
      h.create(d, 'f')
      expect(code(h.lookup(d, 'f', BOB))).to.equal('EACCES')
      expect(code(h.lookup(d, 'f', ROOT))).to.equal('OK')
      expect(code(h.read({ op: 'readdir', cred: BOB, ino: d, limit: 10 }))).to.equal('EACCES')
    })

    it('lists names in a stable order with types; excludes "." and ".." but reports the parent', () => {
      const h = new Harness()
      const d = h.mkdir(ROOT_INO, 'd')
      h.create(d, 'b')
      h.mkdir(d, 'a')
      ok(h.call({ op: 'symlink', cred: ROOT, parent: d, name: 'c', target: 'b' }))
      const reply = ok(h.read({ op: 'readdir', cred: ROOT, ino: d, limit: 10 }))
      expect(reply.entries.map((e) => [e.name, e.type])).to.deep.equal([
        ['a', FileMode.IFDIR], ['b', FileMode.IFREG], ['c', FileMode.IFLNK],
      ])
      expect(reply.parent).to.equal(ROOT_INO)
      expect(reply.more).to.equal(false)
      expect(code(h.read({ op: 'readdir', cred: ROOT, ino: d, limit: 0 }))).to.equal('EINVAL')
      expect(code(h.read({ op: 'readdir', cred: ROOT, ino: 999, limit: 1 }))).to.equal('ENOENT')
    })

    it('plus: each entry carries the attributes getattr returns, across pages', () => {
      const h = new Harness()
      const d = h.mkdir(ROOT_INO, 'd')
      const names = ['a', 'b', 'c', 'd', 'e']
      for (const name of names) h.create(d, name, 0o640)
      h.mkdir(d, 'sub', 0o700)
      const seen: string[] = []
      let after: string | undefined
      for (;;) {
        const page = ok(h.read({ op: 'readdir', cred: ROOT, ino: d, limit: 4, plus: true, ...(after === undefined ? {} : { after }) }))
        for (const entry of page.entries) {
          expect(entry.attr, entry.name).to.deep.equal(h.attr(entry.ino))
          expect(entry.attr!.mode & FileMode.IFMT).to.equal(entry.type)
          seen.push(entry.name)
        }
        if (!page.more) break
        after = page.entries[page.entries.length - 1]!.name
      }
      expect(seen).to.deep.equal([...names, 'sub'])
      const plain = ok(h.read({ op: 'readdir', cred: ROOT, ino: d, limit: 10 }))
      expect(plain.entries.every((e) => e.attr === undefined && e.xattrs === undefined)).to.equal(true)
    })

    it('plus: tells whether each entry has extended attributes', () => {
      const h = new Harness()
      const d = h.mkdir(ROOT_INO, 'd')
      const tagged = h.create(d, 'tagged')
      h.create(d, 'bare')
      ok(h.call({ op: 'setxattr', cred: ROOT, ino: tagged, name: 'user.k', value: new Uint8Array([1]), flags: 0 }))
      const page = ok(h.read({ op: 'readdir', cred: ROOT, ino: d, limit: 10, plus: true }))
      expect(page.entries.map((e) => [e.name, e.xattrs])).to.deep.equal([['bare', false], ['tagged', true]])
      ok(h.call({ op: 'removexattr', cred: ROOT, ino: tagged, name: 'user.k' }))
      expect(ok(h.read({ op: 'readdir', cred: ROOT, ino: d, limit: 10, plus: true })).entries.map((e) => e.xattrs)).to.deep.equal([false, false])
    })

    it('plus: attributes only for a caller that may search the directory (lookup\'s rule); EACCES without read', () => {
      const h = new Harness()
      const readOnly = h.mkdir(ROOT_INO, 'r', 0o744) // others: read, no search
      h.create(readOnly, 'f')
      const listed = ok(h.read({ op: 'readdir', cred: BOB, ino: readOnly, limit: 10, plus: true }))
      expect(listed.entries.map((e) => e.name)).to.deep.equal(['f'])
      expect(listed.entries[0]!.attr).to.equal(undefined)
      expect(code(h.lookup(readOnly, 'f', BOB))).to.equal('EACCES')
      const searchOnly = h.mkdir(ROOT_INO, 'x', 0o711) // others: search, no read
      h.create(searchOnly, 'f')
      expect(code(h.read({ op: 'readdir', cred: BOB, ino: searchOnly, limit: 10, plus: true }))).to.equal('EACCES')
      const open = h.mkdir(ROOT_INO, 'o', 0o755)
      const f = h.create(open, 'f', 0o600)
      const full = ok(h.read({ op: 'readdir', cred: BOB, ino: open, limit: 10, plus: true }))
      expect(full.entries[0]!.attr).to.deep.equal(h.attr(f)) // attributes need no access to the file itself
    })

    it('directories with numerically related inode numbers do not see each other\'s entries', () => {
      const h = new Harness()
      const dirs: number[] = []
      for (let i = 0; i < 40; i++) dirs.push(h.mkdir(ROOT_INO, `d${i}`))
      for (const d of dirs) h.create(d, `in-${d}`)
      for (const d of dirs) expect(h.names(d)).to.deep.equal([`in-${d}`])
    })
  })
})
