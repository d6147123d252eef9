/**
 * The Vfs's namespace calls over a real one-member meta service: each maps to meta and keeps
 * meta's error codes; the attribute and entry caches expire as configured.
 */
import { expect } from 'chai'
import { FileMode, TesseraError, XattrFlag, type Credentials } from '@tessera/protocol'
import { AccessMask, OpenFlag, Vfs, type MetaClient } from '../src/index.js'
import { InMemoryDataPath } from './support/in-memory-data-path.js'
import { SingleMeta } from './support/meta-cluster.js'

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const USER: Credentials = { uid: 1000, gid: 1000, groups: [] }

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    expect((err as TesseraError).code).to.equal(code)
    return
  }
  expect.fail(`expected ${code}`)
}

describe('Vfs namespace', function () {
  let meta: SingleMeta
  let client: MetaClient
  let vfs: Vfs

  before(async () => {
    meta = await SingleMeta.start()
    client = meta.client()
    vfs = new Vfs(client, new InMemoryDataPath())
  })
  after(async () => {
    await meta.stop()
  })

  it('makes, lists and removes directories with the POSIX errors', async () => {
    const attr = await vfs.mkdir(ROOT, '/d', 0o755)
    expect(attr.mode & FileMode.IFMT).to.equal(FileMode.IFDIR)
    await expectCode(vfs.mkdir(ROOT, '/d', 0o755), 'EEXIST')
    await vfs.mkdir(ROOT, '/d/sub', 0o700)
    await vfs.release(await vfs.create(ROOT, '/d/file', 0o644, OpenFlag.O_WRONLY))
    expect((await vfs.readdir(ROOT, '/d')).map((e) => e.name).sort()).to.deep.equal(['file', 'sub'])
    await expectCode(vfs.rmdir(ROOT, '/d'), 'ENOTEMPTY')
    await expectCode(vfs.rmdir(ROOT, '/d/file'), 'ENOTDIR')
    await expectCode(vfs.unlink(ROOT, '/d/sub'), 'EISDIR')
    await expectCode(vfs.getattr(ROOT, '/d/file/x'), 'ENOTDIR')
    await expectCode(vfs.getattr(ROOT, '/d/nope'), 'ENOENT')
    await expectCode(vfs.readdir(ROOT, '/d/nope'), 'ENOENT')
    await vfs.rmdir(ROOT, '/d/sub')
    await vfs.unlink(ROOT, '/d/file')
    await expectCode(vfs.getattr(ROOT, '/d/file'), 'ENOENT')
    await vfs.rmdir(ROOT, '/d')
    await expectCode(vfs.getattr(ROOT, '/d'), 'ENOENT')
  })

  it('renames, links and symlinks', async () => {
    await vfs.mkdir(ROOT, '/r', 0o755)
    await vfs.release(await vfs.create(ROOT, '/r/a', 0o644, OpenFlag.O_WRONLY))
    await vfs.rename(ROOT, '/r/a', '/r/b')
    await expectCode(vfs.getattr(ROOT, '/r/a'), 'ENOENT')
    const b = await vfs.getattr(ROOT, '/r/b')
    const linked = await vfs.link(ROOT, '/r/b', '/r/c')
    expect(linked.ino).to.equal(b.ino)
    expect(linked.nlink).to.equal(2)
    await expectCode(vfs.link(ROOT, '/r/b', '/r/c'), 'EEXIST')
    await vfs.symlink(ROOT, 'b', '/r/s')
    expect(await vfs.readlink(ROOT, '/r/s')).to.equal('b')
    expect((await vfs.getattr(ROOT, '/r/s')).mode & FileMode.IFMT).to.equal(FileMode.IFLNK)
    await expectCode(vfs.rename(ROOT, '/r', '/r/inside'), 'EINVAL')
    await vfs.mkdir(ROOT, '/r/dir', 0o755)
    await expectCode(vfs.rename(ROOT, '/r/b', '/r/dir'), 'EISDIR')
  })

  it('changes mode, owner and times', async () => {
    await vfs.release(await vfs.create(ROOT, '/m', 0o644, OpenFlag.O_WRONLY))
    expect((await vfs.chmod(ROOT, '/m', 0o600)).mode & 0o7777).to.equal(0o600)
    const owned = await vfs.chown(ROOT, '/m', 1000, -1)
    expect([owned.uid, owned.gid]).to.deep.equal([1000, 0])
    await expectCode(vfs.chown(USER, '/m', 0, -1), 'EPERM')
    const timed = await vfs.utimens(ROOT, '/m', { sec: 1000, nsec: 5 }, { sec: 2000, nsec: 0 })
    expect(timed.atime).to.deep.equal({ sec: 1000, nsec: 5 })
    expect(timed.mtime).to.deep.equal({ sec: 2000, nsec: 0 })
    const now = await vfs.utimens(ROOT, '/m', 'omit', 'now')
    expect(now.atime).to.deep.equal({ sec: 1000, nsec: 5 })
    expect(now.mtime.sec).to.be.greaterThan(2000)
    await vfs.access(USER, '/m', AccessMask.R_OK | AccessMask.W_OK) // owner now, 0600
    await vfs.chmod(ROOT, '/m', 0o400)
    await expectCode(vfs.access(USER, '/m', AccessMask.W_OK), 'EACCES')
    await expectCode(vfs.access(ROOT, '/m', AccessMask.X_OK), 'EACCES')
    await vfs.access(ROOT, '/m', AccessMask.F_OK)
  })

  it('sets, gets, lists and removes extended attributes', async () => {
    await vfs.release(await vfs.create(ROOT, '/x', 0o644, OpenFlag.O_WRONLY))
    await vfs.setxattr(ROOT, '/x', 'user.colour', Buffer.from('blue'), 0)
    expect(Buffer.from(await vfs.getxattr(ROOT, '/x', 'user.colour')).toString()).to.equal('blue')
    await expectCode(vfs.setxattr(ROOT, '/x', 'user.colour', Buffer.from('red'), XattrFlag.CREATE), 'EEXIST')
    await expectCode(vfs.setxattr(ROOT, '/x', 'user.size', Buffer.from('1'), XattrFlag.REPLACE), 'ENODATA')
    expect(await vfs.listxattr(ROOT, '/x')).to.deep.equal(['user.colour'])
    await vfs.removexattr(ROOT, '/x', 'user.colour')
    await expectCode(vfs.getxattr(ROOT, '/x', 'user.colour'), 'ENODATA')
    expect(await vfs.listxattr(ROOT, '/x')).to.deep.equal([])
  })

  it('reports statfs from meta', async () => {
    const stats = await vfs.statfs()
    expect(stats.files).to.be.greaterThan(0)
    expect(stats.dirs).to.be.greaterThan(0)
  })

  it('serves attributes from the cache for the TTL, then from meta', async () => {
    const cached = new Vfs(client, new InMemoryDataPath(), { attrTtlMs: 300, entryTtlMs: 300 })
    const other = new Vfs(client, new InMemoryDataPath())
    await other.release(await other.create(ROOT, '/ttl', 0o644, OpenFlag.O_WRONLY))
    expect((await cached.getattr(ROOT, '/ttl')).mode & 0o777).to.equal(0o644)
    await other.chmod(ROOT, '/ttl', 0o640)
    expect((await cached.getattr(ROOT, '/ttl')).mode & 0o777).to.equal(0o644) // cached
    await new Promise((resolve) => setTimeout(resolve, 350))
    expect((await cached.getattr(ROOT, '/ttl')).mode & 0o777).to.equal(0o640)
    await other.unlink(ROOT, '/ttl')
    const uncached = new Vfs(client, new InMemoryDataPath(), { attrTtlMs: 0, entryTtlMs: 0 })
    await expectCode(uncached.getattr(ROOT, '/ttl'), 'ENOENT')
  })
})
