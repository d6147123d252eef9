import { expect } from 'chai'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Entry, EntryKind, type HardState } from '@tessera/protocol'
import { Prng, SimDisk } from '@tessera/sim'
import type { Disk, DiskFile, OpenMode } from '../src/storage/disk.js'
import { NodeDisk } from '../src/storage/node-disk.js'
import { RaftStorage } from '../src/storage/raft-storage.js'

const enc = (text: string) => new TextEncoder().encode(text)
const dec = (data: Uint8Array) => new TextDecoder().decode(data)

function entries(from: number, to: number, term: number, tag = 'e'): Entry[] {
  const out: Entry[] = []
  for (let index = from; index <= to; index++) {
    out.push({ index, term, kind: EntryKind.Normal, data: enc(`${tag}${index}`) })
  }
  return out
}

/** index/term/data for each entry: what equality of logs means here. */
function show(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}/${e.term}/${dec(e.data)}`)
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (err) {
    return (err as { code?: string }).code
  }
  throw new Error('expected a rejection')
}

/** Counts writes and file syncs; optionally makes each sync slow so that saves pile up behind it. */
class CountingDisk implements Disk {
  writes = 0
  syncs = 0

  constructor(
    private readonly inner: Disk,
    private readonly syncDelayMs = 0,
  ) {}

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    const file = await this.inner.open(path, mode)
    return {
      read: (position, length) => file.read(position, length),
      write: (position, data) => {
        this.writes++
        return file.write(position, data)
      },
      truncate: (size) => file.truncate(size),
      size: () => file.size(),
      sync: async () => {
        this.syncs++
        if (this.syncDelayMs > 0) await sleep(this.syncDelayMs)
        await file.sync()
      },
      close: () => file.close(),
    }
  }

  list(dir: string) {
    return this.inner.list(dir)
  }
  exists(path: string) {
    return this.inner.exists(path)
  }
  rename(from: string, to: string) {
    return this.inner.rename(from, to)
  }
  remove(path: string) {
    return this.inner.remove(path)
  }
  mkdirp(dir: string) {
    return this.inner.mkdirp(dir)
  }
  syncDir(dir: string) {
    return this.inner.syncDir(dir)
  }
}

describe('RaftStorage WAL', () => {
  let root: string
  let disk: NodeDisk
  const open: RaftStorage[] = []

  async function openStorage(options: { segmentBytes?: number; on?: Disk } = {}): Promise<RaftStorage> {
    const opts = options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }
    const storage = await RaftStorage.open(options.on ?? disk, opts)
    open.push(storage)
    return storage
  }

  async function reopen(storage: RaftStorage, segmentBytes?: number): Promise<RaftStorage> {
    await storage.close()
    return openStorage(segmentBytes === undefined ? {} : { segmentBytes })
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-wal-'))
    disk = new NodeDisk(root)
  })

  afterEach(async () => {
    for (const storage of open.splice(0)) await storage.close()
    await rm(root, { recursive: true, force: true })
  })

  it('opens an empty directory as an empty log', async () => {
    const storage = await openStorage()
    expect(storage.state).to.deep.equal({ hardState: { term: 0, vote: '', commit: 0 }, entries: [] })
    expect(await storage.loadSnapshot()).to.equal(undefined)
  })

  it('keeps entries and hard state across close and reopen', async () => {
    let storage = await openStorage()
    const hs: HardState = { term: 3, vote: 'm2', commit: 4 }
    await storage.save({ entries: entries(1, 5, 1) })
    await storage.save({ hardState: hs, entries: entries(6, 7, 3) })
    await storage.save({ hardState: { term: 3, vote: 'm2', commit: 7 } })
    storage = await reopen(storage)
    expect(show(storage.state.entries)).to.deep.equal(show([...entries(1, 5, 1), ...entries(6, 7, 3)]))
    expect(storage.state.hardState).to.deep.equal({ term: 3, vote: 'm2', commit: 7 })
    expect(storage.state.entries[5]!.kind).to.equal(EntryKind.Normal)
    await storage.save({ entries: [{ index: 8, term: 3, kind: EntryKind.ConfChange, data: new Uint8Array() }] })
    storage = await reopen(storage)
    expect(storage.state.entries.at(-1)).to.deep.include({ index: 8, term: 3, kind: EntryKind.ConfChange })
    expect(storage.state.entries.at(-1)!.data.length).to.equal(0)
  })

  it('replaces the suffix when a save starts inside the log', async () => {
    let storage = await openStorage()
    await storage.save({ entries: entries(1, 10, 1) })
    await storage.save({ entries: entries(6, 7, 2, 'x') })
    storage = await reopen(storage)
    expect(show(storage.state.entries)).to.deep.equal(show([...entries(1, 5, 1), ...entries(6, 7, 2, 'x')]))
    await storage.save({ entries: entries(8, 8, 2, 'y') })
    await storage.save({ entries: entries(2, 2, 4, 'z') })
    storage = await reopen(storage)
    expect(show(storage.state.entries)).to.deep.equal(show([...entries(1, 1, 1), ...entries(2, 2, 4, 'z')]))
  })

  it('applies truncation between saves that share one group commit', async () => {
    let storage = await openStorage()
    await Promise.all([
      storage.save({ entries: entries(1, 5, 1) }),
      storage.save({ entries: entries(3, 4, 2, 'x') }),
      storage.save({ entries: entries(5, 6, 2, 'y'), hardState: { term: 2, vote: '', commit: 2 } }),
      storage.save({ entries: entries(1, 1, 3, 'z') }),
      storage.save({ entries: entries(2, 3, 3, 'w') }),
    ])
    storage = await reopen(storage)
    expect(show(storage.state.entries)).to.deep.equal(show([...entries(1, 1, 3, 'z'), ...entries(2, 3, 3, 'w')]))
    expect(storage.state.hardState).to.deep.equal({ term: 2, vote: '', commit: 2 })
  })

  it('rejects malformed saves and saves that would leave a gap, with EINVAL', async () => {
    const storage = await openStorage()
    await storage.save({ entries: entries(1, 3, 1) })
    expect(await codeOf(storage.save({ entries: entries(5, 6, 1) }))).to.equal('EINVAL')
    expect(await codeOf(storage.save({ entries: [...entries(4, 4, 1), ...entries(6, 6, 1)] }))).to.equal('EINVAL')
    const badKind = { index: 4, term: 1, kind: 7, data: enc('x') } as unknown as Entry
    expect(await codeOf(storage.save({ entries: [badKind] }))).to.equal('EINVAL')
    const badData = { index: 4, term: 1, kind: EntryKind.Normal, data: 'x' } as unknown as Entry
    expect(await codeOf(storage.save({ entries: [badData] }))).to.equal('EINVAL')
    const badHs = { term: -1, vote: '', commit: 0 }
    expect(await codeOf(storage.save({ hardState: badHs }))).to.equal('EINVAL')
    const badVote = { term: 1, vote: 'x'.repeat(200), commit: 0 }
    expect(await codeOf(storage.save({ hardState: badVote }))).to.equal('EINVAL')
    await storage.save({ entries: entries(4, 4, 1) })
    expect(show((await reopen(storage)).state.entries)).to.deep.equal(show(entries(1, 4, 1)))
  })

  it('rolls segments at the size limit and replays across them, truncation included', async () => {
    let storage = await openStorage({ segmentBytes: 300 })
    for (let from = 1; from <= 200; from += 10) {
      await storage.save({ entries: entries(from, from + 9, 1), hardState: { term: 1, vote: 'm1', commit: Math.min(from, 30) } })
    }
    const segments = storage.walSegments()
    expect(segments.length).to.be.greaterThan(5)
    expect([...segments].sort()).to.deep.equal(segments)
    // Reach back into an earlier segment: the new record lands in the last one.
    await storage.save({ entries: entries(35, 40, 2, 'x') })
    storage = await reopen(storage, 300)
    expect(show(storage.state.entries)).to.deep.equal(show([...entries(1, 34, 1), ...entries(35, 40, 2, 'x')]))
    expect(storage.state.hardState).to.deep.equal({ term: 1, vote: 'm1', commit: 30 })
    expect(storage.walSegments()).to.deep.equal(segments)
  })

  it('group commit: concurrent saves share fsyncs', async () => {
    const counting = new CountingDisk(disk)
    let storage = await openStorage({ on: counting })
    const before = counting.syncs
    await Promise.all(Array.from({ length: 100 }, (_, i) => storage.save({ entries: entries(i + 1, i + 1, 1) })))
    expect(counting.syncs - before).to.equal(1)
    await storage.close()
    storage = await openStorage()
    expect(storage.state.entries.length).to.equal(100)
  })

  it('group commit: saves issued while an fsync is in flight go out in the next single write and fsync', async () => {
    const counting = new CountingDisk(disk, 30)
    const storage = await openStorage({ on: counting })
    const [writes, syncs] = [counting.writes, counting.syncs]
    const first = storage.save({ entries: entries(1, 1, 1) })
    await sleep(10) // the first write is now waiting for its fsync
    expect(counting.syncs - syncs).to.equal(1)
    const rest = Array.from({ length: 50 }, (_, i) =>
      storage.save({ entries: entries(i + 2, i + 2, 1), hardState: { term: 1, vote: '', commit: i } }),
    )
    await Promise.all([first, ...rest])
    expect(counting.writes - writes).to.equal(2)
    expect(counting.syncs - syncs).to.equal(2)
  })

  it('an empty save resolves after the saves before it are durable', async () => {
    const storage = await openStorage()
    const order: string[] = []
    const a = storage.save({ entries: entries(1, 1, 1) }).then(() => order.push('a'))
    const b = storage.save({}).then(() => order.push('b'))
    await Promise.all([a, b])
    expect(order).to.deep.equal(['a', 'b'])
  })

  it('refuses every write after a failed fsync, and saves after close', async () => {
    const sim = new SimDisk({ prng: new Prng(7) })
    const storage = await openStorage({ on: sim })
    await storage.save({ entries: entries(1, 1, 1) })
    sim.failNext('sync', `wal/${storage.walSegments()[0]}`, 'EIO')
    expect(await codeOf(storage.save({ entries: entries(2, 2, 1) }))).to.equal('EIO')
    expect(await codeOf(storage.save({ entries: entries(3, 3, 1) }))).to.equal('EIO')
    await storage.close()
    expect(await codeOf(storage.save({ entries: entries(2, 2, 1) }))).to.equal('EBADF')
    const reopened = await openStorage({ on: sim })
    expect(show(reopened.state.entries).slice(0, 1)).to.deep.equal(show(entries(1, 1, 1)))
  })
})
