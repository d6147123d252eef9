import { expect } from 'chai'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, type Entry, EntryKind, type Logger, type Snapshot } from '@tessera/protocol'
import { loadHasher } from '../src/storage/hash.js'
import { NodeDisk } from '../src/storage/node-disk.js'
import { RaftStorage } from '../src/storage/raft-storage.js'
import { SnapshotStore } from '../src/storage/snapshot-store.js'

const enc = (text: string) => new TextEncoder().encode(text)
const dec = (data: Uint8Array) => new TextDecoder().decode(data)

function entries(from: number, to: number, term: number, tag = 'e'): Entry[] {
  const out: Entry[] = []
  for (let index = from; index <= to; index++) {
    out.push({ index, term, kind: EntryKind.Normal, data: enc(`${tag}${index}`) })
  }
  return out
}

function show(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}/${e.term}/${dec(e.data)}`)
}

function snapshot(index: number, term: number, data = `state at ${index}`): Snapshot {
  return { meta: { index, term, conf: { voters: ['m1', 'm2', 'm3'], learners: ['m4'] } }, data: enc(data) }
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (err) {
    return (err as { code?: string }).code
  }
  throw new Error('expected a rejection')
}

function capture(): { logger: Logger; warnings: () => string[] } {
  const lines: string[] = []
  const logger = createLogger({ component: 'test', level: 'warn', destination: { write: (line: string) => lines.push(line) } })
  return { logger, warnings: () => lines.filter((line) => JSON.parse(line).level === 40) }
}

describe('RaftStorage snapshots', () => {
  let root: string
  let disk: NodeDisk
  const open: RaftStorage[] = []

  async function openStorage(options: { segmentBytes?: number; logger?: Logger } = {}): Promise<RaftStorage> {
    const storage = await RaftStorage.open(disk, options)
    open.push(storage)
    return storage
  }

  async function reopen(storage: RaftStorage, options: { segmentBytes?: number; logger?: Logger } = {}) {
    await storage.close()
    return openStorage(options)
  }

  const snapFiles = async () => (await readdir(join(root, 'snap'))).sort()

  async function flipByte(file: string, offset: number): Promise<void> {
    const bytes = await readFile(file)
    bytes[offset]! ^= 0x04
    await writeFile(file, bytes)
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-snap-'))
    disk = new NodeDisk(root)
  })

  afterEach(async () => {
    for (const storage of open.splice(0)) await storage.close()
    await rm(root, { recursive: true, force: true })
  })

  it('holds() tells which entries a snapshot may be placed behind, counting saves still queued', async () => {
    const storage = await openStorage()
    await storage.save({ entries: entries(1, 5, 1) })
    const queued = storage.save({ entries: entries(4, 6, 2) })
    expect(storage.holds(6, 2)).to.equal(true)
    expect(storage.holds(5, 1)).to.equal(false)
    expect(storage.holds(3, 1)).to.equal(true)
    expect(storage.holds(7, 2)).to.equal(false)
    await queued
    await storage.saveSnapshot(snapshot(5, 2))
    expect(storage.holds(5, 2)).to.equal(false)
    expect(storage.holds(6, 2)).to.equal(true)
  })

  it('round-trips a snapshot and keeps the log after it', async () => {
    let storage = await openStorage()
    await storage.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 'm1', commit: 7 } })
    await storage.saveSnapshot(snapshot(5, 1))
    storage = await reopen(storage)
    expect(storage.state.snapshot).to.deep.equal(snapshot(5, 1).meta)
    expect(show(storage.state.entries)).to.deep.equal(show(entries(6, 10, 1)))
    expect(storage.state.hardState).to.deep.equal({ term: 1, vote: 'm1', commit: 7 })
    const loaded = await storage.loadSnapshot()
    expect(loaded?.meta).to.deep.equal(snapshot(5, 1).meta)
    expect(dec(loaded!.data)).to.equal('state at 5')
    expect(await codeOf(storage.save({ entries: entries(5, 5, 1) }))).to.equal('EINVAL')
    expect(await codeOf(storage.saveSnapshot(snapshot(5, 1)))).to.equal('EINVAL')
    expect(await codeOf(storage.saveSnapshot(snapshot(3, 1)))).to.equal('EINVAL')
  })

  it('stores a large snapshot intact', async () => {
    const storage = await openStorage()
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 256)
    await storage.saveSnapshot({ meta: snapshot(1, 1).meta, data })
    const loaded = await (await reopen(storage)).loadSnapshot()
    expect(Buffer.from(loaded!.data).equals(Buffer.from(data))).to.equal(true)
  })

  it('resets the log for a snapshot the log does not match (one sent by the leader)', async () => {
    let storage = await openStorage()
    await storage.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: '', commit: 3 } })
    await storage.saveSnapshot(snapshot(8, 2))
    await storage.save({ entries: entries(9, 9, 2, 'x'), hardState: { term: 2, vote: '', commit: 8 } })
    storage = await reopen(storage)
    expect(storage.state.snapshot?.index).to.equal(8)
    expect(show(storage.state.entries)).to.deep.equal(show(entries(9, 9, 2, 'x')))
    // A snapshot beyond the end of the log: the log continues after it.
    await storage.saveSnapshot(snapshot(50, 3))
    expect(await codeOf(storage.save({ entries: entries(10, 10, 3) }))).to.equal('EINVAL')
    await storage.save({ entries: entries(51, 52, 3) })
    storage = await reopen(storage)
    expect(storage.state.snapshot?.index).to.equal(50)
    expect(show(storage.state.entries)).to.deep.equal(show(entries(51, 52, 3)))
    // The durable snapshot implies its index is committed.
    expect(storage.state.hardState).to.deep.equal({ term: 2, vote: '', commit: 50 })
  })

  it('compacts whole segments and keeps the two newest snapshots; the hard state survives', async () => {
    let storage = await openStorage({ segmentBytes: 200 })
    // The vote is saved once, in the first segment; compaction must not lose it.
    await storage.save({ hardState: { term: 5, vote: 'm2', commit: 0 } })
    for (let i = 1; i <= 300; i += 5) await storage.save({ entries: entries(i, i + 4, 5) })
    const before = storage.walSegments()
    await storage.saveSnapshot(snapshot(100, 5))
    await storage.saveSnapshot(snapshot(200, 5))
    await storage.saveSnapshot(snapshot(250, 5))
    expect(await codeOf(storage.compact(251))).to.equal('EINVAL')
    await storage.compact(250)
    const after = storage.walSegments()
    expect(after.length).to.be.lessThan(before.length / 2)
    expect(before).to.include.members(after.slice(0, -1))
    expect((await snapFiles()).map((name) => Number(name.split('-')[0]))).to.deep.equal([200, 250])
    storage = await reopen(storage, { segmentBytes: 200 })
    expect(storage.state.snapshot?.index).to.equal(250)
    expect(show(storage.state.entries)).to.deep.equal(show(entries(251, 300, 5)))
    expect(storage.state.hardState).to.deep.equal({ term: 5, vote: 'm2', commit: 250 })
    expect(dec((await storage.loadSnapshot())!.data)).to.equal('state at 250')
  })

  it('keeps the hard state through compaction when a crash left the last segment empty', async () => {
    let storage = await openStorage({ segmentBytes: 100 })
    await storage.save({ hardState: { term: 4, vote: 'm3', commit: 0 } })
    for (let i = 1; i <= 40; i += 4) await storage.save({ entries: entries(i, i + 3, 4, 'x'.repeat(40)) })
    await storage.close()
    // Each record fills a segment. Tear the last one: recovery leaves its segment empty, and the
    // small snapshot marker and entry after it would fit there, without the hard state.
    const walDir = join(root, 'wal')
    const segments = (await readdir(walDir)).sort()
    const lastPath = join(walDir, segments.at(-1)!)
    const torn = (await readFile(lastPath)).subarray(0, 5)
    expect((await readFile(lastPath)).length).to.be.greaterThan(20)
    await writeFile(lastPath, torn)
    storage = await openStorage({ segmentBytes: 100 })
    expect(storage.state.entries.at(-1)?.index).to.equal(36)
    await storage.saveSnapshot(snapshot(36, 4))
    await storage.save({ entries: entries(37, 37, 4) })
    await storage.compact(36)
    storage = await reopen(storage, { segmentBytes: 100 })
    expect(storage.state.hardState).to.deep.equal({ term: 4, vote: 'm3', commit: 36 })
    expect(show(storage.state.entries)).to.deep.equal(show(entries(37, 37, 4)))
  })

  it('refuses to compact without a durable snapshot covering the index', async () => {
    const storage = await openStorage()
    await storage.save({ entries: entries(1, 5, 1) })
    expect(await codeOf(storage.compact(3))).to.equal('EINVAL')
  })

  it('falls back to an older snapshot when the newest is corrupt and the WAL still covers the gap', async () => {
    let storage = await openStorage()
    await storage.save({ entries: entries(1, 10, 1) })
    await storage.saveSnapshot(snapshot(5, 1))
    await storage.saveSnapshot(snapshot(8, 1))
    await storage.close()
    const newest = (await snapFiles()).at(-1)!
    await flipByte(join(root, 'snap', newest), 40)
    const { logger, warnings } = capture()
    storage = await openStorage({ logger })
    expect(storage.state.snapshot?.index).to.equal(5)
    expect(show(storage.state.entries)).to.deep.equal(show(entries(6, 10, 1)))
    expect(warnings().join('\n')).to.contain('snapshot is corrupt')
  })

  it('refuses to start when the newest snapshot is corrupt and compaction removed what a fallback needs', async () => {
    let storage = await openStorage({ segmentBytes: 200 })
    for (let i = 1; i <= 100; i += 5) await storage.save({ entries: entries(i, i + 4, 1) })
    await storage.saveSnapshot(snapshot(40, 1))
    await storage.saveSnapshot(snapshot(90, 1))
    await storage.compact(90)
    await storage.close()
    const newest = (await snapFiles()).at(-1)!
    expect(newest.startsWith('00000000000000000090-')).to.equal(true)
    await flipByte(join(root, 'snap', newest), 33)
    let error: { code?: string; message: string } | undefined
    try {
      storage = await openStorage({ segmentBytes: 200 })
    } catch (err) {
      error = err as { code?: string; message: string }
    }
    expect(error?.code).to.equal('EIO')
    // The file is left for the operator.
    expect(await snapFiles()).to.include(newest)
  })

  it('ignores a snapshot file the WAL never marked (a crash before the marker) and removes .tmp leftovers', async () => {
    let storage = await openStorage()
    await storage.save({ entries: entries(1, 10, 1) })
    await storage.close()
    const store = new SnapshotStore(disk, await loadHasher(), createLogger({ component: 'test', level: 'silent' }))
    await store.write(snapshot(9, 1))
    await writeFile(join(root, 'snap', 'leftover.snap.tmp'), 'partial')
    storage = await openStorage()
    expect(storage.state.snapshot).to.equal(undefined)
    expect(show(storage.state.entries)).to.deep.equal(show(entries(1, 10, 1)))
    expect(await snapFiles()).to.not.include('leftover.snap.tmp')
    await storage.saveSnapshot(snapshot(9, 1))
    storage = await reopen(storage)
    expect(storage.state.snapshot?.index).to.equal(9)
  })

  it('detects a snapshot corrupted after open when it is loaded', async () => {
    const storage = await openStorage()
    await storage.save({ entries: entries(1, 3, 1) })
    await storage.saveSnapshot(snapshot(3, 1))
    await flipByte(join(root, 'snap', (await snapFiles())[0]!), 45)
    const code = await codeOf(storage.loadSnapshot())
    expect(code).to.equal('EIO')
  })

  it('validates snapshot metadata', async () => {
    const storage = await openStorage()
    const bad = { meta: { index: 0, term: 1, conf: { voters: [], learners: [] } }, data: enc('') }
    expect(await codeOf(storage.saveSnapshot(bad))).to.equal('EINVAL')
    const badConf = { meta: { index: 1, term: 1, conf: { voters: [''], learners: [] } }, data: enc('') }
    expect(await codeOf(storage.saveSnapshot(badConf))).to.equal('EINVAL')
  })
})
