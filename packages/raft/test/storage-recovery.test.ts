import { expect } from 'chai'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, type Entry, EntryKind, type HardState, type Logger } from '@tessera/protocol'
import { Prng } from '@tessera/sim'
import { loadHasher } from '../src/storage/hash.js'
import { NodeDisk } from '../src/storage/node-disk.js'
import { RaftStorage } from '../src/storage/raft-storage.js'
import { frameRecord, RecordType } from '../src/storage/record.js'
import { encodeWalRecord } from '../src/storage/wal-record.js'

const enc = (text: string) => new TextEncoder().encode(text)
const dec = (data: Uint8Array) => new TextDecoder().decode(data)

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = []
  for (let index = from; index <= to; index++) {
    out.push({ index, term, kind: EntryKind.Normal, data: enc(`entry ${index} of term ${term}`) })
  }
  return out
}

function show(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}/${e.term}/${dec(e.data)}`)
}

function capture(): { logger: Logger; warnings: () => string[] } {
  const lines: string[] = []
  const logger = createLogger({ component: 'test', level: 'warn', destination: { write: (line: string) => lines.push(line) } })
  return { logger, warnings: () => lines.filter((line) => JSON.parse(line).level === 40) }
}

async function openError(disk: NodeDisk): Promise<{ code?: string; message: string }> {
  try {
    const storage = await RaftStorage.open(disk)
    await storage.close()
  } catch (err) {
    return err as { code?: string; message: string }
  }
  throw new Error('expected open() to reject')
}

/** Five saves, one record each; `ends[i]` is the segment size after save i. */
const SAVES: Array<{ entries: Entry[]; hardState: HardState }> = [
  { entries: entries(1, 3, 1), hardState: { term: 1, vote: 'm1', commit: 0 } },
  { entries: entries(4, 4, 1), hardState: { term: 1, vote: 'm1', commit: 3 } },
  { entries: entries(5, 8, 2), hardState: { term: 2, vote: 'm3', commit: 4 } },
  { entries: entries(9, 9, 2), hardState: { term: 2, vote: 'm3', commit: 8 } },
  { entries: entries(10, 12, 3), hardState: { term: 3, vote: '', commit: 9 } },
]
const FIRST_FOUR = show(SAVES.slice(0, 4).flatMap((s) => s.entries))
const ALL_FIVE = show(SAVES.flatMap((s) => s.entries))

describe('RaftStorage recovery', () => {
  let root: string
  let disk: NodeDisk
  let segmentPath: string
  let segmentName: string
  let original: Buffer
  let ends: number[]

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-recovery-'))
    disk = new NodeDisk(root)
    // Without preallocation, so that the file's length after each save is where its record ends.
    const storage = await RaftStorage.open(disk, { preallocateBytes: 0 })
    ends = []
    for (const save of SAVES) {
      await storage.save(save)
      segmentName = storage.walSegments()[0]!
      segmentPath = join(root, 'wal', segmentName)
      ends.push((await stat(segmentPath)).size)
    }
    expect(storage.walSegments()).to.have.length(1)
    await storage.close()
    original = await readFile(segmentPath)
  })

  afterEach(async () => {
    await rm(root, { recursive: true, force: true })
  })

  async function expectRecovers(expected: string[], hardState: HardState, warnings: number): Promise<void> {
    const { logger, warnings: warned } = capture()
    const storage = await RaftStorage.open(disk, { logger })
    try {
      expect(show(storage.state.entries)).to.deep.equal(expected)
      expect(storage.state.hardState).to.deep.equal(hardState)
      expect(warned()).to.have.length(warnings)
    } finally {
      await storage.close()
    }
  }

  it('cuts a torn last record at every byte offset and keeps exactly the complete ones', async () => {
    const lastStart = ends[3]!
    for (let cut = lastStart; cut < ends[4]!; cut++) {
      await writeFile(segmentPath, original.subarray(0, cut))
      await expectRecovers(FIRST_FOUR, SAVES[3]!.hardState, cut === lastStart ? 0 : 1)
      expect((await stat(segmentPath)).size, `cut at ${cut}`).to.equal(lastStart)
    }
    // The cut file takes new appends and replays them.
    const storage = await RaftStorage.open(disk)
    await storage.save(SAVES[4]!)
    await storage.close()
    await expectRecovers(ALL_FIVE, SAVES[4]!.hardState, 0)
  })

  it('reads zeros after the last record as preallocated space: the end of the log, kept for appends', async () => {
    await writeFile(segmentPath, Buffer.concat([original, Buffer.alloc(4096)]))
    await expectRecovers(ALL_FIVE, SAVES[4]!.hardState, 0)
    expect((await stat(segmentPath)).size).to.equal(original.length + 4096)
    const storage = await RaftStorage.open(disk)
    await storage.save({ entries: entries(13, 13, 3) })
    await storage.close()
    const bytes = await readFile(segmentPath)
    expect(bytes.length, 'the append went into the zeros').to.equal(original.length + 4096)
    expect(bytes.subarray(0, original.length).equals(original)).to.equal(true)
    await expectRecovers([...ALL_FIVE, ...show(entries(13, 13, 3))], SAVES[4]!.hardState, 0)
  })

  it('cuts random bytes and partial copies of records after the last record', async () => {
    const prng = new Prng(0x5eed)
    const tails: Uint8Array[] = [original.subarray(ends[3]!, ends[3]! + 7), original.subarray(ends[3]!, ends[4]! - 1)]
    for (let i = 0; i < 20; i++) tails.push(prng.bytes(prng.int(1, 200)))
    for (const tail of tails) {
      await writeFile(segmentPath, Buffer.concat([original, tail]))
      await expectRecovers(ALL_FIVE, SAVES[4]!.hardState, 1)
      expect((await stat(segmentPath)).size).to.equal(original.length)
    }
  })

  it('treats damage inside the last record as a torn write', async () => {
    const damaged = Buffer.from(original)
    damaged[ends[3]! + 20]! ^= 0x10
    await writeFile(segmentPath, damaged)
    await expectRecovers(FIRST_FOUR, SAVES[3]!.hardState, 1)
  })

  it('rejects with EIO naming the file and offset when an earlier record is damaged', async () => {
    const spots = [
      { offset: ends[0]! + 20, record: ends[0]! }, // payload of record 2
      { offset: ends[0]!, record: ends[0]! }, // its length field
      { offset: ends[1]! + 4, record: ends[1]! }, // the type of record 3
      { offset: ends[2]! + 8, record: ends[2]! }, // the checksum of record 4
      { offset: 0, record: 0 }, // the very first byte
    ]
    for (const spot of spots) {
      const damaged = Buffer.from(original)
      damaged[spot.offset]! ^= 0x01
      await writeFile(segmentPath, damaged)
      const err = await openError(disk)
      expect(err.code).to.equal('EIO')
      expect(err.message).to.contain(`wal corrupt at wal/${segmentName}:${spot.record}`)
      expect(err.message).to.contain('followed by valid records')
      // Nothing was cut: the operator still has every byte.
      expect((await readFile(segmentPath)).equals(damaged)).to.equal(true)
    }
  })

  it('rejects a complete, checksummed record that does not decode', async () => {
    const hasher = await loadHasher()
    await writeFile(segmentPath, Buffer.concat([original, frameRecord(hasher, RecordType.Entries, Uint8Array.of(0xc1))]))
    const err = await openError(disk)
    expect(err.code).to.equal('EIO')
    expect(err.message).to.contain(`wal/${segmentName}:${original.length}: bad record payload`)
  })

  it('rejects a record that leaves a gap in the log', async () => {
    const hasher = await loadHasher()
    const { type, payload } = encodeWalRecord({ type: 'entries', entries: entries(20, 21, 3) })
    await writeFile(segmentPath, Buffer.concat([original, frameRecord(hasher, type, payload)]))
    const err = await openError(disk)
    expect(err.code).to.equal('EIO')
    expect(err.message).to.contain(`wal/${segmentName}:${original.length}: entries start at 20 but the log ends at 12`)
  })

  describe('with several segments', () => {
    let names: string[]

    beforeEach(async () => {
      await rm(join(root, 'wal'), { recursive: true })
      const storage = await RaftStorage.open(disk, { segmentBytes: 100 })
      for (let i = 1; i <= 20; i++) await storage.save({ entries: entries(i, i, 1) })
      names = storage.walSegments()
      await storage.close()
      expect(names.length).to.be.greaterThan(3)
    })

    it('rejects a torn end in a segment that is not the last', async () => {
      const path = join(root, 'wal', names[1]!)
      const bytes = await readFile(path)
      await writeFile(path, bytes.subarray(0, bytes.length - 3))
      const err = await openError(disk)
      expect(err.code).to.equal('EIO')
      expect(err.message).to.contain(`wal corrupt at wal/${names[1]}:`)
      expect(err.message).to.contain('not the last')
    })

    it('rejects a missing segment between others', async () => {
      await rm(join(root, 'wal', names[2]!))
      const err = await openError(disk)
      expect(err.code).to.equal('EIO')
      expect(err.message).to.contain('a segment is missing')
    })

    it('rejects zeros at the end of a segment that is not the last', async () => {
      const path = join(root, 'wal', names[1]!)
      await writeFile(path, Buffer.concat([await readFile(path), Buffer.alloc(512)]))
      const err = await openError(disk)
      expect(err.code).to.equal('EIO')
      expect(err.message).to.contain(`wal corrupt at wal/${names[1]}:`)
      expect(err.message).to.contain('not the last')
    })

    it('replays them all when they are intact', async () => {
      const storage = await RaftStorage.open(disk, { segmentBytes: 100 })
      expect(show(storage.state.entries)).to.deep.equal(
        show(Array.from({ length: 20 }, (_, i) => entries(i + 1, i + 1, 1)[0]!)),
      )
      await storage.close()
    })
  })

  describe('with preallocated segments', () => {
    const STEP = 4096

    async function fresh(segmentBytes = 64 * 1024 * 1024): Promise<RaftStorage> {
      await rm(join(root, 'wal'), { recursive: true })
      await rm(join(root, 'snap'), { recursive: true })
      return RaftStorage.open(disk, { preallocateBytes: STEP, segmentBytes })
    }

    /** The five saves, preallocated: the segment's path and bytes. */
    async function fiveSavesPreallocated(): Promise<{ path: string; bytes: Buffer }> {
      const storage = await fresh()
      for (const save of SAVES) await storage.save(save)
      const path = join(root, 'wal', storage.walSegments()[0]!)
      await storage.close()
      return { path, bytes: await readFile(path) }
    }

    it('writes zeros ahead of the records in steps, and appends into them after a reopen', async () => {
      let storage = await fresh()
      await storage.save(SAVES[0]!)
      const path = join(root, 'wal', storage.walSegments()[0]!)
      const records = original.length
      expect((await stat(path)).size).to.be.within(STEP, STEP + records)
      for (const save of SAVES.slice(1)) await storage.save(save)
      const lengthBefore = (await stat(path)).size
      await storage.close()
      // The same records as without preallocation, then only zeros.
      const bytes = await readFile(path)
      expect(bytes.subarray(0, records).equals(original)).to.equal(true)
      expect(bytes.subarray(records).every((b) => b === 0)).to.equal(true)
      await expectRecovers(ALL_FIVE, SAVES[4]!.hardState, 0)
      storage = await RaftStorage.open(disk, { preallocateBytes: STEP })
      await storage.save({ entries: entries(13, 13, 3) })
      await storage.close()
      expect((await stat(path)).size, 'no growth while zeros remain').to.equal(lengthBefore)
      await expectRecovers([...ALL_FIVE, ...show(entries(13, 13, 3))], SAVES[4]!.hardState, 0)
    })

    it('grows the file by another step when a record reaches past the zeros', async () => {
      const storage = await fresh()
      const big = { index: 1, term: 1, kind: EntryKind.Normal, data: new Uint8Array(STEP).fill(7) }
      await storage.save({ entries: [big] })
      const path = join(root, 'wal', storage.walSegments()[0]!)
      const first = (await stat(path)).size
      await storage.save({ entries: [{ ...big, index: 2 }] })
      expect((await stat(path)).size).to.be.greaterThan(first)
      await storage.close()
      const reopened = await RaftStorage.open(disk)
      expect(reopened.state.entries.map((e) => e.index)).to.deep.equal([1, 2])
      await reopened.close()
    })

    it('cuts a record torn inside the zeros, with one warning, and keeps the ones before it', async () => {
      const { path, bytes } = await fiveSavesPreallocated()
      // A torn last write: the start of record 5 reached the disk, the rest is still zeros.
      bytes.fill(0, ends[3]! + 17, ends[4]!)
      await writeFile(path, bytes)
      await expectRecovers(FIRST_FOUR, SAVES[3]!.hardState, 1)
      expect((await stat(path)).size).to.equal(ends[3]!)
    })

    it('rejects damage before the last record even when zeros follow', async () => {
      const { path, bytes } = await fiveSavesPreallocated()
      bytes[ends[1]! + 20]! ^= 0x01
      await writeFile(path, bytes)
      const err = await openError(disk)
      expect(err.code).to.equal('EIO')
      expect(err.message).to.contain('followed by valid records')
    })

    it('rejects a lost record between valid ones (zeros where a record was)', async () => {
      const { path, bytes } = await fiveSavesPreallocated()
      bytes.fill(0, ends[1]!, ends[2]!)
      await writeFile(path, bytes)
      const err = await openError(disk)
      expect(err.code).to.equal('EIO')
      expect(err.message).to.contain(`wal/${segmentName}:${ends[1]}`)
    })

    it('cuts each full segment to its records before starting the next', async () => {
      const storage = await fresh(300)
      for (let i = 1; i <= 30; i++) await storage.save({ entries: entries(i, i, 1) })
      const names = storage.walSegments()
      await storage.close()
      expect(names.length).to.be.greaterThan(3)
      for (const name of names.slice(0, -1)) {
        // Zeros here would make the next open fail ('not the last'): the reopen below checks it.
        expect((await stat(join(root, 'wal', name))).size, name).to.be.below(300 + 200)
      }
      expect((await stat(join(root, 'wal', names.at(-1)!))).size).to.be.at.least(300)
      const reopened = await RaftStorage.open(disk, { segmentBytes: 300 })
      expect(reopened.state.entries.map((e) => e.index)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i + 1))
      await reopened.close()
    })
  })
})
