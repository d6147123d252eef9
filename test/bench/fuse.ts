/**
 * The FUSE mount over a real local cluster (`tessera up --metas 3 --chunks 3 --mount` in a tmp
 * dir, default 4 MiB blocks, three copies): dd write of random bytes and of zeros with conv=fsync, dd read of the random bytes after dropping the
 * page cache, 4 KiB random reads (fio when installed, else a node child doing pread), create /
 * stat / unlink of empty files, `xargs touch` of new files then `ls -l` and `rm -rf` of them, and
 * `cp -r` of 5,000 small files; each beside its target (MooseFS with three copies on these machines, and the fuse-native
 * ceiling, shared/FACTS.md). The mount's call counts (Vfs.stats, logged at unmount) go to stderr.
 *
 * Every operation runs in a child process (dd, cp, fio, node, xargs touch): the mount is served by the
 * background `tessera mount` process, never by this one. Sizes: BENCH_FUSE_MIB (default 1024),
 * BENCH_FUSE_FILES (default 10000), BENCH_FUSE_CP_FILES (default 5000), BENCH_FUSE_RANDOM_S
 * (seconds of random reads, default 10).
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { round, type Benchmark, type Row } from './lib/bench.js'

const MIB = 1024 * 1024
const TOTAL_MIB = Number(process.env.BENCH_FUSE_MIB ?? 1024)
const FILES = Number(process.env.BENCH_FUSE_FILES ?? 10_000)
const CP_FILES = Number(process.env.BENCH_FUSE_CP_FILES ?? 5000)
const RANDOM_SECONDS = Number(process.env.BENCH_FUSE_RANDOM_S ?? 10)
const TESSERA = fileURLToPath(new URL('../../../packages/cli/bin/tessera.js', import.meta.url))

interface Ran {
  code: number
  stdout: string
  stderr: string
  seconds: number
}

function run(cmd: string, args: string[], timeoutMs = 600_000, cwd?: string): Promise<Ran> {
  const started = performance.now()
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20, ...(cwd === undefined ? {} : { cwd }) }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 })
    })
  })
}

async function must(what: string, ran: Promise<Ran>): Promise<Ran> {
  const result = await ran
  if (result.code !== 0) throw new Error(`${what} failed (${result.code}): ${result.stderr.trim().slice(-500)}`)
  return result
}

async function dropCaches(): Promise<boolean> {
  try {
    await must('sync', run('sync', []))
    await writeFile('/proc/sys/vm/drop_caches', '3\n')
    return true
  } catch {
    return false
  }
}

async function hasProgram(name: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${name}`], 10_000)).code === 0
}

/** A node child reading 4 KiB at random 4 KiB-aligned offsets for `seconds`; prints reads done. */
const RANDOM_READER = `
import { open } from 'node:fs/promises'
const [path, size, seconds] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])]
const fh = await open(path, 'r')
const buf = Buffer.alloc(4096)
const slots = Math.floor(size / 4096)
let reads = 0
const end = performance.now() + seconds * 1000
while (performance.now() < end) {
  const { bytesRead } = await fh.read(buf, 0, 4096, Math.floor(Math.random() * slots) * 4096)
  if (bytesRead !== 4096) { process.stderr.write('short read ' + bytesRead + '\\n'); process.exit(1) }
  reads++
}
await fh.close()
process.stdout.write(String(reads) + '\\n')
`

/** A node child doing one kind of metadata operation on `count` files, one at a time. */
const META_OPS = `
import { writeFile, stat, unlink, mkdir } from 'node:fs/promises'
const [op, dir, count] = [process.argv[1], process.argv[2], Number(process.argv[3])]
if (op === 'create') await mkdir(dir, { recursive: true })
const started = performance.now()
for (let i = 0; i < count; i++) {
  const path = dir + '/f' + i
  if (op === 'create') await writeFile(path, '')
  else if (op === 'stat') await stat(path)
  else await unlink(path)
}
process.stdout.write(String((performance.now() - started) / 1000) + '\\n')
`

