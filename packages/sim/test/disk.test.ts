import { expect } from 'chai'
import { Prng } from '../src/prng.js'
import { SimDisk, swarmDiskFaults, type SimDiskOptions } from '../src/disk.js'
import { diskContractTests } from '../src/disk-contract.js'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

async function rejectCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (err) {
    return (err as { code?: string }).code
  }
  throw new Error('expected a rejection')
}

function makeDisk(options: Partial<SimDiskOptions> = {}): SimDisk {
  return new SimDisk({ prng: new Prng(1), ...options })
}

async function durableFile(disk: SimDisk, path: string, content: string): Promise<void> {
  const f = await disk.open(path, 'create')
  await f.write(0, enc(content))
  await f.sync()
  await f.close()
  await disk.syncDir(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '')
}

describe('SimDisk', () => {
  describe('disk contract', () => {
    diskContractTests(async () => makeDisk(), { crashable: true })
  })

  it('rejects paths with .. and NUL, and bad positions', async () => {
    const disk = makeDisk()
    expect(await rejectCode(disk.open('../x', 'create'))).to.equal('EINVAL')
    expect(await rejectCode(disk.open('a\u0000b', 'create'))).to.equal('EINVAL')
    const f = await disk.open('f', 'create')
    expect(await rejectCode(f.read(-1, 1))).to.equal('EINVAL')
    expect(await rejectCode(f.write(1.5, enc('x')))).to.equal('EINVAL')
    expect(await rejectCode(f.truncate(-3))).to.equal('EINVAL')
  })

  it('normalizes leading slashes and dots', async () => {
    const disk = makeDisk()
    await disk.mkdirp('/a/./b/')
    await durableFile(disk, 'a/b/f', 'x')
    expect(await disk.exists('/a/b/f')).to.equal(true)
    expect(await disk.list('./a')).to.deep.equal(['b'])
  })

  it('enforces the maximum file size with EFBIG', async () => {
    const disk = makeDisk({ maxFileSize: 16 })
    const f = await disk.open('f', 'create')
    expect(await rejectCode(f.write(10, new Uint8Array(7)))).to.equal('EFBIG')
    await f.write(10, new Uint8Array(6))
    expect(await f.size()).to.equal(16)
  })

  it('directories and files do not mix', async () => {
    const disk = makeDisk()
    await disk.mkdirp('d')
    await durableFile(disk, 'f', 'x')
    expect(await rejectCode(disk.open('d', 'create'))).to.equal('EISDIR')
    expect(await rejectCode(disk.remove('d'))).to.equal('EISDIR')
    expect(await rejectCode(disk.mkdirp('f'))).to.equal('EEXIST')
    expect(await rejectCode(disk.mkdirp('f/g'))).to.equal('ENOTDIR')
    expect(await rejectCode(disk.list('f'))).to.equal('ENOTDIR')
    expect(await rejectCode(disk.rename('f', 'd'))).to.equal('EISDIR')
  })

  it('failNextWrite rejects exactly the next write to that path, without effect', async () => {
    const disk = makeDisk()
    const f = await disk.open('f', 'create')
    const g = await disk.open('g', 'create')
    disk.failNextWrite('f', 'ENOSPC')
    await g.write(0, enc('g-ok'))
    expect(await rejectCode(f.write(0, enc('lost')))).to.equal('ENOSPC')
    expect(await f.size()).to.equal(0)
    await f.write(0, enc('ok'))
    expect(dec(await f.read(0, 10))).to.equal('ok')
    expect(disk.stats.injectedFaults).to.equal(1)
  })

  it('failNext covers sync (pending data stays pending), rename and syncDir', async () => {
    const disk = makeDisk()
    const f = await disk.open('f', 'create')
    await disk.syncDir('')
    await f.write(0, enc('data'))
    disk.failNext('sync', 'f', 'EIO')
    expect(await rejectCode(f.sync())).to.equal('EIO')
    expect(disk.pendingOps('f')).to.equal(1)
    disk.failNext('rename', 'f', 'EIO')
    expect(await rejectCode(disk.rename('f', 'g'))).to.equal('EIO')
    expect(await disk.exists('f')).to.equal(true)
    disk.failNext('syncDir', '', 'EIO')
    expect(await rejectCode(disk.syncDir(''))).to.equal('EIO')
    disk.crash({ faults: { lost: 1, whole: 0, torn: 0, bitFlip: 0 } })
    const after = disk.restart()
    const again = await after.open('f', 'read')
    expect(await again.size()).to.equal(0)
  })

  it('random read, write and sync faults happen at about their rates, as EIO', async () => {
    const disk = makeDisk({ readFaultProbability: 0.2, writeFaultProbability: 0.3, syncFaultProbability: 0.1 })
    const f = await disk.open('f', 'create')
    let writeFaults = 0
    let readFaults = 0
    let syncFaults = 0
    for (let i = 0; i < 2000; i++) {
      await f.write(0, enc('x')).catch((err: { code: string }) => {
        expect(err.code).to.equal('EIO')
        writeFaults++
      })
      await f.read(0, 1).catch(() => readFaults++)
      await f.sync().catch(() => syncFaults++)
    }
    expect(writeFaults / 2000).to.be.closeTo(0.3, 0.04)
    expect(readFaults / 2000).to.be.closeTo(0.2, 0.04)
    expect(syncFaults / 2000).to.be.closeTo(0.1, 0.03)
  })

  it('corrupt reads flip one bit of the returned bytes but not of the file', async () => {
    const disk = makeDisk({ readCorruptProbability: 1 })
    await durableFile(disk, 'f', 'AAAA')
    const f = await disk.open('f', 'read')
    const got = await f.read(0, 4)
    const diffBits = [...got].reduce((n, b) => n + popcount(b ^ 65), 0)
    expect(diffBits).to.equal(1)
    expect(dec(disk.readDurable('f')!)).to.equal('AAAA')
  })

  it('corrupt() flips a stored bit (bit rot)', async () => {
    const disk = makeDisk()
    await durableFile(disk, 'f', 'A')
    disk.corrupt('f', 0, 1)
    expect(dec(disk.readDurable('f')!)).to.equal('C')
    const f = await disk.open('f', 'read')
    expect(dec(await f.read(0, 1))).to.equal('C')
  })

  it('a bit-flipping crash applies the write with exactly one bit changed', async () => {
    const disk = makeDisk()
    await durableFile(disk, 'f', '')
    const f = await disk.open('f', 'readWrite')
    await f.write(0, new Uint8Array(32))
    disk.crash({ faults: { lost: 0, whole: 0, torn: 0, bitFlip: 1 } })
    const content = disk.readDurable('f')!
    expect(content.length).to.equal(32)
    expect([...content].reduce((n, b) => n + popcount(b), 0)).to.equal(1)
    expect(disk.stats.bitFlippedWrites).to.equal(1)
  })

  it('torn writes respect the granularity', async () => {
    for (let seed = 0; seed < 20; seed++) {
      const disk = makeDisk({ prng: new Prng(seed), tornGranularity: 8 })
      await durableFile(disk, 'f', '')
      const f = await disk.open('f', 'readWrite')
      await f.write(0, new Uint8Array(30).fill(7))
      disk.crash({ faults: { lost: 0, whole: 0, torn: 1, bitFlip: 0 } })
      const len = disk.readDurable('f')!.length
      expect([8, 16, 24]).to.include(len)
    }
  })

  it('each pending write meets its own fate: crashes are a mix, and deterministic per seed', async () => {
    const scenario = async (seed: number) => {
      const disk = makeDisk({ prng: new Prng(seed) })
      await durableFile(disk, 'f', '')
      const f = await disk.open('f', 'readWrite')
      for (let i = 0; i < 40; i++) await f.write(i * 4, enc(`w${String(i).padStart(2, '0')}`))
      disk.crash()
      return { content: [...disk.readDurable('f')!], stats: { ...disk.stats } }
    }
    const a = await scenario(5)
    expect(a).to.deep.equal(await scenario(5))
    expect(a.stats.lostWrites).to.be.greaterThan(0)
    expect(a.stats.wholeWrites).to.be.greaterThan(0)
    expect(a.stats.tornWrites).to.be.greaterThan(0)
    expect(a.stats.bitFlippedWrites).to.equal(0) // corruption is off by default
    expect(a.content).to.not.deep.equal((await scenario(6)).content)
  })

  it('crash(prng) uses the given stream for the decisions', async () => {
    const outcome = async (crashSeed: number) => {
      const disk = makeDisk({ prng: new Prng(1) })
      await durableFile(disk, 'f', '')
      const f = await disk.open('f', 'readWrite')
      for (let i = 0; i < 20; i++) await f.write(i, enc('x'))
      disk.crash(new Prng(crashSeed))
      return [...disk.readDurable('f')!]
    }
    expect(await outcome(3)).to.deep.equal(await outcome(3))
    expect(await outcome(3)).to.not.deep.equal(await outcome(4))
  })

  it('a rename lost at a crash leaves the synced data under the old name', async () => {
    const disk = makeDisk()
    await durableFile(disk, 'a', 'v1')
    const f = await disk.open('a', 'readWrite')
    await disk.rename('a', 'b')
    await f.write(0, enc('v2'))
    await f.sync()
    disk.crash({ faults: { lost: 1, whole: 0, torn: 0, bitFlip: 0 } })
    expect(dec(disk.readDurable('a')!)).to.equal('v2')
    expect(disk.readDurable('b')).to.equal(undefined)
  })

  it('counts lost directory operations at a crash', async () => {
    const disk = makeDisk()
    await disk.mkdirp('d')
    await durableFile(disk, 'd/f', 'x')
    await disk.remove('d/f')
    disk.crash()
    expect(disk.stats.lostDirOps).to.equal(1)
    expect(await disk.restart().exists('d/f')).to.equal(true)
  })

  it('rejects invalid options', () => {
    expect(() => makeDisk({ crashFaults: { lost: 0, whole: 0, torn: 0, bitFlip: 0 } })).to.throw(RangeError)
    expect(() => makeDisk({ readFaultProbability: 2 })).to.throw(RangeError)
    expect(() => makeDisk({ tornGranularity: 0 })).to.throw(RangeError)
  })
})

function popcount(x: number): number {
  let n = 0
  for (let v = x; v !== 0; v &= v - 1) n++
  return n
}

describe('swarmDiskFaults', () => {
  it('draws valid, seed-dependent settings, with corruption only on request', () => {
    const seen = new Set<string>()
    for (let seed = 0; seed < 20; seed++) {
      const faults = swarmDiskFaults(new Prng(seed))
      expect(faults.crashFaults?.bitFlip).to.equal(0)
      expect(faults.readCorruptProbability).to.equal(0)
      expect(() => new SimDisk({ prng: new Prng(seed), ...faults })).to.not.throw()
      seen.add(JSON.stringify(faults))
    }
    expect(seen.size).to.equal(20)
    expect(swarmDiskFaults(new Prng(3))).to.deep.equal(swarmDiskFaults(new Prng(3)))
    const harsh = Array.from({ length: 20 }, (_, s) => swarmDiskFaults(new Prng(s), { corruption: true }))
    expect(harsh.some((f) => (f.crashFaults?.bitFlip ?? 0) > 0)).to.equal(true)
  })
})
