import { XattrFlag } from '@tessera/protocol'
import { expect } from 'chai'
import { ALICE, BOB, code, Harness, ok, ROOT, ROOT_INO } from './harness.js'

const bytes = (s: string) => new TextEncoder().encode(s)

describe('fsm: extended attributes', () => {
  function setup() {
    const h = new Harness()
    const f = h.create(ROOT_INO, 'f', 0o644)
    h.chown(f, 1000, 1000)
    const set = (name: string, value: string | Uint8Array, flags = 0, cred = ALICE, ino = f) =>
      code(h.call({ op: 'setxattr', cred, ino, name, value: typeof value === 'string' ? bytes(value) : value, flags }))
    const get = (name: string, size = 1024, cred = ALICE, ino = f) => h.read({ op: 'getxattr', cred, ino, name, size })
    return { h, f, set, get }
  }

  it('set, get (size 0 asks the length, too small is ERANGE), list (sorted), remove', () => {
    const { h, f, set, get } = setup()
    expect(set('user.b', 'two')).to.equal('OK')
    expect(set('user.a', 'one')).to.equal('OK')
    expect(ok(get('user.a'))).to.deep.equal({ size: 3, value: bytes('one') })
    expect(ok(get('user.a', 0))).to.deep.equal({ size: 3 })
    expect(code(get('user.a', 2))).to.equal('ERANGE')
    expect(ok(h.read({ op: 'listxattr', cred: ALICE, ino: f, size: 100 }))).to.deep.equal({ size: 14, names: ['user.a', 'user.b'] })
    expect(ok(h.read({ op: 'listxattr', cred: ALICE, ino: f, size: 0 }))).to.deep.equal({ size: 14 })
    expect(code(h.read({ op: 'listxattr', cred: ALICE, ino: f, size: 13 }))).to.equal('ERANGE')
    expect(code(h.call({ op: 'removexattr', cred: ALICE, ino: f, name: 'user.a' }))).to.equal('OK')
    expect(code(get('user.a'))).to.equal('ENODATA')
    expect(code(h.call({ op: 'removexattr', cred: ALICE, ino: f, name: 'user.a' }))).to.equal('ENODATA')
  })

  it('XATTR_CREATE on an existing name is EEXIST; XATTR_REPLACE on a missing one is ENODATA; bad flags EINVAL', () => {
    const { set, get } = setup()
    expect(set('user.x', '1', XattrFlag.REPLACE)).to.equal('ENODATA')
    expect(set('user.x', '1', XattrFlag.CREATE)).to.equal('OK')
    expect(set('user.x', '2', XattrFlag.CREATE)).to.equal('EEXIST')
    expect(set('user.x', '3', XattrFlag.REPLACE)).to.equal('OK')
    expect(ok(get('user.x')).value).to.deep.equal(bytes('3'))
    expect(set('user.x', '4', 4)).to.equal('EINVAL')
  })

  it('names: empty or > 255 bytes ERANGE, unknown namespace or system.* ENOTSUP, bare prefix EINVAL', () => {
    const { set } = setup()
    expect(set('', 'v')).to.equal('ERANGE')
    expect(set('user.' + 'a'.repeat(251), 'v')).to.equal('ERANGE')
    expect(set('user.' + 'a'.repeat(250), 'v')).to.equal('OK')
    expect(set('foo.bar', 'v')).to.equal('ENOTSUP')
    expect(set('system.posix_acl_access', 'v')).to.equal('ENOTSUP')
    expect(set('user.', 'v')).to.equal('EINVAL')
  })

  it('values up to 64 KiB; larger is ERANGE (Linux: E2BIG); per-inode total over the limit is ENOSPC', () => {
    const { h, set } = setup()
    expect(set('user.big', new Uint8Array(65536))).to.equal('OK')
    expect(set('user.huge', new Uint8Array(65537))).to.equal('ERANGE')
    expect(set('user.b2', new Uint8Array(65536))).to.equal('OK')
    expect(set('user.b3', new Uint8Array(65536))).to.equal('OK')
    expect(set('user.b4', new Uint8Array(65536))).to.equal('ENOSPC')
    void h
  })

  it('user.*: needs write/read permission; only on files and directories; sticky dirs owner-only', () => {
    const { h, f, set, get } = setup()
    expect(set('user.x', 'v', 0, BOB)).to.equal('EACCES')
    expect(set('user.x', 'v', 0, ALICE)).to.equal('OK')
    expect(ok(get('user.x', 10, BOB)).size).to.equal(1) // 0644: others read
    ok(h.call({ op: 'setattr', cred: ALICE, ino: f, mode: 0o600 }))
    expect(code(get('user.x', 10, BOB))).to.equal('EACCES')
    const l = ok(h.call({ op: 'symlink', cred: ROOT, parent: ROOT_INO, name: 'l', target: 'f' })).attr.ino
    expect(set('user.x', 'v', 0, ROOT, l)).to.equal('EPERM')
    expect(code(get('user.x', 10, ROOT, l))).to.equal('ENODATA')
    const tmp = h.mkdir(ROOT_INO, 'tmp', 0o777)
    h.chmod(tmp, 0o1777)
    expect(set('user.x', 'v', 0, ALICE, tmp)).to.equal('EPERM')
    expect(set('user.x', 'v', 0, ROOT, tmp)).to.equal('OK')
  })

  it('trusted.*: root only (EPERM to set, ENODATA to get, hidden from listing)', () => {
    const { h, f, set, get } = setup()
    expect(set('trusted.t', 'v', 0, ALICE)).to.equal('EPERM')
    expect(set('trusted.t', 'v', 0, ROOT)).to.equal('OK')
    expect(code(get('trusted.t', 10, ALICE))).to.equal('ENODATA')
    expect(ok(get('trusted.t', 10, ROOT)).size).to.equal(1)
    expect(ok(h.read({ op: 'listxattr', cred: ALICE, ino: f, size: 100 })).names).to.deep.equal([])
    expect(ok(h.read({ op: 'listxattr', cred: ROOT, ino: f, size: 100 })).names).to.deep.equal(['trusted.t'])
  })

  it('security.*: the owner or root writes, anyone reads', () => {
    const { set, get } = setup()
    expect(set('security.s', 'v', 0, BOB)).to.equal('EPERM')
    expect(set('security.s', 'v', 0, ALICE)).to.equal('OK')
    expect(ok(get('security.s', 10, BOB)).size).to.equal(1)
  })

  it('changing attributes updates ctime; a stored value is a copy of the request bytes', () => {
    const { h, f } = setup()
    const value = bytes('abc')
    const before = h.attr(f).ctime
    ok(h.call({ op: 'setxattr', cred: ALICE, ino: f, name: 'user.c', value, flags: 0 }))
    value[0] = 0x7a
    expect(h.attr(f).ctime).to.not.deep.equal(before)
    expect(ok(h.read({ op: 'getxattr', cred: ALICE, ino: f, name: 'user.c', size: 10 })).value).to.deep.equal(bytes('abc'))
  })
})