async function smallTree(root: string, files: number): Promise<void> {
  const perDir = 100
  for (let d = 0; d * perDir < files; d++) {
    const dir = join(root, `d${d}`)
    await mkdir(dir, { recursive: true })
    for (let i = d * perDir; i < Math.min(files, (d + 1) * perDir); i++) {
      await writeFile(join(dir, `f${i}.txt`), `file ${i}\n`.repeat(1 + (i % 200)))
    }
  }
}

/** The counts of the mount's last 'vfs: calls made' log line (logged when it unmounts). */
function vfsCallsOf(log: string): Record<string, number> | undefined {
  let found: Record<string, number> | undefined
  for (const line of log.split('\n')) {
    if (!line.includes('vfs: calls made')) continue
    try {
      const parsed = JSON.parse(line) as { calls?: Record<string, number> }
      if (parsed.calls !== undefined) found = parsed.calls
    } catch {
      // not a JSON log line
    }
  }
  return found
}

export const benchmark: Benchmark = {
  name: 'fuse',
  description: 'tessera mount on a 3+3 local cluster: dd write/read, 4 KiB random reads, create/stat/unlink, touch/ls -l/rm -rf, cp -r',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-fuse-'))
    const cluster = join(dir, 'cluster')
    const mnt = join(dir, 'mnt')
    const local = join(dir, 'local')
    await mkdir(mnt)
    await mkdir(local)
    const rows: Row[] = []
    try {
      await must('tessera up --mount', run(process.execPath, [TESSERA, 'up', '--dir', cluster, '--metas', '3', '--chunks', '3', '--mount', mnt], 120_000))

      // The headline write and read use incompressible bytes, as the MooseFS anchors do; a file of
      // zeros (every block one key, shared by the writer) is a separate row, never read back for
      // the read figures (its blocks would all be one cached block).
      const bigFile = join(mnt, 'big')
      const source = join(local, 'random')
      await must('random data', run('dd', ['if=/dev/urandom', `of=${source}`, 'bs=1M', `count=${TOTAL_MIB}`], 300_000))
      const write = await must('dd write (random bytes)', run('dd', [`if=${source}`, `of=${bigFile}`, 'bs=1M', 'conv=fsync'], 600_000))
      rows.push({ test: `dd write ${TOTAL_MIB} MiB random bytes, bs=1M, conv=fsync`, measured: round((TOTAL_MIB * MIB) / 1e6 / write.seconds, 1), unit: 'MB/s', target: '125 (MooseFS); ceiling 171 (fuse-native)', note: 'incompressible, no dedupe' })
      await rm(source, { force: true })
      const zeros = await must('dd write (zeros)', run('dd', ['if=/dev/zero', `of=${join(mnt, 'zeros')}`, 'bs=1M', `count=${TOTAL_MIB}`, 'conv=fsync'], 600_000))
      rows.push({ test: `dd write ${TOTAL_MIB} MiB of zeros, conv=fsync`, measured: round((TOTAL_MIB * MIB) / 1e6 / zeros.seconds, 1), unit: 'MB/s', target: '220 (MooseFS, sparse)', note: 'one key: the writer shares recent zero blocks' })

      const dropped = await dropCaches()
      const read = await must('dd read', run('dd', [`if=${bigFile}`, 'of=/dev/null', 'bs=1M'], 600_000))
      rows.push({ test: `dd read ${TOTAL_MIB} MiB random bytes, bs=1M`, measured: round((TOTAL_MIB * MIB) / 1e6 / read.seconds, 1), unit: 'MB/s', target: '468 (MooseFS)', note: dropped ? 'after drop_caches' : 'drop_caches not permitted: page cache may help' })

      await dropCaches()
      const size = TOTAL_MIB * MIB
      if (await hasProgram('fio')) {
        const fio = await must('fio', run('fio', ['--name=rand', `--filename=${bigFile}`, '--rw=randread', '--bs=4k', `--size=${size}`, `--runtime=${RANDOM_SECONDS}`, '--time_based', '--direct=0', '--output-format=json']))
        const iops = (JSON.parse(fio.stdout) as { jobs: { read: { iops: number } }[] }).jobs[0]!.read.iops
        rows.push({ test: '4 KiB random reads (fio, 1 job)', measured: round(iops), unit: 'reads/s', target: '-', note: '' })
      } else {
        const reader = await must('random reads', run(process.execPath, ['--input-type=module', '-e', RANDOM_READER, bigFile, String(size), String(RANDOM_SECONDS)]))
        const reads = Number(reader.stdout.trim())
        rows.push({ test: '4 KiB random reads (node pread, 1 at a time)', measured: round(reads / reader.seconds), unit: 'reads/s', target: '-', note: 'fio not installed' })
      }

      for (const op of ['create', 'stat', 'unlink'] as const) {
        const ran = await must(`${op} ${FILES}`, run(process.execPath, ['--input-type=module', '-e', META_OPS, op, join(mnt, 'many'), String(FILES)]))
        const seconds = Number(ran.stdout.trim())
        rows.push({ test: `${op} ${FILES.toLocaleString('en-US')} empty files`, measured: round(FILES / seconds), unit: 'files/s', target: op === 'create' ? '1,893 (MooseFS)' : '-', note: '' })
      }

      // The MooseFS anchor's own method: xargs touch of new names (create + utimens(now) each).
      const touchDir = join(mnt, 'touched')
      await mkdir(touchDir)
      const touched = await must('xargs touch', run('sh', ['-c', `seq 0 ${FILES - 1} | sed 's/^/t/' | xargs touch`], 600_000, touchDir))
      rows.push({ test: `xargs touch ${FILES.toLocaleString('en-US')} new files`, measured: round(FILES / touched.seconds), unit: 'files/s', target: '1,893 (MooseFS)', note: 'includes sh/seq start' })

      // Then the anchor's ls -l and rm -rf of those files, once the kernel's and the mount's
      // caches of the touch have expired (entry and attribute timeouts of 1 s).
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const listed = await must('ls -l', run('ls', ['-l', touchDir]))
      const lines = listed.stdout.split('\n').filter((line) => line.startsWith('-')).length
      if (lines !== FILES) throw new Error(`ls -l listed ${lines} files, expected ${FILES}`)
      rows.push({ test: `ls -l of ${FILES.toLocaleString('en-US')} files`, measured: round(FILES / listed.seconds), unit: 'files/s', target: '4,876 (MooseFS)', note: '' })
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const removed = await must('rm -rf', run('rm', ['-rf', touchDir]))
      rows.push({ test: `rm -rf of ${FILES.toLocaleString('en-US')} files`, measured: round(FILES / removed.seconds), unit: 'files/s', target: '4,337 (MooseFS)', note: '' })

      await smallTree(join(local, 'tree'), CP_FILES)
      const cp = await must('cp -r', run('cp', ['-r', join(local, 'tree'), join(mnt, 'tree')]))
      rows.push({ test: `cp -r ${CP_FILES.toLocaleString('en-US')} small files`, measured: round(cp.seconds, 1), unit: 's', target: '13.8 (MooseFS)', note: '' })
    } finally {
      const down = await run(process.execPath, [TESSERA, 'down', '--dir', cluster], 120_000)
      if (down.code !== 0) {
        process.stderr.write(`tessera down: ${down.stderr}`)
        await run('fusermount', ['-u', '-z', mnt], 10_000)
      }
      const mountLog = await readFile(join(cluster, 'logs', 'mount.log'), 'utf8').catch(() => '')
      if (mountLog.includes('"level":50')) process.stderr.write('the mount logged errors (see its log)\n')
      const calls = vfsCallsOf(mountLog)
      if (calls !== undefined) process.stderr.write(`mount's calls over the whole run (Vfs.stats): ${JSON.stringify(calls)}\n`)
      await rm(dir, { recursive: true, force: true })
    }
    return rows
  },
}
