/**
 * Writer leases against meta's GC: blocks written and not committed yet are recorded again
 * (meta.blocksWritten) while their writer lives, so a file kept open, or a put whose source
 * stalls, for several grace periods commits intact; the same write without a lease loses its
 * blocks (the bug this guards against); a writer whose renewals fail for a whole grace period
 * gets one clear EIO, not a loop. BlockLease's timer on its own first.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { TesseraError, createLogger, type BlockCopies, type BlockRef, type Credentials } from '@tessera/protocol'
import { ClusterDataPath, FileStore, OpenFlag, Vfs, chunkKeyOfRef, type DataPath, type MetaClient } from '../src/index.js'
import { BlockLease } from '../src/data/block-lease.js'
import { GcCluster } from './support/gc-cluster.js'
import { InMemoryDataPath } from './support/in-memory-data-path.js'

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const BLOCK = 64 * 1024
const GRACE_MS = 1000
const RW = OpenFlag.O_RDWR

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** Log lines of a pino logger, kept in memory. */
class LogLines extends Writable {
  readonly lines: { msg: string; level: number }[] = []
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line.trim() !== '') this.lines.push(JSON.parse(line) as { msg: string; level: number })
    done()
  }
  matching(text: string): string[] {
    return this.lines.map((l) => l.msg).filter((m) => m.includes(text))
  }
}

describe('BlockLease: a writer\'s renewals', function () {
  const copies = (n: number): BlockCopies => ({ ref: { key: n.toString(16).padStart(16, '0'), len: 1000 }, servers: ['127.0.0.1:7501'] })

  it('records new blocks soon, renews them at least every third of the grace period, and stops once they are committed', async () => {
    const records: { at: number; blocks: number }[] = []
    const lease = new BlockLease({ record: async (b) => { records.push({ at: Date.now(), blocks: b.length }) }, graceMs: 300, label: 'test' })
    const start = Date.now()
    lease.add([copies(1), copies(2)])
    lease.add([copies(2)])
    expect(lease.size).to.equal(2)
    await until('four records', () => records.length >= 4, 2000)
    expect(lease.periodMs).to.equal(100)
    expect(records[0]!.blocks).to.equal(2)
    expect(records[0]!.at - start).to.be.within(80, 250)
    for (let i = 1; i < 4; i++) expect(records[i]!.at - records[i - 1]!.at).to.be.within(30, 150)
    lease.clear()
    expect(lease.scheduled).to.equal(false)
    const seen = records.length
    await sleep(300)
    expect(records.length).to.be.at.most(seen + 1) // at most one already running
    lease.close()
    lease.add([copies(3)])
    expect(lease.size).to.equal(0)
  })

  it('refuses a commit once a block\'s lease may have run out, and turns meta\'s EAGAIN into one clear EIO', async () => {
    const logs = new LogLines()
    const logger = createLogger({ component: 'client', level: 'info', destination: logs })
    let now = 1_000_000
    const lease = new BlockLease({ record: async () => { throw new TesseraError('UNAVAILABLE', 'meta is away') }, graceMs: 60_000, label: '/f', logger, now: () => now })
    lease.add([copies(1)])
    const refs = [copies(1).ref]
    lease.checkHeld(refs)
    await lease.renew().catch(() => undefined)
    now += 19_999
    lease.checkHeld(refs)
    now += 1
    let caught: unknown
    try {
      lease.checkHeld(refs)
    } catch (err) {
      caught = err
    }
    expect(caught).to.be.instanceOf(TesseraError)
    expect((caught as TesseraError).code).to.equal('EIO')
    expect((caught as Error).message).to.match(/garbage collection/)
    expect(lease.isLoss(caught)).to.equal(true)
    const converted = lease.commitFailure(new TesseraError('EAGAIN', 'block x is being deleted by garbage collection; write it again'))
    expect((converted as TesseraError).code).to.equal('EIO')
    const other = new TesseraError('EACCES', 'no')
    expect(lease.commitFailure(other)).to.equal(other)
    expect(logs.matching('deleted by garbage collection before their commit')).to.have.length(2)
    lease.close()
  })

  it('a recorded block is held for the grace period from its last record (less a margin)', async () => {
    let now = 5_000_000
    const lease = new BlockLease({ record: async () => undefined, graceMs: 60_000, label: '/g', now: () => now })
    lease.add([copies(7)])
    now += 10_000
    await lease.renew()
    now += 53_999 // grace 60 s less a 6 s margin after the record
    lease.checkHeld([copies(7).ref])
    now += 1
    expect(() => lease.checkHeld([copies(7).ref])).to.throw(TesseraError)
    lease.close()
  })
})

