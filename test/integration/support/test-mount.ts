/**
 * The one place where integration tests get a Tessera mount to run programs on. Today it is
 * packages/fuse's mount fixture (a child process serving a one-member meta and the in-memory data
 * path); switching every test to a real cluster (`tessera up` + `tessera mount --background`)
 * means changing startTestMount only.
 *
 * The mount is always served by ANOTHER process: a process must never make synchronous fs calls
 * on a mount it serves itself (shared/FACTS.md). stop() always unmounts (fusermount -u, then
 * -u -z) and ends the serving process by pid, within bounded waits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO, run } from './processes.js'

const FIXTURE = join(REPO, 'packages/fuse/dist/test/support/mount-fixture.js')
const READY_TIMEOUT_MS = 30_000

export interface TestMountOptions {
  /** Block size of the file system under the mount (default 128 KiB: small, so files span many). */
  blockSize?: number
  /** Prefix of the temporary directory that holds the mountpoint. */
  name?: string
}

export interface TestMount {
  /** The mounted directory. */
  readonly mountpoint: string
  /** A scratch directory on local disk beside the mountpoint (removed by stop()). */
  readonly scratch: string
  readonly blockSize: number
  /** Whether the process serving the mount ends within `timeoutMs` (without being told to). */
  serverExits(timeoutMs: number): Promise<boolean>
  /** Unmounts, stops the serving process and removes the temporary directories. Safe to call twice. */
  stop(): Promise<void>
}

export async function startTestMount(options: TestMountOptions = {}): Promise<TestMount> {
  const blockSize = options.blockSize ?? 128 * 1024
  const dir = await mkdtemp(join(tmpdir(), `${options.name ?? 'tessera-mount'}-`))
  const mountpoint = join(dir, 'mnt')
  const scratch = join(dir, 'local')
  await mkdir(mountpoint)
  await mkdir(scratch)
  const child = spawn(process.execPath, [FIXTURE, mountpoint, String(blockSize)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      child.kill('SIGTERM')
      if (!(await exited(child, 10_000))) child.kill('SIGKILL')
      await exited(child, 5000)
      if ((await run('fusermount', ['-u', mountpoint], { timeoutMs: 10_000 })).code !== 0) {
        await run('fusermount', ['-u', '-z', mountpoint], { timeoutMs: 10_000 })
      }
      await rm(dir, { recursive: true, force: true })
    })()
    return stopping
  }
  try {
    await waitForLine(child, 'READY', READY_TIMEOUT_MS)
  } catch (err) {
    await stop()
    throw err
  }
  return { mountpoint, scratch, blockSize, stop, serverExits: (timeoutMs) => exited(child, timeoutMs) }
}

function waitForLine(child: ChildProcess, marker: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`mount not ready in ${timeoutMs} ms: ${err}`)), timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes(marker)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`mount process exited with ${code}: ${err}`))
    })
  })
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}
