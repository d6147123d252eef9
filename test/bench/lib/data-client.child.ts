/**
 * The client side of the data benchmark and the big-file tests, in its own process so that its
 * memory is its own: a FileStore (MetaClient + MetaCalls) against a running cluster puts a
 * seeded stream of `bytes` as `path` and/or gets it back into a hashing sink, timing each phase
 * and sampling `process.memoryUsage().rss` every 50 ms (plus VmHWM from /proc/self/status).
 *
 * Config: env TESSERA_DATA_CLIENT (JSON DataClientConfig). Messages to the parent:
 *   { type: 'progress', bytes }  once, when the put has read `notifyAtBytes` of the source;
 *   { type: 'done', ...DataClientResult } or { type: 'error', code, message }.
 * Exits after reporting (or when the parent disconnects).
 */
import { readFile } from 'node:fs/promises'
import { Writable } from 'node:stream'
import { FileStore, MetaCalls, MetaClient } from '@tessera/client'
import { seededBytes, StreamDigest } from './data-stream.js'

export interface DataClientConfig {
  addresses: string[]
  secretHex: string
  path: string
  seed: string
  bytes: number
  mode: 'put' | 'get' | 'both'
  /** Send one progress message when the put has read this many bytes. */
  notifyAtBytes?: number
}

export interface PhaseResult {
  seconds: number
  bytes: number
  /** StreamDigest of the bytes read or written. */
  digest: string
  /** Highest sampled RSS during this phase. */
  peakRss: number
  /** CPU time (user + system) this process spent in the phase, ms. */
  cpuMs: number
  /** Minor page faults of this process in the phase. */
  faults: number
}

export interface DataClientResult {
  put?: PhaseResult & { blocks: number; underReplicated: number }
  get?: PhaseResult
  /** The process's high-water RSS over its whole life (VmHWM), bytes. */
  vmHwm: number
}

class RssSampler {
  peak = 0
  private readonly timer: NodeJS.Timeout

  constructor() {
    this.sample()
    this.timer = setInterval(() => this.sample(), 50)
  }

  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().rss)
  }

  stop(): number {
    clearInterval(this.timer)
    this.sample()
    return this.peak
  }
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

async function vmHwm(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8')
  const kib = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1]
  return kib === undefined ? 0 : Number(kib) * 1024
}

function hashingSink(digest: StreamDigest): Writable {
  return new Writable({
    highWaterMark: 4 * 1024 * 1024,
    write(chunk: Buffer, _encoding, done) {
      digest.update(chunk)
      done()
    },
  })
}

async function put(files: FileStore, config: DataClientConfig): Promise<DataClientResult['put']> {
  const digest = await StreamDigest.create()
  let notified = config.notifyAtBytes === undefined
  const source = seededBytes(config.seed, config.bytes, (piece) => {
    digest.update(piece)
    if (!notified && digest.bytes >= config.notifyAtBytes!) {
      notified = true
      process.send?.({ type: 'progress', bytes: digest.bytes })
    }
  })
  const sampler = new RssSampler()
  const cpu = process.cpuUsage()
  const faults = process.resourceUsage().minorPageFault
  const started = performance.now()
  try {
    const result = await files.putFile(config.path, source)
    const seconds = (performance.now() - started) / 1000
    return {
      seconds, bytes: digest.bytes, digest: digest.hex(), peakRss: sampler.stop(),
      cpuMs: cpuMsSince(cpu), faults: process.resourceUsage().minorPageFault - faults,
      blocks: result.blocks.length, underReplicated: result.underReplicated,
    }
  } finally {
    sampler.stop()
  }
}

async function get(files: FileStore, config: DataClientConfig): Promise<PhaseResult> {
  const digest = await StreamDigest.create()
  const sink = hashingSink(digest)
  const sampler = new RssSampler()
  const cpu = process.cpuUsage()
  const faults = process.resourceUsage().minorPageFault
  const started = performance.now()
  try {
    const bytes = await files.getFile(config.path, sink)
    const seconds = (performance.now() - started) / 1000
    await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())))
    return { seconds, bytes, digest: digest.hex(), peakRss: sampler.stop(), cpuMs: cpuMsSince(cpu), faults: process.resourceUsage().minorPageFault - faults }
  } finally {
    sampler.stop()
  }
}

async function main(): Promise<DataClientResult> {
  const config = JSON.parse(process.env.TESSERA_DATA_CLIENT ?? '') as DataClientConfig
  const secret = Buffer.from(config.secretHex, 'hex')
  const meta = new MetaClient({ addresses: config.addresses, secret, sessions: 2 })
  const calls = new MetaCalls({ addresses: config.addresses, secret })
  const files = new FileStore({ meta, calls, secret })
  try {
    const result: DataClientResult = { vmHwm: 0 }
    if (config.mode !== 'get') result.put = await put(files, config)
    if (config.mode !== 'put') result.get = await get(files, config)
    result.vmHwm = await vmHwm()
    return result
  } finally {
    await files.close()
    await calls.close()
    await meta.close()
  }
}

process.on('disconnect', () => process.exit(0))
main().then(
  (result) => process.send?.({ type: 'done', ...result }, () => process.exit(0)),
  (err: unknown) => {
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERROR'
    const message = err instanceof Error ? err.message : String(err)
    process.send?.({ type: 'error', code, message }, () => process.exit(1))
  },
)
