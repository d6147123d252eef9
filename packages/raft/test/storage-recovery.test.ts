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
    const storage = await RaftStorage.open(disk)
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

  it('cuts zeros left by preallocation after the last record', async () => {
    await writeFile(segmentPath, Buffer.concat([original, Buffer.alloc(4096)]))
    await expectRecovers(ALL_FIVE, SAVES[4]!.hardState, 1)
    expect((await stat(segmentPath)).size).to.equal(original.length)
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

    it('replays them all when they are intact', async () => {
      const storage = await RaftStorage.open(disk, { segmentBytes: 100 })
      expect(show(storage.state.entries)).to.deep.equal(
        show(Array.from({ length: 20 }, (_, i) => entries(i + 1, i + 1, 1)[0]!)),
      )
      await storage.close()
    })
  })
})
