/**
 * The Vfs's file data over a real one-member meta service and the InMemoryDataPath: write-back,
 * reads of own writes, copy-on-write patches, truncate, close-to-open, the memory bound.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { TesseraError, type BlockCopies, type Credentials } from '@tessera/protocol'
import { OpenFlag, Vfs, type MetaClient } from '../src/index.js'
import { InMemoryDataPath, STAND_IN_SERVER } from './support/in-memory-data-path.js'
import { SingleMeta } from './support/meta-cluster.js'

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const USER: Credentials = { uid: 1000, gid: 1000, groups: [] }
const BLOCK = 64 * 1024
const RW = OpenFlag.O_RDWR

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

/** Opens `path` afresh on `vfs` and checks that it holds exactly `expected`. */
async function expectContents(vfs: Vfs, path: string, expected: Buffer): Promise<void> {
  const rh = await vfs.open(ROOT, path, OpenFlag.O_RDONLY)
  try {
    expect(Buffer.compare(await vfs.read(rh, 0, expected.length), expected)).to.equal(0)
  } finally {
    await vfs.release(rh)
  }
}

describe('Vfs file data', function () {
  let meta: SingleMeta
  let client: MetaClient
  let data: InMemoryDataPath
  let tellMeta: (written: readonly BlockCopies[]) => Promise<void>
  let counter = 0
  const fresh = (): string => `/f${++counter}`

  before(async () => {
    meta = await SingleMeta.start()
    client = meta.client()
    tellMeta = await meta.standInChunkServer(STAND_IN_SERVER)
  })
  after(async () => {
    await meta.stop()
  })
  beforeEach(() => {
    data = new InMemoryDataPath(BLOCK)
    data.tellMeta = tellMeta
  })

  it('buffers writes, reads them back before any flush, and commits them on release', async () => {
    const vfs = new Vfs(client, data)
    const other = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    await vfs.write(fh, 0, Buffer.from('hello '))
    await vfs.write(fh, 6, Buffer.from('world'))
    expect(data.blocksWritten).to.equal(0)
    expect((await vfs.read(fh, 0, 100)).toString()).to.equal('hello world')
    expect((await vfs.getattr(ROOT, path)).size).to.equal(11)
    expect(vfs.fgetattr(fh).size).to.equal(11)
    expect((await other.getattr(ROOT, path)).size).to.equal(0) // not committed yet
    await vfs.release(fh)
    expect(data.blocksWritten).to.equal(1)
    const fh2 = await other.open(ROOT, path, OpenFlag.O_RDONLY)
    expect((await other.read(fh2, 0, 100)).toString()).to.equal('hello world')
    await other.release(fh2)
  })

  it('writes a file of several blocks in small writes and reads it back on another Vfs', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const bytes = randomBytes(5 * BLOCK + 1234)
    const fh = await vfs.create(ROOT, path, 0o644, OpenFlag.O_WRONLY)
    for (let at = 0; at < bytes.length; at += 4096) await vfs.write(fh, at, bytes.subarray(at, at + 4096))
    await vfs.release(fh)
    const { blocks, size } = await client.query({ op: 'getBlocks', cred: ROOT, ino: (await client.resolve(path)).ino })
    expect(size).to.equal(bytes.length)
    expect(blocks.map((b) => b.len)).to.deep.equal([BLOCK, BLOCK, BLOCK, BLOCK, BLOCK, 1234])
    const reader = new Vfs(client, data)
    const rh = await reader.open(ROOT, path, OpenFlag.O_RDONLY)
    expect(Buffer.compare(await reader.read(rh, 0, bytes.length + 10), bytes)).to.equal(0)
    expect(Buffer.compare(await reader.read(rh, BLOCK - 10, 20), bytes.subarray(BLOCK - 10, BLOCK + 10))).to.equal(0)
    await reader.release(rh)
  })

  it('patches only the blocks a random write touches (copy-on-write) and matches a model', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const model = Buffer.alloc(6 * BLOCK)
    randomBytes(model.length).copy(model)
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    await vfs.write(fh, 0, model)
    await vfs.flush(fh)
    const before = data.blocksWritten
    await vfs.write(fh, 2 * BLOCK + 100, Buffer.from('patch'))
    Buffer.from('patch').copy(model, 2 * BLOCK + 100)
    await vfs.flush(fh)
    expect(data.blocksWritten - before).to.equal(1)
    let seed = 7
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    for (let i = 0; i < 60; i++) {
      const len = 1 + rand(BLOCK + BLOCK / 2)
      const at = rand(model.length - len)
      const chunk = randomBytes(len)
      await vfs.write(fh, at, chunk)
      chunk.copy(model, at)
      if (i % 7 === 0) await vfs.flush(fh)
      const probe = rand(model.length - 1000)
      expect(Buffer.compare(await vfs.read(fh, probe, 1000), model.subarray(probe, probe + 1000))).to.equal(0)
    }
    await vfs.release(fh)
    await expectContents(new Vfs(client, data), path, model)
  })

  it('fills a write past the end with zeros and truncates in both directions', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    await vfs.write(fh, 0, Buffer.alloc(100, 1))
    await vfs.flush(fh)
    await vfs.write(fh, 3 * BLOCK, Buffer.from('end'))
    const hole = await vfs.read(fh, 100, 3 * BLOCK - 100)
    expect(hole.every((b) => b === 0)).to.equal(true)
    await vfs.ftruncate(fh, 50) // drops the unflushed tail too
    expect(vfs.fgetattr(fh).size).to.equal(50)
    await vfs.ftruncate(fh, 80)
    const after = await vfs.read(fh, 0, 1000)
    expect(after.length).to.equal(80)
    expect([...after.subarray(0, 50)].every((b) => b === 1)).to.equal(true)
    expect([...after.subarray(50)].every((b) => b === 0)).to.equal(true)
    await vfs.release(fh)
    await vfs.truncate(ROOT, path, 10) // not open: straight to meta
    expect((await new Vfs(client, data).getattr(ROOT, path)).size).to.equal(10)
  })

  it('honours O_TRUNC, O_APPEND and O_EXCL', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, RW | OpenFlag.O_CREAT | OpenFlag.O_EXCL)
    await vfs.write(fh, 0, Buffer.from('0123456789'))
    await vfs.release(fh)
    await expectCode(vfs.create(ROOT, path, 0o644, RW | OpenFlag.O_CREAT | OpenFlag.O_EXCL), 'EEXIST')
    const ah = await vfs.open(ROOT, path, OpenFlag.O_WRONLY | OpenFlag.O_APPEND)
    await vfs.write(ah, 0, Buffer.from('ab'))
    await vfs.release(ah)
    const rh = await vfs.open(ROOT, path, OpenFlag.O_RDONLY)
    expect((await vfs.read(rh, 0, 100)).toString()).to.equal('0123456789ab')
    await vfs.release(rh)
    const th = await vfs.open(ROOT, path, OpenFlag.O_WRONLY | OpenFlag.O_TRUNC)
    expect(vfs.fgetattr(th).size).to.equal(0)
    await vfs.release(th)
    expect((await new Vfs(client, data).getattr(ROOT, path)).size).to.equal(0)
  })

  it('gives close-to-open consistency between two Vfs instances', async () => {
    const a = new Vfs(client, data)
    const b = new Vfs(client, data)
    const path = fresh()
    const wa = await a.create(ROOT, path, 0o644, RW)
    await a.write(wa, 0, Buffer.from('first'))
    await a.release(wa)
    const rb = await b.open(ROOT, path, OpenFlag.O_RDONLY)
    expect((await b.read(rb, 0, 100)).toString()).to.equal('first')
    const wa2 = await a.open(ROOT, path, RW)
    await a.write(wa2, 0, Buffer.from('second!'))
    expect((await b.read(rb, 0, 100)).toString()).to.equal('first') // a has not closed
    await a.flush(wa2)
    await a.release(wa2)
    const rb2 = await b.open(ROOT, path, OpenFlag.O_RDONLY) // a new open sees the close
    expect((await b.read(rb2, 0, 100)).toString()).to.equal('second!')
    await b.release(rb)
    await b.release(rb2)
  })

  it('keeps buffered bytes under the memory bound by writing whole blocks back early', async () => {
    const bound = 4 * BLOCK
    const vfs = new Vfs(client, data, { maxDirtyBytes: bound })
    const path = fresh()
    const bytes = randomBytes(32 * BLOCK + 500)
    const fh = await vfs.create(ROOT, path, 0o644, OpenFlag.O_WRONLY)
    let peak = 0
    for (let at = 0; at < bytes.length; at += 8192) {
      await vfs.write(fh, at, bytes.subarray(at, at + 8192))
      peak = Math.max(peak, vfs.bufferedBytes)
    }
    expect(peak).to.be.at.most(bound + 8192)
    expect(data.blocksWritten).to.be.at.least(28) // written back before any flush
    await vfs.release(fh)
    expect(vfs.bufferedBytes).to.equal(0)
    expect(data.bytesWritten).to.equal(bytes.length) // whole blocks only: nothing written twice
    await expectContents(vfs, path, bytes)
  })

  it('writes whole blocks back in the background once a file holds enough of them, before any flush', async () => {
    const vfs = new Vfs(client, data) // the memory bound (256 MiB) is far away
    const path = fresh()
    const bytes = randomBytes(10 * BLOCK + 123)
    const fh = await vfs.create(ROOT, path, 0o644, OpenFlag.O_WRONLY)
    for (let at = 0; at < bytes.length; at += 8192) await vfs.write(fh, at, bytes.subarray(at, at + 8192))
    const deadline = Date.now() + 5000
    while (data.blocksWritten < 8 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(data.blocksWritten, 'whole blocks written while the file is still open').to.be.at.least(8)
    await vfs.release(fh)
    expect(data.bytesWritten).to.equal(bytes.length) // nothing written twice, the tail at the commit
    await expectContents(vfs, path, bytes)
  })

  it('keeps the bytes of a failed background write-back and commits them at the next flush', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const bytes = randomBytes(5 * BLOCK)
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    data.failNextWrites(1)
    await vfs.write(fh, 0, bytes) // starts a background write-back, which fails
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(Buffer.compare(await vfs.read(fh, 0, bytes.length), bytes)).to.equal(0)
    await vfs.release(fh)
    await expectContents(vfs, path, bytes)
  })

  it('keeps the bytes of a failed write-back and commits them at the next flush', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    await vfs.write(fh, 0, Buffer.from('survives'))
    data.failNextWrites(1)
    await expectCode(vfs.flush(fh), 'EIO')
    expect((await vfs.read(fh, 0, 100)).toString()).to.equal('survives')
    await vfs.flush(fh)
    await vfs.release(fh)
    const rh = await vfs.open(ROOT, path, OpenFlag.O_RDONLY)
    expect((await new Vfs(client, data).getattr(ROOT, path)).size).to.equal(8)
    await vfs.release(rh)
  })

  it('answers each misuse with its errno code', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o600, OpenFlag.O_WRONLY)
    await expectCode(vfs.read(fh, 0, 10), 'EBADF')
    await vfs.release(fh)
    await expectCode(vfs.read(fh, 0, 10), 'EBADF')
    const rh = await vfs.open(ROOT, path, OpenFlag.O_RDONLY)
    await expectCode(vfs.write(rh, 0, Buffer.from('x')), 'EBADF')
    await expectCode(vfs.read(rh, -1, 10), 'EINVAL')
    await vfs.release(rh)
    await expectCode(vfs.open(USER, path, OpenFlag.O_RDONLY), 'EACCES')
    await expectCode(vfs.open(ROOT, '/', OpenFlag.O_WRONLY), 'EISDIR')
    await expectCode(vfs.open(ROOT, '/missing', OpenFlag.O_RDONLY), 'ENOENT')
    await expectCode(vfs.truncate(ROOT, '/', 0), 'EISDIR')
    const uh = await vfs.create(USER, '/tmp-user-denied', 0o644, RW).catch((err: unknown) => err)
    expect((uh as TesseraError).code).to.equal('EACCES') // the root directory is 0755 root
  })
})