describe('writer leases against GC on a real cluster (grace period 1 s)', function () {
  this.timeout(60_000)
  let cluster: GcCluster
  let client: MetaClient
  let store: FileStore
  let counter = 0
  const fresh = (): string => `/lease-${++counter}`

  before(async () => {
    cluster = await GcCluster.start({
      namespace: { maxBlockBytes: BLOCK },
      gc: { graceMs: GRACE_MS, intervalMs: 100, pinMarginMs: 300 },
      dataPath: { tokenTtlMs: 1000 },
    })
    client = cluster.client()
    store = new FileStore({ meta: client, calls: cluster.calls(), secret: cluster.meta.secret })
    expect((await store.dataConfig()).gcGraceMs).to.equal(GRACE_MS)
  })

  after(async () => {
    await store?.close()
    await cluster?.stop()
  })

  async function* chunksOf(bytes: Buffer, stallAt?: number, stallMs = 0): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < bytes.length; at += 16 * 1024) {
      if (stallAt !== undefined && at === stallAt) await sleep(stallMs)
      yield bytes.subarray(at, Math.min(bytes.length, at + 16 * 1024))
    }
  }

  async function read(path: string): Promise<Buffer> {
    const parts: Buffer[] = []
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { parts.push(chunk); done() } })
    await store.getFile(path, sink)
    return Buffer.concat(parts)
  }

  /**
   * Blocks stored as orphans of a removed file, old enough for GC the moment nothing holds them:
   * a writer of the same bytes deduplicates onto their copies.
   */
  async function orphanBlocks(blocks: number): Promise<Buffer> {
    const bytes = randomBytes(blocks * BLOCK)
    const path = fresh()
    const put = await store.putFile(path, chunksOf(bytes))
    await client.unlink(1, path.slice(1))
    for (const ref of put.blocks) expect(cluster.holders(chunkKeyOfRef(ref))).to.equal(3)
    return bytes
  }

  /** Writes `bytes` through a Vfs over `data` with one block of write-back memory, held open `holdMs`, then closed. */
  async function writeHeldOpen(data: DataPath, bytes: Buffer, holdMs: number): Promise<{ path: string; closed: Promise<void> }> {
    const vfs = new Vfs(client, data, { maxDirtyBytes: BLOCK })
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    for (let at = 0; at < bytes.length; at += 16 * 1024) await vfs.write(fh, at, bytes.subarray(at, at + 16 * 1024))
    await sleep(holdMs)
    return { path, closed: vfs.release(fh) }
  }

  it('a Vfs file written in several blocks (some deduplicated onto old orphans) and held open for 3 grace periods reads back intact', async () => {
    const old = await orphanBlocks(2)
    const bytes = Buffer.concat([old, randomBytes(3 * BLOCK + 1000)])
    const data = await ClusterDataPath.open({ calls: cluster.calls(), secret: cluster.meta.secret })
    try {
      expect(data.gcGraceMs).to.equal(GRACE_MS)
      const { path, closed } = await writeHeldOpen(data, bytes, 3 * GRACE_MS)
      await closed
      expect((await read(path)).equals(bytes)).to.equal(true)
      // Committed now: still there after another grace period and a few GC passes.
      await sleep(GRACE_MS + 300)
      expect((await read(path)).equals(bytes)).to.equal(true)
      const { blocks } = await store.fileBlocks(path)
      for (const ref of blocks) expect(cluster.holders(chunkKeyOfRef(ref as BlockRef))).to.equal(3)
    } finally {
      await data.close()
    }
  })

  it('without a lease the same write loses the blocks it deduplicated onto (the bug leases prevent)', async () => {
    const old = await orphanBlocks(2)
    const bytes = Buffer.concat([old, randomBytes(BLOCK)])
    const cluster_ = await ClusterDataPath.open({ calls: cluster.calls(), secret: cluster.meta.secret })
    // The same data path, minus the grace period: the Vfs keeps no lease, as before.
    const unleased: DataPath = {
      blockSize: cluster_.blockSize,
      writeBlocks: (b) => cluster_.writeBlocks(b),
      recordWritten: (w) => cluster_.recordWritten(w),
      readRange: (blocks, offset, length) => cluster_.readRange(blocks, offset, length),
    }
    try {
      const { path, closed } = await writeHeldOpen(unleased, bytes, 3 * GRACE_MS)
      const outcome = await closed.then(async () => {
        const back = await read(path).catch((err: TesseraError) => err)
        return back instanceof Buffer && back.equals(bytes) ? 'intact' : 'lost'
      }, (err: TesseraError) => err.code)
      expect(outcome).to.be.oneOf(['EAGAIN', 'lost'])
    } finally {
      await cluster_.close()
    }
  })

  it('a put whose source stalls for 3 grace periods after its first blocks commits intact', async () => {
    const old = await orphanBlocks(1)
    const bytes = Buffer.concat([old, randomBytes(2 * BLOCK), randomBytes(2 * BLOCK + 5)])
    const path = fresh()
    const put = await store.putFile(path, chunksOf(bytes, 3 * BLOCK, 3 * GRACE_MS))
    expect(put.attr.size).to.equal(bytes.length)
    expect((await read(path)).equals(bytes)).to.equal(true)
  })

  it('blocks of a writer that never commits are collected one grace period after its lease ends', async () => {
    const bytes = randomBytes(2 * BLOCK)
    const data = await ClusterDataPath.open({ calls: cluster.calls(), secret: cluster.meta.secret })
    const keys: string[] = []
    try {
      const lease = new BlockLease({ record: (b) => data.recordWritten(b), graceMs: GRACE_MS, label: 'abandoned' })
      await data.writeBlocks(chunksOf(bytes), (c) => {
        keys.push(chunkKeyOfRef(c.ref))
        lease.add([c])
      })
      await sleep(2 * GRACE_MS)
      for (const key of keys) expect(cluster.holders(key)).to.equal(3)
      lease.close()
      await until('the abandoned blocks to be deleted', () => keys.every((key) => cluster.holders(key) === 0), 10_000)
    } finally {
      await data.close()
    }
  })
})

