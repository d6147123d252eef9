/**
 * A local Tessera cluster for integration tests: `tessera up --dir D` in a temporary directory,
 * and `tessera down` plus the removal of D in stop(), always. Also: stopping a process that
 * tests know only by pid (a background mount), with bounded waits.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO, run, type RunResult } from './processes.js'

export const TESSERA_BIN = join(REPO, 'packages/cli/bin/tessera.js')

export interface LocalCluster {
  /** The cluster directory (`--dir`): local.json, secret, logs. */
  readonly dir: string
  /** Runs `tessera ARGS...` to completion (bounded). */
  tessera(args: string[], timeoutMs?: number): Promise<RunResult>
  /** `tessera down`, then removes the directory. Safe to call twice. */
  stop(): Promise<void>
}

export async function startLocalCluster(options: { metas?: number; chunks?: number } = {}): Promise<LocalCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-cluster-'))
  const tessera = (args: string[], timeoutMs = 30_000): Promise<RunResult> => run(process.execPath, [TESSERA_BIN, ...args], { timeoutMs })
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await tessera(['down', '--dir', dir], 30_000)
      await rm(dir, { recursive: true, force: true })
    })()
    return stopping
  }
  const up = await tessera(['up', '--dir', dir, '--metas', String(options.metas ?? 1), '--chunks', String(options.chunks ?? 0)], 60_000)
  if (up.code !== 0) {
    await stop()
    throw new Error(`tessera up failed (${up.code}): ${up.stderr}`)
  }
  return { dir, tessera, stop }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (alive(pid)) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return true
}

/**
 * Stops a mount served by process `pid` (SIGTERM unmounts cleanly), then makes sure the
 * mountpoint is released (fusermount -u, then -u -z) and the process is gone (SIGKILL).
 */
export async function stopMountProcess(pid: number | undefined, mountpoint: string): Promise<void> {
  if (pid !== undefined && alive(pid)) {
    process.kill(pid, 'SIGTERM')
    if (!(await waitGone(pid, 10_000))) {
      process.kill(pid, 'SIGKILL')
      await waitGone(pid, 5000)
    }
  }
  if ((await run('fusermount', ['-u', mountpoint], { timeoutMs: 10_000 })).code !== 0) {
    await run('fusermount', ['-u', '-z', mountpoint], { timeoutMs: 10_000 })
  }
}

/** `SOURCE FSTYPE` of the mount at `mountpoint` (findmnt), or '' when nothing is mounted there. */
export async function mountAt(mountpoint: string): Promise<string> {
  const result = await run('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '--mountpoint', mountpoint], { timeoutMs: 10_000 })
  return result.code === 0 ? result.stdout.trim().replace(/\s+/g, ' ') : ''
}
