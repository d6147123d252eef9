/**
 * The meta round trips of the FUSE operation sequences ordinary programs cause (as libfuse 2's
 * high-level API turns them into Vfs calls: a LOOKUP and the getattr after CREATE or SETATTR are
 * getattr(path)), counted by Vfs.stats() over a real one-member meta service. Each fast path is
 * checked to keep its semantics: what another Vfs sees after close, and the errno of a refusal.
 */
import { expect } from 'chai'
import type { BlockCopies, Credentials } from '@tessera/protocol'
import { OpenFlag, Vfs, type MetaClient } from '../src/index.js'
import { InMemoryDataPath, STAND_IN_SERVER } from './support/in-memory-data-path.js'
import { SingleMeta } from './support/meta-cluster.js'

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const USER: Credentials = { uid: 1000, gid: 1000, groups: [] }
const OTHER: Credentials = { uid: 2000, gid: 2000, groups: [] }
const BLOCK = 64 * 1024
const RW = OpenFlag.O_RDWR
const CREATE = OpenFlag.O_RDWR | OpenFlag.O_CREAT

/** The change in counts between two Vfs.stats() snapshots (only what changed). */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const key of Object.keys(after)) {
    const d = after[key]! - (before[key] ?? 0)
    if (d !== 0) out[key] = d
  }
  return out
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise
  } catch (err) {
    expect((err as { code?: string }).code).to.equal(code)
    return
  }
  expect.fail(`expected ${code}`)
}

/** LOOKUP of a new name: ENOENT expected. */
async function lookupMissing(vfs: Vfs, cred: Credentials, path: string): Promise<void> {
  try {
    await vfs.getattr(cred, path)
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return
    throw err
  }
  throw new Error(`${path} exists`)
}

