import { readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'chai'
import { createLogger } from '@tessera/protocol'
import { BlockStore, computeBlockKey, PIECE_BYTES, type TempFileOpener } from '../src/index.js'
import { openTempFile } from '../src/store/fs-util.js'
import { STREAM_READ_BYTES } from '../src/store/block-file.js'
import {
  blockFile, expectCode, flipByte, listDir, LogLines, patternBytes, readAll, sidecarFile, storeBytes, TempDirs,
} from './store-helpers.js'

const KiB = 1024
const MiB = 1024 * KiB

describe('BlockStore', () => {
  const dirs = new TempDirs()
  after(() => dirs.removeAll())

  async function freshStore(options: Parameters<typeof BlockStore.open>[1] = {}): Promise<{ dir: string; store: BlockStore }> {
    const dir = await dirs.make()
    return { dir, store: await BlockStore.open(dir, options) }
  }

  describe('round trip', () => {
    it('stores and reads back blocks of many sizes, written in uneven pieces', async () => {
      const { dir, store } = await freshStore()
      const sizes = [1, 2, 4095, PIECE_BYTES - 1, PIECE_BYTES, PIECE_BYTES + 1, 2 * PIECE_BYTES + 3, MiB, MiB + 1, 4 * MiB]
      const keys: string[] = []
      for (const [i, size] of sizes.entries()) {
        const bytes = patternBytes(size, i + 1)
        const result = await storeBytes(store, bytes, { pieces: [1, 777, 65_536, MiB, 100_003] })
        expect(result).to.deep.include({ length: size, existed: false, replacedCorrupt: false })
        keys.push(result.key)
        expect(Buffer.from(await store.read(result.key, 0, size)).equals(bytes), `read ${size}`).to.equal(true)
        expect(Buffer.from(await readAll(store, result.key)).equals(bytes), `stream ${size}`).to.equal(true)
        expect(store.stat(result.key)).to.deep.equal({ length: size })
        expect(await store.verify(result.key)).to.deep.equal({ ok: true })
      }
      expect(store.list().sort()).to.deep.equal([...keys].sort())
      expect(store.usage().blockCount).to.equal(sizes.length)
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      await store.close()

      const reopened = await BlockStore.open(dir, { verifyOnOpen: true })
      expect(reopened.list().sort()).to.deep.equal([...keys].sort())
      expect(reopened.usage().usedBytes).to.equal(store.usage().usedBytes)
      expect(Buffer.from(await reopened.read(keys[8]!, 0, MiB + 1)).equals(patternBytes(MiB + 1, 9))).to.equal(true)
      await reopened.close()
    })

    it('streams a whole block in pieces of at most 1 MiB', async () => {
      const { store } = await freshStore()
      const { key } = await storeBytes(store, patternBytes(3 * MiB + 5, 7))
      const sizes: number[] = []
      for await (const piece of store.readStream(key)) sizes.push(piece.byteLength)
      expect(sizes).to.deep.equal([MiB, MiB, MiB, 5])
      await store.close()
    })

    it('streams through a caller\'s scratch buffer, reused from block to block: pieces are views of it', async () => {
      const { store } = await freshStore()
      const blocks = [patternBytes(4 * MiB, 11), patternBytes(3 * MiB + 7, 12)]
      const keys = [(await storeBytes(store, blocks[0]!)).key, (await storeBytes(store, blocks[1]!)).key]
      const scratch = Buffer.alloc(STREAM_READ_BYTES)
      const reads = [[0, 0, 4 * MiB], [1, 0, 3 * MiB + 7], [0, PIECE_BYTES + 5, 2 * MiB], [1, 3, 3 * MiB]] as const
      for (const [block, offset, length] of reads) {
        const copies: Buffer[] = []
        for await (const piece of store.readStream(keys[block]!, { offset, length, scratch })) {
          expect(piece.buffer).to.equal(scratch.buffer)
          copies.push(Buffer.from(piece))
        }
        expect(Buffer.concat(copies).equals(blocks[block]!.subarray(offset, offset + length)), `block ${block} ${offset}+${length}`).to.equal(true)
      }
      await store.close()
    })

    it('reads ranges at odd offsets across 64 KiB boundaries', async () => {
      const { store } = await freshStore()
      const bytes = patternBytes(300_001, 3)
      const { key } = await storeBytes(store, bytes)
      const ranges: Array<[number, number]> = [
        [0, 1], [PIECE_BYTES - 1, 2], [PIECE_BYTES - 7, PIECE_BYTES + 14], [1, 299_999], [300_000, 1],
        [2 * PIECE_BYTES, PIECE_BYTES], [131_071, 65_537], [17, 0], [300_001, 0],
      ]
      let x = 12345
      for (let i = 0; i < 40; i++) {
        x = (x * 1103515245 + 12345) % 2 ** 31
        const offset = x % 300_001
        ranges.push([offset, (x >> 7) % (300_001 - offset + 1)])
      }
      for (const [offset, length] of ranges) {
        const got = await store.read(key, offset, length)
        expect(Buffer.from(got).equals(bytes.subarray(offset, offset + length)), `read ${offset}+${length}`).to.equal(true)
        const streamed: Uint8Array[] = []
        for await (const piece of store.readStream(key, { offset, length })) streamed.push(piece)
        expect(Buffer.concat(streamed).equals(bytes.subarray(offset, offset + length)), `stream ${offset}+${length}`).to.equal(true)
      }
      await store.close()
    })

    it('refuses bad ranges, unknown keys and malformed keys', async () => {
      const { store } = await freshStore()
      const { key } = await storeBytes(store, patternBytes(1000, 1))
      await expectCode(store.read(key, 999, 2), 'EINVAL')
      await expectCode(store.read(key, -1, 1), 'EINVAL')
      await expectCode(store.read(key, 0.5, 1), 'EINVAL')
      await expectCode(store.read('0123456789abcdef-1000', 0, 1), 'ENOENT')
      await expectCode(store.read('not-a-key', 0, 1), 'EINVAL')
      await expectCode(store.readStream(key, { offset: 1001 }).next(), 'EINVAL')
      await expectCode(store.verify('0123456789abcdef-1000'), 'ENOENT')
      expect(store.has('not-a-key')).to.equal(false)
      expect(store.stat('0123456789abcdef-1000')).to.equal(undefined)
      await store.close()
    })

    it('deletes durably and reports whether it held the block', async () => {
      const { dir, store } = await freshStore()
      const { key } = await storeBytes(store, patternBytes(5000, 2))
      expect(await store.delete(key)).to.equal(true)
      expect(await store.delete(key)).to.equal(false)
      expect(store.has(key)).to.equal(false)
      expect(store.usage()).to.include({ blockCount: 0, usedBytes: 0 })
      await expectCode(store.read(key, 0, 1), 'ENOENT')
      expect(await readdir(join(dir, 'blocks', key.slice(0, 2), key.slice(2, 4)))).to.deep.equal([])
      await store.close()
      const reopened = await BlockStore.open(dir)
      expect(reopened.list()).to.deep.equal([])
      await reopened.close()
    })

    it('fails calls after close and aborts writes in progress', async () => {
      const { dir, store } = await freshStore()
      const { key } = await storeBytes(store, patternBytes(100, 1))
      const bytes = patternBytes(5000, 9)
      const writer = await store.beginWrite(await computeBlockKey(bytes), { expectedLength: 5000 })
      await writer.write(bytes.subarray(0, 100))
      await store.close()
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      await expectCode(writer.write(bytes.subarray(100)), 'EINVAL')
      await expectCode(store.read(key, 0, 1), 'UNAVAILABLE')
      await expectCode(store.beginWrite(key, { expectedLength: 100 }), 'UNAVAILABLE')
    })
  })

  describe('commit checks', () => {
    it('rejects bytes that do not hash to the key, leaving nothing behind', async () => {
      const { dir, store } = await freshStore()
      const real = patternBytes(70_000, 1)
      const other = patternBytes(70_000, 2)
      const key = await computeBlockKey(real)
      await expectCode(storeBytes(store, other, { key }), 'CHECKSUM_MISMATCH')
      expect(store.has(key)).to.equal(false)
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      expect(store.usage().reservedBytes).to.equal(0)
      // A salted key is checked with its own seed: the normal key's hash does not pass for it.
      await expectCode(storeBytes(store, real, { key: key + '-s1' }), 'CHECKSUM_MISMATCH')
      expect((await storeBytes(store, real)).existed).to.equal(false)
      await store.close()
    })

    it('rejects a short block at commit and an overlong one at write', async () => {
      const { dir, store } = await freshStore()
      const bytes = patternBytes(10_000, 4)
      const key = await computeBlockKey(bytes)
      const short = await store.beginWrite(key, { expectedLength: 10_000 })
      await short.write(bytes.subarray(0, 9_999))
      await expectCode(short.commit(), 'CHECKSUM_MISMATCH')
      const long = await store.beginWrite(key, { expectedLength: 10_000 })
      await long.write(bytes)
      await expectCode(long.write(new Uint8Array(1)), 'EINVAL')
      await expectCode(long.commit(), 'EINVAL')
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      expect(store.usage().reservedBytes).to.equal(0)
      await store.close()
    })

    it('refuses a length that differs from the key, and blocks above the maximum size', async () => {
      const { store } = await freshStore({ maxBlockBytes: MiB })
      const key = await computeBlockKey(patternBytes(100, 1))
      await expectCode(store.beginWrite(key, { expectedLength: 99 }), 'EINVAL')
      await expectCode(store.beginWrite(await computeBlockKey(patternBytes(MiB + 1, 1)), { expectedLength: MiB + 1 }), 'EINVAL')
      await expectCode(store.beginWrite('0123456789abcdef-0', { expectedLength: 0 }), 'EINVAL')
      await store.close()
    })

    it('deduplicates a block that is already stored', async () => {
      const { store } = await freshStore()
      const bytes = patternBytes(200_000, 5)
      const first = await storeBytes(store, bytes)
      const used = store.usage().usedBytes
      const second = await storeBytes(store, bytes, { pieces: [4096] })
      expect(first.existed).to.equal(false)
      expect(second).to.deep.include({ key: first.key, existed: true })
      expect(store.usage()).to.include({ blockCount: 1, usedBytes: used, reservedBytes: 0 })
      await store.close()
    })

    it('lets one of two concurrent writers of a key win and the other dedup', async () => {
      const { store } = await freshStore()
      const bytes = patternBytes(500_000, 6)
      const results = await Promise.all([storeBytes(store, bytes, { pieces: [10_000] }), storeBytes(store, bytes, { pieces: [33_333] })])
      expect(results.map((r) => r.existed).sort()).to.deep.equal([false, true])
      expect(store.usage().blockCount).to.equal(1)
      expect(await store.verify(results[0].key)).to.deep.equal({ ok: true })
      await store.close()
    })
  })

  describe('hash collisions', () => {
    it('refuses different bytes under a stored key, keeps the first block, accepts a salted key', async () => {
      const { dir, store } = await freshStore()
      const first = patternBytes(150_000, 10)
      const second = patternBytes(150_000, 11)
      const { key } = await storeBytes(store, first)
      const before = await stat(blockFile(dir, key))
      await expectCode(storeBytes(store, second, { key, trustKeyForTesting: true }), 'HASH_COLLISION')
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      expect((await stat(blockFile(dir, key))).ino).to.equal(before.ino)
      expect(Buffer.from(await store.read(key, 0, 150_000)).equals(first)).to.equal(true)

      const salted = await storeBytes(store, second, { seed: 1 })
      expect(salted.key).to.match(/-150000-s1$/)
      expect(salted.existed).to.equal(false)
      expect(Buffer.from(await store.read(salted.key, 0, 150_000)).equals(second)).to.equal(true)
      expect(await store.verify(key)).to.deep.equal({ ok: true })
      expect(await store.verify(salted.key)).to.deep.equal({ ok: true })
      expect(await listDir(join(dir, 'quarantine'))).to.deep.equal([])
      await store.close()
    })

    it('never corrupts the stored block when a true block and a colliding one commit at once', async () => {
      const { store } = await freshStore()
      const real = patternBytes(300_000, 12)
      const fake = patternBytes(300_000, 13)
      const key = await computeBlockKey(real)
      const outcomes = await Promise.allSettled([
        storeBytes(store, fake, { key, trustKeyForTesting: true, pieces: [70_000] }),
        storeBytes(store, real, { pieces: [50_000] }),
      ])
      // Whichever commits first, the key ends up holding the bytes that hash to it.
      expect(outcomes[1].status).to.equal('fulfilled')
      expect(Buffer.from(await store.read(key, 0, 300_000)).equals(real)).to.equal(true)
      expect(await store.verify(key)).to.deep.equal({ ok: true })
      await store.close()
    })

    it('replaces a damaged stored copy with bytes that match the key', async () => {
      const { dir, store } = await freshStore()
      const real = patternBytes(90_000, 14)
      const key = await computeBlockKey(real)
      await storeBytes(store, patternBytes(90_000, 15), { key, trustKeyForTesting: true })
      const result = await storeBytes(store, real)
      expect(result).to.deep.include({ existed: false, replacedCorrupt: true })
      expect(Buffer.from(await store.read(key, 0, 90_000)).equals(real)).to.equal(true)
      expect((await listDir(join(dir, 'quarantine'))).length).to.equal(2)
      expect(store.usage().blockCount).to.equal(1)
      await store.close()
    })
  })

  describe('damage on disk', () => {
    it('reads undamaged pieces, detects a flipped byte, and quarantines the block', async () => {
      const { dir, store } = await freshStore()
      const bytes = patternBytes(200_000, 20)
      const { key } = await storeBytes(store, bytes)
      await flipByte(blockFile(dir, key), 150_000) // in piece 2
      expect(Buffer.from(await store.read(key, 0, 2 * PIECE_BYTES)).equals(bytes.subarray(0, 2 * PIECE_BYTES))).to.equal(true)
      await expectCode(store.read(key, 2 * PIECE_BYTES - 1, 2), 'CHECKSUM_MISMATCH')
      expect(store.has(key)).to.equal(false)
      expect(store.list()).to.deep.equal([])
      expect(store.usage().blockCount).to.equal(0)
      const quarantined = await listDir(join(dir, 'quarantine'))
      expect(quarantined).to.have.length(2)
      expect(quarantined.every((name) => name.startsWith(key))).to.equal(true)
      await expectCode(store.read(key, 0, 1), 'ENOENT')
      await store.close()
    })

    it('ends a stream with CHECKSUM_MISMATCH at the damaged piece', async () => {
      const { dir, store } = await freshStore()
      const { key } = await storeBytes(store, patternBytes(3 * MiB, 21))
      await flipByte(blockFile(dir, key), 2 * MiB + 10)
      const got: number[] = []
      await expectCode((async () => { for await (const piece of store.readStream(key)) got.push(piece.byteLength) })(), 'CHECKSUM_MISMATCH')
      expect(got).to.deep.equal([MiB, MiB])
      expect(store.has(key)).to.equal(false)
      await store.close()
    })

    it('verify() finds damage anywhere, including a damaged sidecar', async () => {
      const { dir, store } = await freshStore()
      const a = await storeBytes(store, patternBytes(100_000, 22))
      const b = await storeBytes(store, patternBytes(100_000, 23))
      const c = await storeBytes(store, patternBytes(100_000, 24))
      await flipByte(blockFile(dir, a.key), 99_999)
      await flipByte(sidecarFile(dir, b.key), 40)
      expect(await store.verify(a.key)).to.deep.equal({ ok: false, reason: 'piece 1 does not match its checksum' })
      expect(await store.verify(b.key)).to.deep.equal({ ok: false, reason: 'sidecar checksum mismatch' })
      expect(await store.verify(c.key)).to.deep.equal({ ok: true })
      expect(store.list()).to.deep.equal([c.key])
      expect(await listDir(join(dir, 'quarantine'))).to.have.length(4)
      await store.close()
    })
  })

  describe('start-up scan', () => {
    it('quarantines partial and damaged blocks, empties tmp/, drops orphan sidecars', async () => {
      const dir = await dirs.make()
      const store = await BlockStore.open(dir)
      const keys: string[] = []
      for (let i = 0; i < 6; i++) keys.push((await storeBytes(store, patternBytes(80_000 + i, 30 + i))).key)
      await store.close()
      const [good, truncated, noSidecar, badSidecar, flipped, extra] = keys as [string, string, string, string, string, string]
      await truncate(blockFile(dir, truncated), 70_000)
      await unlink(sidecarFile(dir, noSidecar))
      await flipByte(sidecarFile(dir, badSidecar), 3)
      await flipByte(blockFile(dir, flipped), 12_345)
      await unlink(blockFile(dir, extra)) // an interrupted delete: only the sidecar is left
      await writeFile(join(dir, 'tmp', 'half-written.blk'), patternBytes(1000, 1))
      await writeFile(join(dir, 'blocks', good.slice(0, 2), good.slice(2, 4), 'stray-file'), 'x')

      const logs = new LogLines()
      const reopened = await BlockStore.open(dir, { logger: createLogger({ component: 'chunk', level: 'info', destination: logs }) })
      expect(reopened.list().sort()).to.deep.equal([good, flipped].sort())
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      expect(await readdir(join(dir, 'blocks', extra.slice(0, 2), extra.slice(2, 4)))).to.not.include(extra + '.sum')
      const warnings = logs.lines.filter((line) => line.level === 40)
      expect(warnings).to.have.length(4)
      for (const key of [truncated, noSidecar, badSidecar]) expect(logs.matching(key)).to.have.length(1)
      expect(logs.matching('stray-file')).to.have.length(1)
      await reopened.close()

      // Bytes are read only with verifyOnOpen.
      const verified = await BlockStore.open(dir, { verifyOnOpen: true })
      expect(verified.list()).to.deep.equal([good])
      await verified.close()
    })
  })

  describe('free space', () => {
    it('refuses writes beyond the configured capacity, counting writes in progress', async () => {
      const { dir, store } = await freshStore({ capacityBytes: 600_000, reserveBytes: 50_000 })
      expect(store.usage()).to.deep.equal({ capacityBytes: 550_000, usedBytes: 0, freeBytes: 550_000, blockCount: 0, reservedBytes: 0 })
      await storeBytes(store, patternBytes(200_000, 40))
      const usedOne = store.usage().usedBytes
      expect(usedOne).to.be.greaterThan(200_000)
      const pending = patternBytes(200_000, 41)
      const writer = await store.beginWrite(await computeBlockKey(pending), { expectedLength: 200_000 })
      expect(store.usage().reservedBytes).to.equal(usedOne)
      const third = patternBytes(200_000, 42)
      await expectCode(storeBytes(store, third), 'ENOSPC')
      await writer.abort()
      expect(store.usage().reservedBytes).to.equal(0)
      await storeBytes(store, third)
      await expectCode(storeBytes(store, patternBytes(200_000, 43)), 'ENOSPC')
      expect(store.usage().blockCount).to.equal(2)
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      await store.close()
    })

    it('turns an ENOSPC from the file system into a clean ENOSPC, at write or at commit', async () => {
      let failAfterBytes = Infinity
      const fullDisk: TempFileOpener = async (path) => {
        const file = await openTempFile(path)
        let written = 0
        const noSpace = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
        return {
          write: async (data, position) => {
            if (written + data.byteLength > failAfterBytes) throw noSpace()
            written += data.byteLength
            await file.write(data, position)
          },
          sync: async () => {
            if (failAfterBytes === 0) throw noSpace()
            await file.sync()
          },
          close: () => file.close(),
        }
      }
      const { dir, store } = await freshStore({ openTempFile: fullDisk })
      const bytes = patternBytes(300_000, 50)
      failAfterBytes = 100_000
      await expectCode(storeBytes(store, bytes, { pieces: [64 * KiB] }), 'ENOSPC')
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      expect(store.usage()).to.include({ reservedBytes: 0, blockCount: 0 })

      failAfterBytes = 0 // the sidecar's write fails at commit
      const writer = await store.beginWrite(await computeBlockKey(bytes), { expectedLength: bytes.byteLength })
      failAfterBytes = Infinity
      await writer.write(bytes)
      failAfterBytes = 0
      await expectCode(writer.commit(), 'ENOSPC')
      expect(await listDir(join(dir, 'tmp'))).to.deep.equal([])
      expect(store.has(await computeBlockKey(bytes))).to.equal(false)

      failAfterBytes = Infinity
      const { key } = await storeBytes(store, bytes)
      expect(Buffer.from(await store.read(key, 0, bytes.byteLength)).equals(bytes)).to.equal(true)
      await store.close()
    })
  })
})