describe('a writer whose renewals fail for a whole grace period', function () {
  it('gets one clear EIO at close, and the file is meta\'s again (no retry loop)', async () => {
    const { SingleMeta } = await import('./support/meta-cluster.js')
    const meta = await SingleMeta.start()
    try {
      const client = meta.client()
      const tellMeta = await meta.standInChunkServer('127.0.0.1:7999')
      const logs = new LogLines()
      const logger = createLogger({ component: 'client', level: 'info', destination: logs })
      let failing = false
      class ShortGraceData extends InMemoryDataPath {
        readonly gcGraceMs = 300
        override async recordWritten(written: readonly BlockCopies[]): Promise<void> {
          if (failing) throw new TesseraError('UNAVAILABLE', 'meta unreachable')
          await super.recordWritten(written)
        }
      }
      const data = new ShortGraceData(BLOCK)
      data.tellMeta = tellMeta
      const vfs = new Vfs(client, data, { maxDirtyBytes: BLOCK, logger })
      const fh = await vfs.create(ROOT, '/stalled', 0o644, RW)
      await vfs.write(fh, 0, randomBytes(3 * BLOCK))
      failing = true
      await sleep(600)
      let caught: unknown
      try {
        await vfs.release(fh)
      } catch (err) {
        caught = err
      }
      expect((caught as TesseraError).code).to.equal('EIO')
      expect((caught as Error).message).to.match(/garbage collection/)
      expect(logs.matching('deleted by garbage collection before their commit')).to.have.length(1)
      expect((await client.resolve('/stalled')).size).to.equal(0)
      // Opened again, the file is what meta has; a new write commits normally.
      failing = false
      const again = await vfs.open(ROOT, '/stalled', RW)
      expect((await vfs.read(again, 0, 10)).length).to.equal(0)
      await vfs.write(again, 0, Buffer.from('fresh'))
      await vfs.release(again)
      expect((await client.resolve('/stalled')).size).to.equal(5)
      await vfs.close()
    } finally {
      await meta.stop()
    }
  })
})