describe('Vfs round trips per FUSE operation sequence', function () {
  let meta: SingleMeta
  let client: MetaClient
  let data: InMemoryDataPath
  let tellMeta: (written: readonly BlockCopies[]) => Promise<void>
  let counter = 0
  const fresh = (): string => `/r${++counter}`

  before(async () => {
    meta = await SingleMeta.start()
    client = meta.client()
    tellMeta = await meta.standInChunkServer(STAND_IN_SERVER)
    const root = new Vfs(client, new InMemoryDataPath(BLOCK))
    await root.mkdir(ROOT, '/home', 0o777)
  })
  after(async () => {
    await meta.stop()
  })
  beforeEach(() => {
    data = new InMemoryDataPath(BLOCK)
    data.tellMeta = tellMeta
  })

  /** Runs `steps` on `vfs` and returns the calls they made. */
  async function counted(vfs: Vfs, steps: () => Promise<void>): Promise<Record<string, number>> {
    const before = vfs.stats()
    await steps()
    return delta(before, vfs.stats())
  }

  it('touch of a new file: one lookup and one create; the utimens to now right after the create is local', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const calls = await counted(vfs, async () => {
      await lookupMissing(vfs, ROOT, path)
      const fh = await vfs.create(ROOT, path, 0o644, CREATE)
      const created = await vfs.getattr(ROOT, path)
      // libfuse 2 passes "now" as the kernel's current time.
      const ms = Date.now()
      const now = { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 }
      const touched = await vfs.utimens(ROOT, path, now, now)
      expect(touched.mtime).to.deep.equal(created.mtime)
      await vfs.utimens(ROOT, path, 'now', 'now')
      await vfs.getattr(ROOT, path)
      await vfs.flush(fh)
      await vfs.release(fh)
    })
    expect(calls).to.deep.equal({ 'meta.read.lookup': 1, 'meta.write.create': 1 })
    const seen = await new Vfs(client, data, { attrTtlMs: 0 }).getattr(ROOT, path)
    expect(seen.size).to.equal(0)
  })

  it('utimens to a time from before the create (cp -p), or on a file written since its create, goes to meta at once', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const before = Date.now() - 1000 // a source file's time, as cp -p copies it
    const fh = await vfs.create(ROOT, path, 0o644, CREATE)
    const calls = await counted(vfs, async () => {
      const set = await vfs.utimens(ROOT, path, 'omit', { sec: Math.floor(before / 1000), nsec: (before % 1000) * 1_000_000 })
      expect(set.mtime.sec * 1000 + set.mtime.nsec / 1e6).to.equal(before)
    })
    expect(calls).to.deep.equal({ 'meta.write.setattr': 1 })
    await vfs.write(fh, 0, Buffer.from('x'))
    const later = await counted(vfs, async () => {
      await vfs.utimens(ROOT, path, 'now', 'now')
    })
    expect(later).to.deep.equal({ 'meta.write.commitFile': 1, 'meta.write.setattr': 1 })
    await vfs.release(fh)
  })

  it('utimens to now on a file someone else created goes to meta, which refuses a non-owner without write access', async () => {
    const owner = new Vfs(client, data)
    const path = `/home/t${++counter}`
    const fh = await owner.create(USER, path, 0o644, CREATE)
    try {
      await owner.utimens(OTHER, path, 'now', 'now')
      expect.fail('a non-owner without write access set the times')
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('EACCES')
    }
    await owner.release(fh)
  })

  it('cp of a small file: one lookup, one create, one commit', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const calls = await counted(vfs, async () => {
      await lookupMissing(vfs, ROOT, path)
      const fh = await vfs.create(ROOT, path, 0o644, CREATE)
      await vfs.getattr(ROOT, path)
      // The kernel asks for file capabilities before each write(2).
      await expectCode(vfs.getxattr(ROOT, path, 'security.capability'), 'ENODATA')
      await vfs.write(fh, 0, Buffer.alloc(4096, 1))
      await vfs.flush(fh)
      await vfs.release(fh)
    })
    expect(calls).to.deep.equal({ 'meta.read.lookup': 1, 'meta.write.create': 1, 'meta.write.commitFile': 1 })
  })

  it('open with O_TRUNC, write and close cost one commit (no setattr), and another Vfs sees the new contents', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, CREATE)
    await vfs.write(fh, 0, Buffer.alloc(3 * BLOCK, 7))
    await vfs.release(fh)
    const calls = await counted(vfs, async () => {
      const again = await vfs.open(ROOT, path, RW | OpenFlag.O_TRUNC)
      expect((await vfs.fgetattr(again)).size).to.equal(0)
      expect((await vfs.read(again, 0, 10)).length).to.equal(0)
      await vfs.write(again, 0, Buffer.from('short'))
      await vfs.flush(again)
      await vfs.release(again)
    })
    expect(calls).to.deep.equal({ 'meta.read.getattr': 1, 'meta.write.commitFile': 1 })
    const reader = new Vfs(client, data, { attrTtlMs: 0, entryTtlMs: 0 })
    const rh = await reader.open(ROOT, path, OpenFlag.O_RDONLY)
    expect((await reader.read(rh, 0, 100)).toString()).to.equal('short')
    expect(reader.fgetattr(rh).size).to.equal(5)
    await reader.release(rh)
  })

  it('ftruncate down on a file open for writing is sent with the commit; until then other Vfs see the old size', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, CREATE)
    await vfs.write(fh, 0, Buffer.alloc(2 * BLOCK + 10, 3))
    await vfs.flush(fh)
    const calls = await counted(vfs, async () => {
      expect((await vfs.ftruncate(fh, BLOCK + 1)).size).to.equal(BLOCK + 1)
    })
    expect(calls).to.deep.equal({})
    const other = new Vfs(client, data, { attrTtlMs: 0, entryTtlMs: 0 })
    expect((await other.getattr(ROOT, path)).size).to.equal(2 * BLOCK + 10)
    await vfs.fsync(fh)
    expect((await other.getattr(ROOT, path)).size).to.equal(BLOCK + 1)
    const bytes = await vfs.read(fh, 0, 3 * BLOCK)
    expect(bytes.length).to.equal(BLOCK + 1)
    expect(bytes.every((b) => b === 3)).to.equal(true)
    await vfs.release(fh)
  })

  it('truncate by path of a file open for writing asks meta at once (and meta refuses a user without write access)', async () => {
    const vfs = new Vfs(client, data)
    const path = `/home/t${++counter}`
    const fh = await vfs.create(USER, path, 0o644, CREATE)
    await vfs.write(fh, 0, Buffer.from('keep me'))
    try {
      await vfs.truncate(OTHER, path, 0)
      expect.fail('truncated without write access')
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('EACCES')
    }
    const calls = await counted(vfs, async () => {
      expect((await vfs.truncate(USER, path, 4)).size).to.equal(4)
    })
    expect(calls).to.deep.equal({ 'meta.write.setattr': 1 })
    await vfs.release(fh)
    const rh = await vfs.open(USER, path, OpenFlag.O_RDONLY)
    expect((await vfs.read(rh, 0, 100)).toString()).to.equal('keep')
    await vfs.release(rh)
  })

  it('a missing extended attribute is asked for once per attribute TTL; a change here or (after the TTL) elsewhere shows', async () => {
    const vfs = new Vfs(client, data, { attrTtlMs: 300 })
    const other = new Vfs(client, data)
    const path = fresh()
    await other.release(await other.create(ROOT, path, 0o644, CREATE))
    const calls = await counted(vfs, async () => {
      for (let i = 0; i < 5; i++) await expectCode(vfs.getxattr(ROOT, path, 'security.capability'), 'ENODATA')
      await expectCode(vfs.getxattr(ROOT, path, 'user.a'), 'ENODATA')
      await expectCode(vfs.getxattr(ROOT, path, 'user.a'), 'ENODATA')
    })
    expect(calls).to.deep.equal({ 'meta.read.lookup': 1, 'meta.read.getxattr': 2 })
    await vfs.setxattr(ROOT, path, 'user.a', Buffer.from('1'), 0)
    expect(Buffer.from(await vfs.getxattr(ROOT, path, 'user.a')).toString()).to.equal('1')
    await expectCode(vfs.getxattr(ROOT, path, 'user.b'), 'ENODATA')
    await other.setxattr(ROOT, path, 'user.b', Buffer.from('2'), 0)
    await new Promise((resolve) => setTimeout(resolve, 350))
    expect(Buffer.from(await vfs.getxattr(ROOT, path, 'user.b')).toString()).to.equal('2')
  })

  it('stat of a name not cached is one lookup; rm is one lookup and one unlink', async () => {
    const writer = new Vfs(client, data)
    const path = fresh()
    await writer.release(await writer.create(ROOT, path, 0o644, CREATE))
    const vfs = new Vfs(client, data)
    expect(await counted(vfs, async () => { await vfs.getattr(ROOT, path) })).to.deep.equal({ 'meta.read.lookup': 1 })
    const cold = new Vfs(client, data)
    const calls = await counted(cold, async () => {
      await cold.getattr(ROOT, path)
      await cold.unlink(ROOT, path)
    })
    expect(calls).to.deep.equal({ 'meta.read.lookup': 1, 'meta.write.unlink': 1 })
  })

  it('cat of a small file: lookup and getBlocks (no getattr); a reader without read access gets EACCES', async () => {
    const writer = new Vfs(client, data)
    const path = `/home/t${++counter}`
    const fh = await writer.create(USER, path, 0o600, CREATE)
    await writer.write(fh, 0, Buffer.from('private\n'))
    await writer.release(fh)
    const vfs = new Vfs(client, data)
    const calls = await counted(vfs, async () => {
      await vfs.getattr(USER, path)
      const rh = await vfs.open(USER, path, OpenFlag.O_RDONLY)
      expect((await vfs.read(rh, 0, BLOCK)).toString()).to.equal('private\n')
      expect(vfs.fgetattr(rh).size).to.equal(8)
      await vfs.flush(rh)
      await vfs.release(rh)
    })
    // Two lookups: /home and the name.
    expect(calls).to.deep.equal({ 'meta.read.lookup': 2, 'meta.read.getBlocks': 1 })
    const stranger = new Vfs(client, data)
    await stranger.getattr(OTHER, path)
    try {
      await stranger.open(OTHER, path, OpenFlag.O_RDONLY)
      expect.fail('opened without read access')
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('EACCES')
    }
    expect(stranger.openHandles).to.equal(0)
  })

  it('open for reading sees a change committed by another Vfs after its attributes were cached (close-to-open)', async () => {
    const a = new Vfs(client, data)
    const b = new Vfs(client, data)
    const path = fresh()
    const fh = await a.create(ROOT, path, 0o644, CREATE)
    await a.write(fh, 0, Buffer.from('one'))
    await a.release(fh)
    expect((await b.getattr(ROOT, path)).size).to.equal(3) // cached in b now
    const again = await a.open(ROOT, path, RW)
    await a.write(again, 0, Buffer.from('second'))
    await a.release(again)
    const rh = await b.open(ROOT, path, OpenFlag.O_RDONLY)
    expect((await b.read(rh, 0, 100)).toString()).to.equal('second')
    expect((await b.getattr(ROOT, path)).size).to.equal(6)
    await b.release(rh)
  })

  describe('readdir plus', () => {
    const FILES = 1030 // two pages of the Vfs's readdir
    let dir: string
    let names: string[]

    before(async () => {
      const writer = new Vfs(client, new InMemoryDataPath(BLOCK))
      dir = fresh()
      await writer.mkdir(ROOT, dir, 0o755)
      names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(4, '0')}`)
      const parent = (await writer.getattr(ROOT, dir)).ino
      for (let i = 0; i < names.length; i += 64) {
        await Promise.all(names.slice(i, i + 64).map((name) => client.create(parent, name, 0o640)))
      }
      await writer.symlink(ROOT, 'f0000', `${dir}/link`)
    })

    it('ls -l: readdir then a getattr and a security.selinux read per name cost the readdir pages only (not reads per name)', async () => {
      const vfs = new Vfs(client, data)
      const reference = new Vfs(client, data, { attrTtlMs: 0, entryTtlMs: 0 })
      await vfs.getattr(ROOT, dir)
      const listed: string[] = []
      const calls = await counted(vfs, async () => {
        for (const entry of await vfs.readdir(ROOT, dir)) {
          listed.push(entry.name)
          const attr = await vfs.getattr(ROOT, `${dir}/${entry.name}`)
          expect(attr.ino).to.equal(entry.ino)
          await expectCode(vfs.getxattr(OTHER, `${dir}/${entry.name}`, 'security.selinux'), 'ENODATA')
        }
      })
      expect(calls).to.deep.equal({ 'meta.read.readdir': 2 })
      expect(listed).to.deep.equal([...names, 'link'])
      for (const name of ['f0000', 'f1029', 'link']) {
        expect(await vfs.getattr(ROOT, `${dir}/${name}`)).to.deep.equal(await reference.getattr(ROOT, `${dir}/${name}`))
      }
    })

    it('extended attributes of a listed file: set ones are read from meta, as are user.* names (permission-checked)', async () => {
      const writer = new Vfs(client, data)
      const labelled = `/home/t${++counter}`
      await writer.mkdir(USER, labelled, 0o755)
      await writer.release(await writer.create(USER, `${labelled}/tagged`, 0o600, CREATE))
      await writer.release(await writer.create(USER, `${labelled}/bare`, 0o600, CREATE))
      await writer.setxattr(USER, `${labelled}/tagged`, 'security.selinux', Buffer.from('label'), 0)
      const vfs = new Vfs(client, data)
      await vfs.readdir(OTHER, labelled)
      const calls = await counted(vfs, async () => {
        expect(Buffer.from(await vfs.getxattr(OTHER, `${labelled}/tagged`, 'security.selinux')).toString()).to.equal('label')
        await expectCode(vfs.getxattr(OTHER, `${labelled}/bare`, 'security.selinux'), 'ENODATA')
        await expectCode(vfs.getxattr(OTHER, `${labelled}/bare`, 'user.k'), 'EACCES')
      })
      expect(calls).to.deep.equal({ 'meta.read.getxattr': 2 })
      await vfs.setxattr(USER, `${labelled}/bare`, 'security.selinux', Buffer.from('now'), 0)
      expect(Buffer.from(await vfs.getxattr(OTHER, `${labelled}/bare`, 'security.selinux')).toString()).to.equal('now')
    })

    it('MetaClient.readdir with plus: every page\'s entries carry their attributes; without it none do', async () => {
      const parent = (await new Vfs(client, data).getattr(ROOT, dir)).ino
      const plus = await client.readdir(parent, { plus: true })
      expect(plus.map((e) => e.name)).to.deep.equal([...names, 'link'])
      for (const entry of [plus[0]!, plus[1029]!, plus[1030]!]) expect(entry.attr).to.deep.equal(await client.getattr(entry.ino))
      expect((await client.readdir(parent)).some((e) => e.attr !== undefined)).to.equal(false)
    })

    it('rm -rf: readdir, then per name one unlink and no lookup; the listing\'s caches forget what went', async () => {
      const writer = new Vfs(client, data)
      const doomed = fresh()
      await writer.mkdir(ROOT, doomed, 0o755)
      const few = ['a', 'b', 'c', 'd']
      for (const name of few) await writer.release(await writer.create(ROOT, `${doomed}/${name}`, 0o644, CREATE))
      const vfs = new Vfs(client, data)
      await vfs.getattr(ROOT, doomed)
      const calls = await counted(vfs, async () => {
        for (const entry of await vfs.readdir(ROOT, doomed)) {
          await vfs.getattr(ROOT, `${doomed}/${entry.name}`)
          await vfs.unlink(ROOT, `${doomed}/${entry.name}`)
        }
        await vfs.rmdir(ROOT, doomed)
      })
      expect(calls).to.deep.equal({ 'meta.read.readdir': 1, 'meta.write.unlink': few.length, 'meta.write.rmdir': 1 })
      await expectCode(vfs.getattr(ROOT, `${doomed}/a`), 'ENOENT')
    })

    it('a caller who may read but not search the directory lists names, and its lookups still get EACCES from meta', async () => {
      const writer = new Vfs(client, data)
      const closed = `/home/t${++counter}`
      await writer.mkdir(USER, closed, 0o744)
      await writer.release(await writer.create(USER, `${closed}/secret`, 0o644, CREATE))
      const vfs = new Vfs(client, data)
      const listed = await vfs.readdir(OTHER, closed)
      expect(listed.map((e) => e.name)).to.deep.equal(['secret'])
      expect(listed[0]!.attr).to.equal(undefined)
      const calls = await counted(vfs, async () => {
        await expectCode(vfs.getattr(OTHER, `${closed}/secret`), 'EACCES')
      })
      expect(calls).to.deep.equal({ 'meta.read.lookup': 1 })
    })
  })
})
