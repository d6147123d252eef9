/**
 * The FUSE mount of a local cluster (`tessera up --mount MNT`): started with
 * `tessera mount --background`, whose serving process's pid is recorded in D/local.json, and
 * stopped by `tessera down`: SIGTERM (a clean unmount), SIGKILL after a grace period, then a lazy
 * `fusermount -u -z` if the kernel still lists the mount. The pid is only signalled while its
 * command line still names the mountpoint (see processes.ts).
 */
import { isMountPoint } from '@tessera/fuse'
import { execFile } from 'node:child_process'
import { TesseraError } from '@tessera/protocol'
import { isOurProcess, stopProcess, tesseraBin } from './processes.js'

export interface LocalMount {
  /** Absolute path of the mounted directory (also the marker of its process). */
  mountpoint: string
  pid: number
  logFile: string
}

const START_TIMEOUT_MS = 60_000

interface Ran {
  code: number
  stdout: string
  stderr: string
}

function runFile(cmd: string, args: string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * Mounts the cluster of `dir` at `mountpoint` in the background and resolves to the serving
 * process's pid once the mount is up; rejects with the mount command's message otherwise.
 */
export async function startMount(dir: string, mountpoint: string, logFile: string): Promise<number> {
  const result = await runFile(process.execPath,
    [tesseraBin(), 'mount', '--dir', dir, '--background', '--log-file', logFile, mountpoint], START_TIMEOUT_MS)
  const pid = /\(pid (\d+)\)/.exec(result.stdout)?.[1]
  if (result.code !== 0 || pid === undefined) {
    throw new TesseraError('EIO', `tessera mount ${mountpoint} failed: ${(result.stderr || result.stdout).trim() || `exit ${result.code}`}`)
  }
  return Number(pid)
}

export async function mountRunning(mount: LocalMount): Promise<boolean> {
  return mount.pid > 0 && await isOurProcess(mount.pid, mount.mountpoint) && await isMountPoint(mount.mountpoint)
}

/**
 * Stops the mount's process (SIGTERM unmounts cleanly; SIGKILL after `graceMs`) and makes sure
 * the kernel no longer lists the mount. Resolves false if the mountpoint stays mounted.
 */
export async function stopMount(mount: LocalMount, graceMs: number): Promise<boolean> {
  if (mount.pid > 0) await stopProcess(mount.pid, mount.mountpoint, graceMs)
  if (!(await isMountPoint(mount.mountpoint))) return true
  await runFile('fusermount', ['-u', '-z', mount.mountpoint], 10_000)
  return !(await isMountPoint(mount.mountpoint))
}
