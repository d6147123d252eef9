/**
 * Starting and stopping the daemons of a local cluster as detached background processes.
 * A pid is only ever signalled after checking that its command line still names the data
 * directory we gave it, so a reused pid of someone else's process is never touched.
 */
import { spawn } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { DATA_GLIBC_TUNABLES, DATA_NODE_FLAGS } from '@tessera/client'

/** The `tessera` entry script, so that daemons run the same build as the caller. */
export function tesseraBin(): string {
  return fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url))
}

/** The node arguments that run `tessera <args>` with the data path's V8 flags. */
export function tesseraNodeArgs(args: readonly string[]): string[] {
  return [...DATA_NODE_FLAGS, tesseraBin(), ...args]
}

/** Starts `tessera <args>` detached, with stdout and stderr appended to `logFile`. */
export function spawnDaemon(args: string[], logFile: string, env: NodeJS.ProcessEnv = daemonEnv()): number {
  const log = openSync(logFile, 'a')
  try {
    const child = spawn(process.execPath, tesseraNodeArgs(args), {
      detached: true,
      stdio: ['ignore', log, log],
      env,
    })
    if (child.pid === undefined) throw new Error(`could not start tessera ${args[0] ?? ''}`)
    child.unref()
    return child.pid
  } finally {
    closeSync(log)
  }
}

/** This process's environment, with DATA_GLIBC_TUNABLES unless GLIBC_TUNABLES is set. */
export function daemonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? DATA_GLIBC_TUNABLES }
}

/** True when `pid` is alive and its command line contains `marker` (e.g. its data directory). */
export async function isOurProcess(pid: number, marker: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8')
    return cmdline.split('\0').some((arg) => arg.includes(marker))
  } catch {
    return false
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * SIGTERM, then SIGKILL after `graceMs` if it is still running. Resolves true when the
 * process is gone (or was not ours to stop).
 */
export async function stopProcess(pid: number, marker: string, graceMs = 10_000): Promise<boolean> {
  if (!(await isOurProcess(pid, marker))) return true
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return true
  }
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!(await isOurProcess(pid, marker))) return true
    await sleep(50)
  }
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    return true
  }
  for (let i = 0; i < 100; i++) {
    if (!(await isOurProcess(pid, marker))) return true
    await sleep(20)
  }
  return false
}
