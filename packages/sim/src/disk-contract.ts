/**
 * The Disk seam's conformance suite, run against every implementation (SimDisk here, the
 * node:fs disk in @tessera/raft). Call it inside a mocha `describe`; it registers tests with
 * mocha's global `it`. Assertions use node:assert so that the suite has no test-library
 * dependency of its own.
 *
 * Crash semantics can only be checked on a disk that can crash: pass `crashable: true` for
 * one that has `crash()` and `restart()` (SimDisk); the real disk runs the rest.
 */
import assert from 'node:assert/strict'
import type { CrashFaults, Disk } from './disk.js'

export interface CrashableDisk extends Disk {
  crash(options?: { faults?: Partial<CrashFaults> }): void
  restart(): Disk
}

export type DiskLike = Disk | CrashableDisk

export interface DiskContractOptions {
  /** Also run the power-cut tests; the disk must then implement crash() and restart(). */
  crashable?: boolean
  /** Called after each test with the disk it made (e.g. to remove a temporary directory). */
  cleanup?: (disk: DiskLike) => Promise<void>
}

const ALL_LOST: Partial<CrashFaults> = { lost: 1, whole: 0, torn: 0, bitFlip: 0 }
const ALL_WHOLE: Partial<CrashFaults> = { lost: 0, whole: 1, torn: 0, bitFlip: 0 }
const ALL_TORN: Partial<CrashFaults> = { lost: 0, whole: 0, torn: 1, bitFlip: 0 }

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

function text(data: Uint8Array): string {
  return new TextDecoder().decode(data)
}

async function rejectsWith(promise: Promise<unknown>, ...codes: string[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const code = (err as { code?: unknown }).code
    assert.ok(codes.includes(code as string), `expected code ${codes.join(' or ')}, got ${String(code)}`)
    return true
  })
}

async function readAll(disk: Disk, path: string): Promise<string> {
  const file = await disk.open(path, 'read')
  try {
    return text(await file.read(0, await file.size()))
  } finally {
    await file.close()
  }
}

async function writeFile(disk: Disk, path: string, content: string, options: { sync: boolean }): Promise<void> {
  const file = await disk.open(path, 'create')
  await file.write(0, bytes(content))
  if (options.sync) await file.sync()
  await file.close()
}

