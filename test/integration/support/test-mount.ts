/**
 * The one place where integration tests get a Tessera mount to run programs on: a real local
 * cluster (`tessera format --block-size`, then `tessera up --dir D --metas 3 --chunks 3 --mount
 * MNT`: three meta members, three chunk servers, the mount served by a background `tessera
 * mount` process), torn down by `tessera down` (which unmounts first) in stop().
 *
 * The mount is always served by ANOTHER process: a process must never make synchronous fs calls
 * on a mount it serves itself (shared/FACTS.md). stop() always unmounts (down, then
 * fusermount -u / -u -z on every mountpoint as a safety net), ends the serving processes by pid,
 * and removes the directories, within bounded waits.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TESSERA_BIN, stopMountProcess } from './local-cluster.js'
import { run, type RunResult } from './processes.js'

const UP_TIMEOUT_MS = 90_000

export interface TestMountOptions {
  /** Block size of the cluster under the mount (default 1 MiB: files of a few MiB span several). */
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
  /** The cluster's directory (`--dir` of tessera commands): local.json, secret, logs. */
  readonly clusterDir: string
  /** Runs `tessera ARGS...` to completion (bounded). */
  tessera(args: string[], timeoutMs?: number): Promise<RunResult>
  /** Mounts the same cluster at one more directory (another client); stop() unmounts it too. */
  mountAgain(): Promise<string>
  /** Whether the process serving the mount ends within `timeoutMs` (without being told to). */
  serverExits(timeoutMs: number): Promise<boolean>
  /** Unmounts, stops the cluster and removes the temporary directories. Safe to call twice. */
  stop(): Promise<void>
}

interface LocalJson {
  mount?: { pid: number }
  chunks: { id: string; pid: number }[]
}

export async function readLocalJson(clusterDir: string): Promise<LocalJson> {
  return JSON.parse(await readFile(join(clusterDir, 'local.json'), 'utf8')) as LocalJson
}

export async function startTestMount(options: TestMountOptions = {}): Promise<TestMount> {
  const blockSize = options.blockSize ?? 1024 * 1024
  if (blockSize % (64 * 1024) !== 0) throw new Error('the block size must be a multiple of 64 KiB')
  const dir = await mkdtemp(join(tmpdir(), `${options.name ?? 'tessera-mount'}-`))
  const clusterDir = join(dir, 'cluster')
  const mountpoint = join(dir, 'mnt')
  const scratch = join(dir, 'local')
  await mkdir(mountpoint)
  await mkdir(scratch)
  const tessera = (args: string[], timeoutMs = 30_000): Promise<RunResult> => run(process.execPath, [TESSERA_BIN, ...args], { timeoutMs })
  /** Serving processes by mountpoint (the first from local.json, the others from mountAgain). */
  const mounts = new Map<string, number | undefined>([[mountpoint, undefined]])
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const [path, pid] of mounts) if (path !== mountpoint) await stopMountProcess(pid, path)
      await tessera(['down', '--dir', clusterDir], 60_000)
      await stopMountProcess(undefined, mountpoint) // in case down could not unmount
      await rm(dir, { recursive: true, force: true })
    })()
    return stopping
  }
  try {
    const format = await tessera(['format', '--dir', clusterDir, '--block-size', `${blockSize / 1024}KiB`])
    if (format.code !== 0) throw new Error(`tessera format failed (${format.code}): ${format.stderr}`)
    const up = await tessera(['up', '--dir', clusterDir, '--metas', '3', '--chunks', '3', '--mount', mountpoint], UP_TIMEOUT_MS)
    if (up.code !== 0) throw new Error(`tessera up --mount failed (${up.code}): ${up.stderr}`)
  } catch (err) {
    await stop()
    throw err
  }
  const servingPid = (await readLocalJson(clusterDir)).mount?.pid
  mounts.set(mountpoint, servingPid)
  let extra = 0
  const mountAgain = async (): Promise<string> => {
    const path = join(dir, `mnt${++extra + 1}`)
    await mkdir(path)
    mounts.set(path, undefined)
    const result = await tessera(['mount', '--dir', clusterDir, '--background', '--log-file', join(clusterDir, 'logs', `mount${extra + 1}.log`), path], 60_000)
    const pid = /\(pid (\d+)\)/.exec(result.stdout)?.[1]
    if (result.code !== 0 || pid === undefined) throw new Error(`tessera mount ${path} failed (${result.code}): ${result.stderr}`)
    mounts.set(path, Number(pid))
    return path
  }
  const serverExits = async (timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs
    while (servingPid !== undefined && alive(servingPid)) {
      if (Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return true
  }
  return { mountpoint, scratch, blockSize, clusterDir, tessera, mountAgain, serverExits, stop }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
