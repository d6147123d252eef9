/**
 * Leader heap per file: N single-block files in N/1000 directories.
 *   node --expose-gc packages/meta/dist/test/measure-memory.js 1000000 [--json]
 * Also reports how long a snapshot's start (the clone) and its slowest chunk take.
 * With --json it prints one JSON object instead (test/bench/meta.ts reads it).
 */
import { ROOT_INO, type Credentials, type MetaRequest, type Timespec } from '@tessera/protocol'
import { Namespace } from '../src/index.js'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error('run with node --expose-gc')
  process.exit(2)
}

const json = process.argv.includes('--json')
const files = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 1_000_000)
const say = (line: string): void => {
  if (!json) console.log(line)
}
const perDir = 1000
const cred: Credentials = { uid: 0, gid: 0, groups: [] }
let index = 0
let seq = 0
const time: Timespec = { sec: 1_700_000_000, nsec: 0 }

function heap(): number {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

const ns = new Namespace()
ns.apply({ kind: 'system', index: ++index, time, req: { op: 'openSession', session: 'm' } })
function call(req: MetaRequest): { attr?: { ino: number } } {
  const result = ns.apply({ kind: 'client', index: ++index, time, session: 'm', seq: ++seq, req })
  if (!result.ok) throw new Error(`${req.op}: ${result.error.code}`)
  return result.value as { attr?: { ino: number } }
}

// Three chunk servers hold every block, as in a real cluster: the heap counts each block's
// locations as well as its reference count.
const servers = ['c1', 'c2', 'c3'].map((id, i) => ({ id, address: `127.0.0.1:${7501 + i}` }))
for (const { id, address } of servers) {
  ns.apply({ kind: 'system', index: ++index, time, req: { op: 'registerChunk', id, address, zone: '', capacityBytes: 2 ** 50, usedBytes: 0 } })
}
const addresses = servers.map((s) => s.address)

const before = heap()
const started = performance.now()
let dir = 0
for (let i = 0; i < files; i++) {
  if (i % perDir === 0) dir = call({ op: 'mkdir', cred, parent: ROOT_INO, name: `dir-${i / perDir}`, mode: 0o755 }).attr!.ino
  const ino = call({ op: 'create', cred, parent: dir, name: `file-${i}`, mode: 0o644, exclusive: true }).attr!.ino
  const key = (i * 2654435761 % 2 ** 32).toString(16).padStart(8, '0') + i.toString(16).padStart(8, '0')
  const len = 4 * 1024 * 1024
  call({ op: 'commitFile', cred, ino, blocks: [{ key, len, used: len }], size: len, mtime: time, written: [{ ref: { key, len }, servers: addresses }] })
}
const built = performance.now() - started
const after = heap()
const perFile = (after - before) / files
say(`files: ${files} in ${Math.ceil(files / perDir)} directories, built in ${(built / 1000).toFixed(1)} s`)
say(`heap: ${((after - before) / 2 ** 20).toFixed(1)} MiB => ${perFile.toFixed(0)} bytes per file (incl. its share of directories, block refcounts and locations)`)

const t0 = performance.now()
const writer = ns.snapshot()
const cloneMs = performance.now() - t0
let slowest = 0
const times: number[] = []
let chunks = 0
let bytes = 0
for (;;) {
  const c0 = performance.now()
  const next = writer.next()
  slowest = Math.max(slowest, performance.now() - c0)
  times.push(performance.now() - c0)
  if (next.done === true) break
  chunks++
  bytes += next.value.byteLength
}
say(`snapshot: start ${cloneMs.toFixed(2)} ms, ${chunks} chunks, ${(bytes / 2 ** 20).toFixed(1)} MiB, slowest chunk ${slowest.toFixed(1)} ms, total ${(performance.now() - t0).toFixed(0)} ms`)
times.sort((a, b) => b - a)
say(`slowest chunks (ms): ${times.slice(0, 5).map((t) => t.toFixed(1)).join(", ")}; median ${times[Math.floor(times.length / 2)]!.toFixed(1)}`)
if (json) {
  console.log(JSON.stringify({
    files, directories: Math.ceil(files / perDir), heapBytes: after - before, bytesPerFile: perFile, buildMs: built,
    snapshot: { startMs: cloneMs, chunks, bytes, slowestChunkMs: slowest },
  }))
}