export function diskContractTests(makeDisk: () => Promise<DiskLike>, options: DiskContractOptions = {}): void {
  const test = (name: string, body: (disk: DiskLike) => Promise<void>): void => {
    it(name, async () => {
      const disk = await makeDisk()
      try {
        await body(disk)
      } finally {
        await options.cleanup?.(disk)
      }
    })
  }

  test('open: read and readWrite need an existing file; create makes an empty one', async (disk) => {
    await rejectsWith(disk.open('missing', 'read'), 'ENOENT')
    await rejectsWith(disk.open('missing', 'readWrite'), 'ENOENT')
    assert.equal(await disk.exists('missing'), false)
    const file = await disk.open('new', 'create')
    assert.equal(await file.size(), 0)
    await file.close()
    assert.equal(await disk.exists('new'), true)
    assert.deepEqual(await disk.list(''), ['new'])
  })

  test('open create on a missing directory rejects with ENOENT', async (disk) => {
    await rejectsWith(disk.open('nodir/file', 'create'), 'ENOENT')
  })

  test('create on an existing file keeps its content', async (disk) => {
    await writeFile(disk, 'f', 'hello', { sync: true })
    const again = await disk.open('f', 'create')
    assert.equal(await again.size(), 5)
    await again.close()
    assert.equal(await readAll(disk, 'f'), 'hello')
  })

  test('write then read back; reads past the end return fewer bytes or none', async (disk) => {
    const file = await disk.open('f', 'create')
    await file.write(0, bytes('abcdef'))
    await file.write(2, bytes('XY'))
    assert.equal(text(await file.read(0, 6)), 'abXYef')
    assert.equal(text(await file.read(4, 100)), 'ef')
    assert.equal((await file.read(6, 10)).length, 0)
    assert.equal((await file.read(100, 10)).length, 0)
    assert.equal(await file.size(), 6)
    await file.close()
  })

  test('a write past the end extends the file with zeros', async (disk) => {
    const file = await disk.open('f', 'create')
    await file.write(4, bytes('z'))
    assert.deepEqual([...(await file.read(0, 10))], [0, 0, 0, 0, 'z'.charCodeAt(0)])
    await file.close()
  })

  test('written and read buffers are not shared with the caller', async (disk) => {
    const file = await disk.open('f', 'create')
    const data = bytes('1234')
    await file.write(0, data)
    data[0] = 0
    const read = await file.read(0, 4)
    assert.equal(text(read), '1234')
    read[1] = 0
    assert.equal(text(await file.read(0, 4)), '1234')
    await file.close()
  })

  test('truncate cuts and zero-extends; size() counts unsynced changes', async (disk) => {
    const file = await disk.open('f', 'create')
    await file.write(0, bytes('abcdef'))
    await file.truncate(2)
    assert.equal(await file.size(), 2)
    assert.equal(text(await file.read(0, 10)), 'ab')
    await file.truncate(4)
    assert.deepEqual([...(await file.read(0, 10))], [97, 98, 0, 0])
    await file.close()
  })

  test('a read-only handle cannot write or truncate', async (disk) => {
    await writeFile(disk, 'f', 'data', { sync: true })
    const file = await disk.open('f', 'read')
    await rejectsWith(file.write(0, bytes('x')), 'EBADF')
    // Linux's ftruncate answers EINVAL on a read-only descriptor; either code is fine.
    await rejectsWith(file.truncate(0), 'EBADF', 'EINVAL')
    await file.close()
    assert.equal(await readAll(disk, 'f'), 'data')
  })

  test('a closed handle rejects further use with EBADF', async (disk) => {
    const file = await disk.open('f', 'create')
    await file.close()
    await rejectsWith(file.read(0, 1), 'EBADF')
    await rejectsWith(file.write(0, bytes('x')), 'EBADF')
  })

  test('rename replaces the target atomically and removes the source name', async (disk) => {
    await writeFile(disk, 'a', 'new', { sync: true })
    await writeFile(disk, 'b', 'old', { sync: true })
    await disk.rename('a', 'b')
    assert.equal(await disk.exists('a'), false)
    assert.equal(await readAll(disk, 'b'), 'new')
    assert.deepEqual(await disk.list(''), ['b'])
    await rejectsWith(disk.rename('a', 'c'), 'ENOENT')
  })

  test('rename moves a file between directories', async (disk) => {
    await disk.mkdirp('d1')
    await disk.mkdirp('d2')
    await writeFile(disk, 'd1/f', 'x', { sync: true })
    await disk.rename('d1/f', 'd2/g')
    assert.deepEqual(await disk.list('d1'), [])
    assert.equal(await readAll(disk, 'd2/g'), 'x')
  })

  test('an open handle keeps working after its file is renamed', async (disk) => {
    const file = await disk.open('a', 'create')
    await file.write(0, bytes('one'))
    await disk.rename('a', 'b')
    await file.write(3, bytes('two'))
    await file.sync()
    await file.close()
    assert.equal(await readAll(disk, 'b'), 'onetwo')
  })

  test('list returns sorted names of files and subdirectories, [] for a missing directory', async (disk) => {
    await disk.mkdirp('dir/sub')
    for (const name of ['c', 'a', 'b10', 'b2']) await writeFile(disk, `dir/${name}`, name, { sync: false })
    assert.deepEqual(await disk.list('dir'), ['a', 'b10', 'b2', 'c', 'sub'])
    assert.deepEqual(await disk.list('dir/sub'), [])
    assert.deepEqual(await disk.list('nowhere'), [])
  })

  test('remove deletes a file; removing a missing file is not an error', async (disk) => {
    await writeFile(disk, 'f', 'x', { sync: true })
    await disk.remove('f')
    assert.equal(await disk.exists('f'), false)
    await disk.remove('f')
    await disk.remove('nodir/f')
    await rejectsWith(disk.open('f', 'read'), 'ENOENT')
  })

  test('mkdirp creates parents and is idempotent', async (disk) => {
    await disk.mkdirp('a/b/c')
    await disk.mkdirp('a/b/c')
    await disk.mkdirp('a/b')
    assert.equal(await disk.exists('a/b/c'), true)
    assert.deepEqual(await disk.list('a'), ['b'])
    await writeFile(disk, 'a/b/c/f', 'x', { sync: true })
    assert.deepEqual(await disk.list('a/b/c'), ['f'])
  })

  test('sync and syncDir succeed on existing paths; syncDir of a missing directory is ENOENT', async (disk) => {
    await disk.mkdirp('d')
    await writeFile(disk, 'd/f', 'x', { sync: true })
    await disk.syncDir('d')
    await disk.syncDir('')
    await rejectsWith(disk.syncDir('missing'), 'ENOENT')
  })

  if (!options.crashable) return

  const crashable = (disk: DiskLike): CrashableDisk => {
    if (!('crash' in disk) || !('restart' in disk)) throw new Error('disk contract: crashable disk lacks crash()/restart()')
    return disk
  }

  test('crash keeps synced data and loses unsynced writes', async (disk) => {
    const d = crashable(disk)
    const file = await d.open('f', 'create')
    await file.write(0, bytes('durable'))
    await file.sync()
    await d.syncDir('')
    await file.write(7, bytes('-volatile'))
    await file.write(0, bytes('D'))
    d.crash({ faults: ALL_LOST })
    const after = d.restart()
    assert.equal(await readAll(after, 'f'), 'durable')
  })

  test('crash with every write applied keeps unsynced writes too', async (disk) => {
    const d = crashable(disk)
    await writeFile(d, 'f', 'base', { sync: true })
    await d.syncDir('')
    const file = await d.open('f', 'readWrite')
    await file.write(4, bytes('+more'))
    d.crash({ faults: ALL_WHOLE })
    assert.equal(await readAll(d.restart(), 'f'), 'base+more')
  })

  test('an unsynced truncate is undone by a crash that loses it', async (disk) => {
    const d = crashable(disk)
    await writeFile(d, 'f', 'keepme', { sync: true })
    await d.syncDir('')
    const file = await d.open('f', 'readWrite')
    await file.truncate(0)
    d.crash({ faults: ALL_LOST })
    assert.equal(await readAll(d.restart(), 'f'), 'keepme')
  })

  test('a created file whose directory was not synced is gone after a crash', async (disk) => {
    const d = crashable(disk)
    await writeFile(d, 'f', 'synced data, unsynced name', { sync: true })
    d.crash({ faults: ALL_WHOLE })
    const after = d.restart()
    assert.equal(await after.exists('f'), false)
    assert.deepEqual(await after.list(''), [])
  })

  test('rename without syncDir is lost at a crash; with syncDir it survives', async (disk) => {
    const d = crashable(disk)
    await writeFile(d, 'log', 'old', { sync: true })
    await writeFile(d, 'log.tmp', 'new', { sync: true })
    await d.syncDir('')
    await d.rename('log.tmp', 'log')
    d.crash({ faults: ALL_WHOLE })
    let after = d.restart()
    assert.equal(await readAll(after, 'log'), 'old')
    assert.equal(await readAll(after, 'log.tmp'), 'new')
    await after.rename('log.tmp', 'log')
    await after.syncDir('')
    d.crash({ faults: ALL_LOST })
    after = d.restart()
    assert.equal(await readAll(after, 'log'), 'new')
    assert.deepEqual(await after.list(''), ['log'])
  })

  test('remove without syncDir is undone by a crash', async (disk) => {
    const d = crashable(disk)
    await writeFile(d, 'f', 'still here', { sync: true })
    await d.syncDir('')
    await d.remove('f')
    d.crash({ faults: ALL_LOST })
    assert.equal(await readAll(d.restart(), 'f'), 'still here')
  })

  test('a torn write leaves a strict, non-empty prefix of the unsynced bytes', async (disk) => {
    const d = crashable(disk)
    const file = await d.open('f', 'create')
    await d.syncDir('')
    await file.sync()
    const payload = '0123456789abcdefghijklmnopqrstuvwxyz'
    await file.write(0, bytes(payload))
    d.crash({ faults: ALL_TORN })
    const content = await readAll(d.restart(), 'f')
    assert.ok(content.length > 0 && content.length < payload.length, `torn length ${content.length}`)
    assert.equal(content, payload.slice(0, content.length))
  })

  test('handles and views from before a crash reject; the disk rejects until restart', async (disk) => {
    const d = crashable(disk)
    const file = await d.open('f', 'create')
    d.crash({ faults: ALL_LOST })
    await assert.rejects(d.list(''))
    const after = d.restart()
    await assert.rejects(file.read(0, 1))
    await assert.rejects(file.write(0, bytes('x')))
    assert.deepEqual(await after.list(''), [])
    d.crash({ faults: ALL_LOST })
    d.restart()
    await assert.rejects(after.list(''))
  })
}
