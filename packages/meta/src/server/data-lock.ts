/**
 * One member per data directory: two processes appending to one Raft log would corrupt it.
 * `<dataDir>/LOCK` holds the owner's pid. A lock whose pid is no longer running (the owner was
 * killed) is taken over; one held by a live process is refused with EBUSY.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { TesseraError } from '@tessera/protocol'

/** Lock files this process holds (a pid match alone could be a reused pid after a crash). */
const held = new Set<string>()

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true })
    const path = join(dataDir, 'LOCK')
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const file = await open(path, 'wx', 0o644)
        try {
          await file.writeFile(`${process.pid}\n`)
          await file.sync()
        } finally {
          await file.close()
        }
        held.add(path)
        return new DataDirLock(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim())
      const ours = owner === process.pid && held.has(path)
      if (ours || (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner))) {
        throw new TesseraError('EBUSY', `${dataDir} is in use by process ${owner} (remove ${path} if that is wrong)`)
      }
      await unlink(path).catch(() => undefined) // stale: its owner is gone
    }
    throw new TesseraError('EBUSY', `cannot take ${path}`)
  }

  async release(): Promise<void> {
    if (!held.delete(this.path)) return
    await unlink(this.path).catch(() => undefined)
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
