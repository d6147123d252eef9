/**
 * The metadata service end to end: three `tessera meta` processes started by `tessera up` in a
 * tmp dir (stopped by `tessera down` in finally), driven through MetaClient with 1 and 64
 * operations in flight:
 *   create   O_EXCL create of a new file (one Raft entry each)
 *   stat     lookup of a file by (dir, name), linearizable (ReadIndex on the leader)
 *   readdir  a full listing of a directory of 1,000 entries
 *   rename   rename of a file within its directory
 *   unlink   unlink of a file
 * as ops/s beside etcd 3.4's figures on these machines (ANCHORS.md: 802 sequential puts/s,
 * 4,630/s at 64 in flight, 6,068 linearizable ranges/s at 64 in flight), plus the leader's heap
 * per inode with 1,000,000 single-block files in 1,000 directories (a Namespace in a child
 * process with --expose-gc: packages/meta/dist/test/measure-memory.js).
 *
 *   npm run bench -- meta             (1,000,000 files for the memory figure)
 *   npm run bench -- meta --quick     (fewer operations; 100,000 files)
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MetaClient } from '@tessera/client'
import { ROOT_INO, type Credentials } from '@tessera/protocol'
import { round, type Benchmark, type Row } from './lib/bench.js'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(REPO, 'packages/cli/bin/tessera.js')
const MEASURE_MEMORY = join(REPO, 'packages/meta/dist/test/measure-memory.js')
const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const PER_DIR = 1000

/** Files per run, by operations in flight. */
const FILES: Record<number, number> = QUICK ? { 1: 300, 64: 2000 } : { 1: 1000, 64: 6000 }
const READDIRS: Record<number, number> = QUICK ? { 1: 50, 64: 200 } : { 1: 200, 64: 1000 }
const MEMORY_FILES = QUICK ? 100_000 : 1_000_000

/** etcd 3.4, three members on loopback, on these machines (ANCHORS.md). */
const ETCD_WRITE: Record<number, string> = { 1: '802 puts/s', 64: '4,630 puts/s' }
const ETCD_READ: Record<number, string> = { 1: '-', 64: '6,068 ranges/s' }

interface Run {
  code: number
  out: string
  err: string
}

function tessera(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out, err })
    })
  })
}

/** Runs `count` operations with `inflight` workers taking the next index; returns ops/s. */
async function closedLoop(count: number, inflight: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const started = performance.now()
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await op(i)
  }
  await Promise.all(Array.from({ length: Math.min(inflight, count) }, worker))
  return count / ((performance.now() - started) / 1000)
}

/** A directory of exactly PER_DIR empty files, listed by the readdir rows. */
async function fullDirectory(client: MetaClient): Promise<number> {
  const ino = (await client.mkdir(ROOT_INO, 'readdir-1000')).ino
  await closedLoop(PER_DIR, 64, (i) => client.create(ino, `entry-${i}`, 0o644, true))
  return ino
}

async function measure(client: MetaClient, inflight: number, full: number): Promise<Row[]> {
  const files = FILES[inflight]!
  const top = (await client.mkdir(ROOT_INO, `bench-${inflight}`)).ino
  const dirs: number[] = []
  for (let d = 0; d * PER_DIR < files; d++) dirs.push((await client.mkdir(top, `d${d}`)).ino)
  const dirOf = (i: number) => dirs[Math.floor(i / PER_DIR)]!
  const rows: Row[] = []
  const row = (op: string, opsPerSec: number, etcd: string, note = ''): void => {
    rows.push({ op, 'in flight': inflight, 'ops/s': round(opsPerSec), 'etcd 3.4': etcd, note })
  }
  row('create', await closedLoop(files, inflight, (i) => client.create(dirOf(i), `f${i}`, 0o644, true)), ETCD_WRITE[inflight]!, `${files} files, ${PER_DIR} per directory`)
  row('stat', await closedLoop(files, inflight, (i) => client.lookup(dirOf(i), `f${i}`)), ETCD_READ[inflight]!, 'lookup, linearizable')
  const listed = (await client.readdir(full)).length
  if (listed !== PER_DIR) throw new Error(`readdir listed ${listed} entries`)
  const readdirs = READDIRS[inflight]!
  const perSec = await closedLoop(readdirs, inflight, () => client.readdir(full))
  row('readdir', perSec, ETCD_READ[inflight]!, `${listed} entries each: ${round(perSec * listed).toLocaleString('en-US')} entries/s`)
  row('rename', await closedLoop(files, inflight, (i) => client.rename(dirOf(i), `f${i}`, dirOf(i), `r${i}`)), ETCD_WRITE[inflight]!)
  row('unlink', await closedLoop(files, inflight, (i) => client.unlink(dirOf(i), `r${i}`)), ETCD_WRITE[inflight]!)
  return rows
}

interface MemoryFigure {
  files: number
  directories: number
  heapBytes: number
  bytesPerFile: number
  snapshot: { startMs: number; slowestChunkMs: number }
}

function measureMemory(files: number): Promise<MemoryFigure> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', MEASURE_MEMORY, String(files), '--json'], { timeout: 600_000, maxBuffer: 1 << 20 }, (error, out, err) => {
      if (error !== null) reject(new Error(`measure-memory failed: ${err || error.message}`))
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as MemoryFigure)
    })
  })
}

export const benchmark: Benchmark = {
  name: 'meta',
  description: 'meta service: create/stat/readdir/rename/unlink ops/s (3 processes, 1 and 64 in flight) and heap per inode',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-meta-'))
    const rows: Row[] = []
    try {
      const up = await tessera(['up', '--dir', dir, '--metas', '3'])
      if (up.code !== 0) throw new Error(`tessera up failed: ${up.err}`)
      const metas = (JSON.parse(await readFile(join(dir, 'local.json'), 'utf8')) as { metas: { address: string }[] }).metas
      const secret = Buffer.from((await readFile(join(dir, 'secret'), 'utf8')).trim(), 'hex')
      const client = (sessions: number) => new MetaClient({ addresses: metas.map((m) => m.address), secret, cred: ROOT, sessions })
      const setup = client(64)
      const full = await fullDirectory(setup).finally(() => setup.close())
      for (const inflight of [1, 64]) {
        const measured = client(inflight)
        try {
          await measured.getattr(ROOT_INO)
          rows.push(...(await measure(measured, inflight, full)))
        } finally {
          await measured.close()
        }
      }
    } finally {
      const down = await tessera(['down', '--dir', dir])
      if (down.code !== 0) process.stderr.write(`tessera down: ${down.err}\n`)
      await rm(dir, { recursive: true, force: true })
    }
    let memory: MemoryFigure
    try {
      memory = await measureMemory(MEMORY_FILES)
    } catch (err) {
      // The operation rows above stand on their own: report them with the failure.
      rows.push({ op: 'memory', 'in flight': '-', 'ops/s': '-', 'etcd 3.4': '-', note: `failed: ${(err as Error).message.split('\n')[0]}` })
      return rows
    }
    rows.push({
      op: 'memory', 'in flight': '-', 'ops/s': '-', 'etcd 3.4': 'HDFS ~150 B/object',
      note: `${round(memory.bytesPerFile)} bytes of leader heap per single-block file (${memory.files.toLocaleString('en-US')} files in ` +
        `${memory.directories.toLocaleString('en-US')} dirs, ${round(memory.heapBytes / 2 ** 20)} MiB; target <= 300); ` +
        `snapshot start ${round(memory.snapshot.startMs, 1)} ms, slowest chunk ${round(memory.snapshot.slowestChunkMs, 1)} ms`,
    })
    return rows
  },
}
