/**
 * The chunk write path on loopback: MB/s writing 256 MiB as 4 MiB blocks through a replication
 * chain of 3 chunk servers (and through a single server, for scale), each server in its own
 * process, the writer in another; beside raw ws upload throughput and the disk's rate for
 * the same volume (written as the store commits), measured in the same run.
 *
 * The processes are the chunk package's bench children (packages/chunk/dist/test/support), so
 * this module needs only node and ws. Sizes: BENCH_CHUNK_MIB (default 256). The chain rows give
 * CPU ms per MiB of the writer, and CPU ms and minor page faults per MiB of each server (head,
 * middle, tail), which load from other processes distorts less than MB/s.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, open, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { round, percent, type Benchmark, type Row } from './lib/bench.js'
import { costPerMiB, costSnapshot, formatCost } from './lib/proc-cpu.js'

const MIB = 1024 * 1024
const TOTAL_MIB = Number(process.env.BENCH_CHUNK_MIB ?? 256)
const BLOCK_BYTES = 4 * MIB
const SUPPORT = new URL('../../../packages/chunk/dist/test/support/', import.meta.url)

interface Child {
  process: ChildProcess
  /** First IPC message. */
  first: Promise<Record<string, unknown>>
}

function forkChild(script: string, env: Record<string, string>): Child {
  const child = fork(new URL(script, SUPPORT), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } })
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Record<string, unknown>))
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before reporting`)))
  })
  first.catch(() => undefined)
  return { process: child, first }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms) }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Disconnects a child (it cleans up and exits); SIGKILL after 5 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  if (child.connected) child.disconnect()
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

async function writeThroughChain(addresses: string[], secretHex: string, inFlight: number): Promise<{ mbPerSecond: number; cpuMs: number }> {
  const writer = forkChild('bench-writer.child.js', {
    TESSERA_BENCH_WRITER: JSON.stringify({ addresses, secretHex, totalBytes: TOTAL_MIB * MIB, blockBytes: BLOCK_BYTES, inFlight }),
  })
  try {
    const result = await withTimeout(writer.first, 300_000, 'bench writer')
    if (typeof result.error === 'string') throw new Error(`bench writer: ${result.error}`)
    return { mbPerSecond: result.mbPerSecond as number, cpuMs: result.cpuMs as number }
  } finally {
    await stop(writer.process)
  }
}

/**
 * Raw ws upload of the same volume in 1 MiB messages from this process to the protocol
 * benchmark's ws server child (which counts bytes and answers "total" with the count).
 */
async function rawWsUpload(): Promise<number> {
  const child = fork(new URL('./lib/protocol-server.child.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let ws: WebSocket | undefined
  try {
    const ports = await withTimeout(new Promise<{ ws: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { ws: number }))
      child.once('exit', (code) => reject(new Error(`ws server exited with ${code}`)))
    }), 20_000, 'raw ws server')
    const socket = new WebSocket(`ws://127.0.0.1:${ports.ws}`, { perMessageDeflate: false, maxPayload: 16 * MIB })
    ws = socket
    await once(socket, 'open')
    const total = TOTAL_MIB * MIB
    const chunk = randomBytes(MIB)
    const started = performance.now()
    let queued = 0
    let wake: (() => void) | undefined
    for (let sent = 0; sent < total; sent += MIB) {
      while (queued >= 4 * MIB) await new Promise<void>((resolve) => { wake = resolve })
      queued += MIB
      socket.send(chunk, () => {
        queued -= MIB
        const w = wake
        wake = undefined
        w?.()
      })
    }
    const reply = new Promise<string>((resolve) => socket.once('message', (d: Buffer) => resolve(d.toString())))
    socket.send('total')
    const counted = Number(await withTimeout(reply, 120_000, 'raw ws upload'))
    if (counted !== total) throw new Error(`raw ws upload: server counted ${counted}, sent ${total}`)
    return total / MIB / ((performance.now() - started) / 1000)
  } finally {
    ws?.terminate()
    await stop(child)
  }
}

/**
 * The disk's rate for the same volume written the way the block store commits: each 4 MiB file
 * written in 1 MiB pieces, fsynced, renamed into place, its directory fsynced.
 */
