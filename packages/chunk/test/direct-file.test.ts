import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'chai'
import { TesseraError } from '@tessera/protocol'
import { AlignedBufferPool, directIoWorks, openDirectTempFile, STAGE_BYTES } from '../src/store/direct-file.js'
import { patternBytes, TempDirs } from './store-helpers.js'

async function expectEinval(promise: Promise<unknown>): Promise<void> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    expect((err as TesseraError).code).to.equal('EINVAL')
    return
  }
  expect.fail('expected EINVAL')
}

describe('direct block files (O_DIRECT)', () => {
  const dirs = new TempDirs()
  const pool = new AlignedBufferPool()
  let dir: string
  let n = 0
  const nextPath = (): string => join(dir, `file-${n++}.blk`)

  before(async () => {
    dir = await dirs.make('tessera-direct-')
    const probe = await directIoWorks(dir, pool)
    // These tests need a file system with O_DIRECT (ext4, xfs) under TMPDIR, as CI machines have.
    expect(probe, `direct I/O under ${dir}`).to.deep.equal({ ok: true })
  })
  after(() => dirs.removeAll())

  it('writes files of every awkward length, in pieces of every awkward size, byte-exact', async () => {
    const lengths = [0, 1, 4095, 4096, 4097, STAGE_BYTES - 1, STAGE_BYTES, STAGE_BYTES + 1, 4 * STAGE_BYTES - 123, 4 * STAGE_BYTES]
    const pieceSizes = [1000, 65536, 77777, STAGE_BYTES]
    for (const [i, length] of lengths.entries()) {
      const piece = pieceSizes[i % pieceSizes.length]!
      const bytes = patternBytes(length, i + 1)
      const path = nextPath()
      const file = await openDirectTempFile(path, pool)
      for (let at = 0; at < length; at += piece) await file.write(bytes.subarray(at, Math.min(length, at + piece)), at)
      await file.sync()
      await file.close()
      expect((await stat(path)).size, `length ${length}`).to.equal(length)
      expect(Buffer.compare(await readFile(path), bytes), `bytes of length ${length}`).to.equal(0)
    }
  })

  it('continues correctly after a sync that wrote a padded tail', async () => {
    const bytes = patternBytes(3 * 4096 + 17 + STAGE_BYTES, 9)
    const path = nextPath()
    const file = await openDirectTempFile(path, pool)
    const cut = 2 * 4096 + 5
    await file.write(bytes.subarray(0, cut), 0)
    await file.sync()
    expect((await stat(path)).size).to.equal(cut)
    await file.write(bytes.subarray(cut), cut)
    await file.sync()
    await file.close()
    expect(Buffer.compare(await readFile(path), bytes)).to.equal(0)
  })

  it('refuses writes out of order and writes after close', async () => {
    const file = await openDirectTempFile(nextPath(), pool)
    await file.write(patternBytes(10, 1), 0)
    await expectEinval(file.write(patternBytes(10, 2), 20))
    await expectEinval(file.write(patternBytes(10, 3), 0))
    await file.close()
    await expectEinval(file.write(patternBytes(10, 4), 10))
  })

  it('creates exclusively', async () => {
    const path = nextPath()
    await (await openDirectTempFile(path, pool)).close()
    let code: unknown
    await openDirectTempFile(path, pool).catch((err: NodeJS.ErrnoException) => { code = err.code })
    expect(code).to.equal('EEXIST')
  })
})
