/**
 * A local cluster for the data benchmark and the big-file tests (`tessera format` + `tessera up`
 * in a tmp dir; stop() runs `tessera down`, SIGKILLs any daemon of local.json still alive, and
 * removes the dir), and the data client child (data-client.child.ts) run against it.
 */
import { execFile, fork } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DataClientConfig, DataClientResult } from './data-client.child.js'
import { DATA_GLIBC_TUNABLES } from '@tessera/client'

const REPO = fileURLToPath(new URL('../../../../', import.meta.url))
const BIN = join(REPO, 'packages/cli/bin/tessera.js')
const CHILD = new URL('./data-client.child.js', import.meta.url)

export interface TesseraRun {
  code: number
  out: string
  err: string
}

export function runTessera(args: string[], timeoutMs = 60_000): Promise<TesseraRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } },
      (error, out, err) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out, err }))
  })
}

export interface LocalDaemon {
  id: string
  address: string
  dataDir: string
  pid: number
}

export interface DataCluster {
  dir: string
  addresses: string[]
  secretHex: string
  /** The daemons as local.json lists them now. */
  daemons(): Promise<{ metas: LocalDaemon[]; chunks: LocalDaemon[] }>
  tessera(args: string[], timeoutMs?: number): Promise<TesseraRun>
  stop(): Promise<void>
}

async function readState(dir: string): Promise<{ metas: LocalDaemon[]; chunks: LocalDaemon[] }> {
  return JSON.parse(await readFile(join(dir, 'local.json'), 'utf8')) as { metas: LocalDaemon[]; chunks: LocalDaemon[] }
}

/** True when `pid` is still the daemon whose command line names `marker` (its data dir). */
export async function isDaemonAlive(pid: number, marker: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(marker)
  } catch {
    return false
  }
}

export interface DataClusterOptions {
  metas: number
  chunks: number
  blockSize?: string
  minCopies?: number
}

/**
 * `tessera up` picks free ports and then binds them, so on a busy machine another process can
 * take one in between (EADDRINUSE at start-up). That start is retried once in a fresh dir.
 */
export async function startDataCluster(options: DataClusterOptions): Promise<DataCluster> {
  try {
    return await startOnce(options)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('EADDRINUSE')) throw err
    return await startOnce(options)
  }
}

async function startOnce(options: DataClusterOptions): Promise<DataCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-data-'))
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await runTessera(['down', '--dir', dir], 40_000)
      try {
        const state = await readState(dir)
        for (const d of [...state.chunks, ...state.metas]) if (await isDaemonAlive(d.pid, d.dataDir)) process.kill(d.pid, 'SIGKILL')
      } catch {
        // no local.json: nothing was started
      }
      await rm(dir, { recursive: true, force: true })
    })()
    return stopping
  }
  try {
    const format = await runTessera([
      'format', '--dir', dir, '--block-size', options.blockSize ?? '4MiB', '--min-copies', String(options.minCopies ?? 2),
    ])
    if (format.code !== 0) throw new Error(`tessera format failed: ${format.err}`)
    const up = await runTessera(['up', '--dir', dir, '--metas', String(options.metas), '--chunks', String(options.chunks)], 90_000)
    if (up.code !== 0) throw new Error(`tessera up failed: ${up.err}`)
    const state = await readState(dir)
    const secretHex = (await readFile(join(dir, 'secret'), 'utf8')).trim()
    return {
      dir, secretHex, addresses: state.metas.map((m) => m.address), stop,
      daemons: () => readState(dir),
      tessera: (args, timeoutMs) => runTessera([...args, '--dir', dir], timeoutMs),
    }
  } catch (err) {
    await stop()
    throw err
  }
}

export interface RunClientOptions {
  /** Called once when the put has read config.notifyAtBytes. */
  onProgress?: (bytes: number) => void | Promise<void>
  /** Extra node flags for the child (e.g. --cpu-prof). */
  execArgv?: string[]
  timeoutMs?: number
}

export class DataClientError extends Error {
  constructor(readonly code: string, message: string) {
    super(message)
  }
}

/** Runs the data client child to completion; rejects with DataClientError when it reports one. */
export function runDataClient(config: DataClientConfig, options: RunClientOptions = {}): Promise<DataClientResult> {
  const child = fork(CHILD, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: options.execArgv ?? [],
    // Tuned as `tessera put` and `get` are (bin/tessera.js's shebang).
    env: { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? DATA_GLIBC_TUNABLES, TESSERA_DATA_CLIENT: JSON.stringify(config) },
  })
  const timeoutMs = options.timeoutMs ?? 600_000
  return new Promise<DataClientResult>((resolve, reject) => {
    let settled = false
    const finish = (fn: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      fn()
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish(() => reject(new Error(`data client: no answer within ${timeoutMs} ms`)))
    }, timeoutMs)
    child.on('message', (m: { type: string; bytes?: number; code?: string; message?: string } & DataClientResult) => {
      if (m.type === 'progress') void Promise.resolve(options.onProgress?.(m.bytes ?? 0)).catch(() => undefined)
      else if (m.type === 'done') finish(() => resolve({ ...(m.put ? { put: m.put } : {}), ...(m.get ? { get: m.get } : {}), vmHwm: m.vmHwm }))
      else if (m.type === 'error') finish(() => reject(new DataClientError(m.code ?? 'ERROR', m.message ?? 'failed')))
    })
    child.once('exit', (code, signal) => finish(() => reject(new Error(`data client exited (${code ?? signal}) without a result`))))
  })
}