async function diskWrite(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-disk-'))
  try {
    const piece = randomBytes(MIB)
    const started = performance.now()
    for (let i = 0; i < (TOTAL_MIB * MIB) / BLOCK_BYTES; i++) {
      const temp = join(dir, `${i}.tmp`)
      const file = await open(temp, 'wx')
      for (let at = 0; at < BLOCK_BYTES; at += MIB) await file.write(piece, 0, MIB, at)
      await file.sync()
      await file.close()
      await rename(temp, join(dir, `${i}.blk`))
      const handle = await open(dir, 'r')
      await handle.sync()
      await handle.close()
    }
    return TOTAL_MIB / ((performance.now() - started) / 1000)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The head server's chain latency histogram totals, from its /metrics text (over IPC). */
async function chainLatency(head: Child): Promise<{ seconds: number; count: number }> {
  const reply = new Promise<Record<string, unknown>>((resolve) => head.process.once('message', (m) => resolve(m as Record<string, unknown>)))
  head.process.send({ cmd: 'metrics' })
  const text = String((await withTimeout(reply, 10_000, 'metrics')).metrics)
  const value = (name: string): number => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN)
  return { seconds: value('tessera_chunk_chain_latency_seconds_sum'), count: value('tessera_chunk_chain_latency_seconds_count') }
}

export const benchmark: Benchmark = {
  name: 'chunk',
  description: `MB/s writing ${TOTAL_MIB} MiB as 4 MiB blocks through a chain of 3 chunk server processes, beside raw ws`,
  async run(): Promise<Row[]> {
    const secretHex = randomBytes(32).toString('hex')
    const servers: Child[] = []
    try {
      for (let i = 0; i < 3; i++) {
        servers.push(forkChild('bench-server.child.js', { TESSERA_BENCH_SERVER: JSON.stringify({ id: `bench-chunk-${i}`, secretHex }) }))
      }
      const addresses: string[] = []
      for (const s of servers) addresses.push(String((await withTimeout(s.first, 20_000, 'bench chunk server')).address))

      const rows: Row[] = []
      const pids = new Map(servers.map((s, i) => [['head', 'middle', 'tail'][i]!, s.process.pid!] as const))
      const blank = { 'of raw ws': '', 'chain latency ms': '', 'writer CPU ms/MiB': '', 'servers: CPU ms / page faults, per MiB': '' }
      const rawWs = await rawWsUpload()
      rows.push({ measure: `raw ws upload, 1 MiB messages, one hop`, 'MB/s': round(rawWs), ...blank, 'of raw ws': '100%' })
      const disk = await diskWrite()
      rows.push({ measure: `disk: 4 MiB files written + fsync + rename`, 'MB/s': round(disk), ...blank, 'of raw ws': percent(disk, rawWs) })
      for (const inFlight of [1, 4]) {
        const single = await writeThroughChain(addresses.slice(0, 1), secretHex, inFlight)
        rows.push({ measure: `1 chunk server, ${inFlight} block(s) in flight`, 'MB/s': round(single.mbPerSecond), ...blank, 'of raw ws': percent(single.mbPerSecond, rawWs) })
      }
      for (const inFlight of [1, 4]) {
        const before = await chainLatency(servers[0]!)
        const cpuBefore = await costSnapshot(pids)
        const chained = await writeThroughChain(addresses, secretHex, inFlight)
        const cpuAfter = await costSnapshot(pids)
        const after = await chainLatency(servers[0]!)
        rows.push({
          measure: `chain of 3, ${inFlight} block(s) in flight`,
          'MB/s': round(chained.mbPerSecond),
          'of raw ws': percent(chained.mbPerSecond, rawWs),
          'chain latency ms': round(((after.seconds - before.seconds) / (after.count - before.count)) * 1000, 1),
          'writer CPU ms/MiB': round(chained.cpuMs / TOTAL_MIB, 1),
          'servers: CPU ms / page faults, per MiB': formatCost(costPerMiB(cpuBefore, cpuAfter, TOTAL_MIB)),
        })
      }
      return rows
    } finally {
      await Promise.all(servers.map((s) => stop(s.process)))
    }
  },
}
