/**
 * The data path end to end: sequential put and get of 1 GiB (BENCH_DATA_MIB to change it)
 * through the client library (FileStore in a child process: data-client.child.ts, so its RSS is
 * its own) against `tessera up --metas 3 --chunks 3` in a tmp dir (4 MiB blocks, RF 3), beside
 * raw ws upload and the disk's sequential write rate (1 MiB writes + fsync) of the same volume,
 * measured in the same run. Targets (ANCHORS.md, MooseFS with three copies on these machines):
 * put >= 125 MB/s, get >= 468 MB/s; client peak RSS during the put < 256 MiB.
 *
 * MB/s is 10^6 bytes/s, as dd reports it. The put and the get run in separate client processes;
 * each phase reports CPU ms and minor page faults per MiB of the client and of every daemon
 * (/proc/<pid>/stat), which load from other processes distorts less than MB/s. BENCH_DATA_CPU_PROF=DIR runs the client child with
 * --cpu-prof and writes its .cpuprofile there.
 *
 *   npm run bench -- data
 *   BENCH_DATA_MIB=256 npm run bench -- data
 */
import { DATA_NODE_FLAGS } from '@tessera/client'
import { round, percent, type Benchmark, type Row } from './lib/bench.js'
import { diskWriteMBs, rawWsUploadMBs } from './lib/data-baselines.js'
import { runDataClient, startDataCluster } from './lib/data-cluster.js'
import type { DataClientResult } from './lib/data-client.child.js'
import { seededDigest } from './lib/data-stream.js'
import { costPerMiB, costSnapshot, formatCost, type ProcessCost } from './lib/proc-cpu.js'

const MIB = 1024 * 1024
const TOTAL_MIB = Number(process.env.BENCH_DATA_MIB ?? 1024)
const CPU_PROF_DIR = process.env.BENCH_DATA_CPU_PROF
const PUT_TARGET_MBS = 125
const GET_TARGET_MBS = 468
const RSS_TARGET_MIB = 256

function meets(ok: boolean): string {
  return ok ? 'met' : 'MISSED'
}

export const benchmark: Benchmark = {
  name: 'data',
  description: `sequential put/get of ${TOTAL_MIB} MiB via FileStore against 3 meta + 3 chunk processes (RF 3), beside raw ws and disk`,
  async run(): Promise<Row[]> {
    if (!Number.isInteger(TOTAL_MIB) || TOTAL_MIB < 1) throw new Error(`BENCH_DATA_MIB must be a positive integer, got ${process.env.BENCH_DATA_MIB}`)
    const bytes = TOTAL_MIB * MIB
    const rawWs = await rawWsUploadMBs(bytes)
    const disk = await diskWriteMBs(bytes)
    const cluster = await startDataCluster({ metas: 3, chunks: 3 })
    const execArgv = [...DATA_NODE_FLAGS, ...(CPU_PROF_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', CPU_PROF_DIR])]
    const timeoutMs = Math.max(300_000, TOTAL_MIB * 2000)
    let result: { put: NonNullable<DataClientResult['put']>; get: NonNullable<DataClientResult['get']>; vmHwm: number }
    const daemonCost: Record<'put' | 'get', Map<string, ProcessCost>> = { put: new Map(), get: new Map() }
    try {
      const state = await cluster.daemons()
      const pids = new Map([...state.chunks, ...state.metas].map((d) => [d.id, d.pid] as const))
      const config = { addresses: cluster.addresses, secretHex: cluster.secretHex, path: '/bench.bin', seed: 'bench-data', bytes }
      // Put and get in separate client processes, so each phase's daemon CPU is its own.
      const beforePut = await costSnapshot(pids)
      const putRun = await runDataClient({ ...config, mode: 'put' }, { timeoutMs, execArgv })
      const afterPut = await costSnapshot(pids)
      const getRun = await runDataClient({ ...config, mode: 'get' }, { timeoutMs, execArgv })
      const afterGet = await costSnapshot(pids)
      daemonCost.put = costPerMiB(beforePut, afterPut, TOTAL_MIB)
      daemonCost.get = costPerMiB(afterPut, afterGet, TOTAL_MIB)
      result = { put: putRun.put!, get: getRun.get!, vmHwm: putRun.vmHwm }
    } finally {
      await cluster.stop()
    }
    const put = result.put
    const got = result.get
    const expected = await seededDigest('bench-data', bytes)
    if (put.digest !== expected || got.digest !== expected || got.bytes !== bytes) {
      throw new Error(`data bench: the file read back differs (put ${put.digest}, get ${got.digest}, expected ${expected})`)
    }
    const putMBs = bytes / 1e6 / put.seconds
    const getMBs = bytes / 1e6 / got.seconds
    const putRssMiB = put.peakRss / MIB
    const rows: Row[] = [
      { measure: 'raw ws upload, 1 MiB messages, one hop', value: round(rawWs), unit: 'MB/s', target: '', verdict: '', 'of raw ws': '100%' },
      { measure: 'disk: 1 MiB writes + fsync, one file', value: round(disk), unit: 'MB/s', target: '', verdict: '', 'of raw ws': percent(disk, rawWs) },
      {
        measure: `put ${TOTAL_MIB} MiB, FileStore, RF 3`, value: round(putMBs), unit: 'MB/s', target: `>= ${PUT_TARGET_MBS}`,
        verdict: meets(putMBs >= PUT_TARGET_MBS), 'of raw ws': percent(putMBs, rawWs),
      },
      {
        measure: `get ${TOTAL_MIB} MiB, FileStore, verified`, value: round(getMBs), unit: 'MB/s', target: `>= ${GET_TARGET_MBS}`,
        verdict: meets(getMBs >= GET_TARGET_MBS), 'of raw ws': percent(getMBs, rawWs),
      },
      {
        measure: 'client peak RSS during the put (50 ms samples)', value: round(putRssMiB), unit: 'MiB', target: `< ${RSS_TARGET_MIB}`,
        verdict: meets(putRssMiB < RSS_TARGET_MIB), 'of raw ws': '',
      },
      { measure: 'client peak RSS during the get (50 ms samples)', value: round(got.peakRss / MIB), unit: 'MiB', target: '', verdict: '', 'of raw ws': '' },
      {
        measure: 'put: client CPU per MiB; daemons', value: round(put.cpuMs / TOTAL_MIB, 1), unit: 'ms/MiB', target: '', verdict: '',
        'of raw ws': '', 'daemons: CPU ms / page faults, per MiB': formatCost(daemonCost.put),
      },
      { measure: 'put: client page faults per MiB', value: round(put.faults / TOTAL_MIB), unit: '/MiB', target: '', verdict: '', 'of raw ws': '' },
      {
        measure: 'get: client CPU per MiB; daemons', value: round(got.cpuMs / TOTAL_MIB, 1), unit: 'ms/MiB', target: '', verdict: '',
        'of raw ws': '', 'daemons: CPU ms / page faults, per MiB': formatCost(daemonCost.get),
      },
      { measure: 'get: client page faults per MiB', value: round(got.faults / TOTAL_MIB), unit: '/MiB', target: '', verdict: '', 'of raw ws': '' },
      { measure: 'client VmHWM, put run', value: round(result.vmHwm / MIB), unit: 'MiB', target: '', verdict: '', 'of raw ws': '' },
    ]
    return rows
  },
}
