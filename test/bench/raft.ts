/**
 * The Raft driver end to end: three member processes on loopback (RaftNode + NodeDisk WAL in a
 * tmp dir + RpcRaftTransport), 64-byte entries proposed on the leader in a closed loop with 1,
 * 64 and 256 in flight. Reports commits/s, p50/p99 commit latency and CPU seconds per 1000
 * commits (the three processes together), beside this disk's fsync rate measured in the same
 * run and etcd 3.4's figures on these machines.
 *
 *   npm run bench -- raft          (or: node test/dist/bench/raft.js)
 *   BENCH_RAFT_MS=3000 BENCH_RAFT_WARMUP_MS=1000 BENCH_RAFT_TICK_MS=100
 *   BENCH_RAFT_PROF=<dir>: every member runs under --cpu-prof and writes its profile there.
 *   BENCH_RAFT_INFLIGHT=1,64: only these loads.
 *   BENCH_RAFT_NODE_SCRIPT=<file>: run the members from another build of kv-node-process.js.
 *   BENCH_RAFT_STAGES=1: members time proposal stages (RaftNode measureStages); one extra row per
 *   load gives the p50 milliseconds from propose to each stage on the leader, and from receiving
 *   an append to persisting it and acking it on a follower.
 *
 * The member processes are packages/raft's test KV node (packages/raft/dist/test/support/
 * kv-node-process.js), driven over IPC; the message shapes below mirror its kv-node-ipc.ts.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { round, type Benchmark, type Row } from './lib/bench.js'

const DURATION_MS = Number(process.env.BENCH_RAFT_MS ?? 3000)
const WARMUP_MS = Number(process.env.BENCH_RAFT_WARMUP_MS ?? 1000)
const TICK_MS = Number(process.env.BENCH_RAFT_TICK_MS ?? 100)
const PROFILE_DIR = process.env.BENCH_RAFT_PROF
const INFLIGHT = (process.env.BENCH_RAFT_INFLIGHT ?? '1,64,256').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0)
const STAGES = process.env.BENCH_RAFT_STAGES === '1'
const ENTRY_BYTES = 64
/** BENCH_RAFT_NODE_SCRIPT: another build's kv-node-process.js, to compare two builds in one session. */
const NODE_SCRIPT = process.env.BENCH_RAFT_NODE_SCRIPT ?? fileURLToPath(new URL('../../../packages/raft/dist/test/support/kv-node-process.js', import.meta.url))

/** etcd 3.4, three members on loopback on these machines (FACTS.md / ANCHORS.md). */
const ETCD: Record<number, string> = { 1: '802/s (p99 3.2 ms)', 64: '4,630/s', 256: '6,880/s' }

// ---- the IPC shapes of packages/raft/test/support/kv-node-ipc.ts ----
type ParentMessage =
  | { type: 'start'; peers: Record<string, string> }
  | { type: 'load'; inflight: number; warmupMs: number; durationMs: number; entryBytes: number }
  | { type: 'cpu' }
  | { type: 'stages' }
interface StageSummary { count: number; p50Ms: number; p99Ms: number; meanMs: number }
interface TailBreakdown { samples: number; tailCount: number; thresholdMs: number; meanMs: Record<string, number | undefined>; causes: Record<string, number> }
interface StageReport { leader: Record<string, StageSummary | undefined>; follower: Record<string, StageSummary | undefined>; tail?: TailBreakdown }
type ChildMessage =
  | { type: 'listening'; port: number }
  | { type: 'started' }
  | { type: 'role'; role: string; leader: string; term: number }
  | { type: 'load-result'; commits: number; totalCommits: number; seconds: number; p50Ms: number; p99Ms: number; errors: number; firstError?: string }
  | { type: 'cpu'; userMicros: number; systemMicros: number }
  | { type: 'stages'; report: StageReport | undefined }
  | { type: 'fatal'; message: string }

interface Member {
  id: string
  child: ChildProcess
  role: string
  term: number
}

function ask<T extends ChildMessage['type']>(member: Member, message: ParentMessage | undefined, answer: T, timeoutMs = 120_000): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${member.id}: no ${answer} within ${timeoutMs} ms`)), timeoutMs)
    const onMessage = (reply: ChildMessage): void => {
      if (reply.type === 'fatal') done(new Error(`${member.id} failed: ${reply.message}`))
      else if (reply.type === answer) done(undefined, reply as Extract<ChildMessage, { type: T }>)
    }
    const onExit = (code: number | null): void => done(new Error(`${member.id} exited (${code})`))
    const done = (err: Error | undefined, value?: Extract<ChildMessage, { type: T }>): void => {
      clearTimeout(timer)
      member.child.off('message', onMessage)
      member.child.off('exit', onExit)
      if (err === undefined) resolve(value!)
      else reject(err)
    }
    member.child.on('message', onMessage)
    member.child.once('exit', onExit)
    if (message !== undefined) member.child.send(message)
  })
}

async function startGroup(root: string): Promise<Member[]> {
  const secret = randomBytes(32).toString('hex')
  const ids = ['m1', 'm2', 'm3']
  const execArgv = PROFILE_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []
  const members = ids.map((id): Member => {
    const config = { id, dir: path.join(root, id), port: 0, secret, bootstrap: true, tickMs: TICK_MS, electionTicks: 10, snapshotEntries: 20_000, measureStages: STAGES }
    const child = fork(NODE_SCRIPT, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
    const member: Member = { id, child, role: 'follower', term: 0 }
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'role') {
        member.role = m.role
        member.term = m.term
      }
    })
    return member
  })
  const ports = await Promise.all(members.map((m) => ask(m, undefined, 'listening', 20_000)))
  const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]!.port}`]))
  await Promise.all(members.map((m) => ask(m, { type: 'start', peers }, 'started', 20_000)))
  return members
}

async function stopGroup(members: Member[]): Promise<void> {
  await Promise.all(members.map(async (m) => {
    if (m.child.exitCode !== null || m.child.signalCode !== null) return
    const exited = once(m.child, 'exit')
    m.child.send({ type: 'stop' })
    const timer = setTimeout(() => m.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }))
}

async function leaderOf(members: Member[], timeoutMs = 20_000): Promise<Member> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const leaders = members.filter((m) => m.role === 'leader').sort((a, b) => b.term - a.term)
    if (leaders[0] !== undefined) return leaders[0]
    if (Date.now() > deadline) throw new Error('no leader elected')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function cpuSeconds(members: Member[]): Promise<number> {
  const usage = await Promise.all(members.map((m) => ask(m, { type: 'cpu' }, 'cpu')))
  return usage.reduce((sum, u) => sum + (u.userMicros + u.systemMicros) / 1e6, 0)
}

const LEADER_STAGES = ['persisted', 'sent', 'acked', 'allAcked', 'committed', 'applied']

/**
 * p50 ms to each stage: the leader's from propose, the followers' (the faster one) from
 * receiving the append; then the slowest 2% of the leader's commits: mean ms to each stage and
 * how many each cause explains (RaftNode's StageTimer, causeOf).
 */
async function stageRows(members: Member[], leader: Member, inflight: number): Promise<Row[]> {
  const reports = await Promise.all(members.map(async (m) => ({ m, report: (await ask(m, { type: 'stages' }, 'stages')).report })))
  const lead = reports.find((r) => r.m === leader)?.report?.leader ?? {}
  const follow = reports.filter((r) => r.m !== leader).map((r) => r.report?.follower ?? {})
  const p50 = (s: StageSummary | undefined): string => (s === undefined ? '-' : String(s.p50Ms))
  const fastest = (stage: string): StageSummary | undefined =>
    follow.map((f) => f[stage]).filter((s): s is StageSummary => s !== undefined).sort((a, b) => a.p50Ms - b.p50Ms)[0]
  const leaderText = LEADER_STAGES.map((s) => `${s} ${p50(lead[s])}`).join(', ')
  const p99 = (s: StageSummary | undefined): string => (s === undefined ? '-' : String(s.p99Ms))
  const followerText = ['persisted', 'acked'].map((s) => `${s} ${p50(fastest(s))} (p99 ${p99(fastest(s))})`).join(', ')
  const blank = { 'per s': '', 'p50 ms': '', 'p99 ms': '', 'cpu s / 1000 commits': '', 'etcd 3.4 target': '' }
  const rows: Row[] = [{ measure: `  stages p50 ms, ${inflight} in flight: leader ${leaderText}; follower ${followerText}`, ...blank }]
  const tail = reports.find((r) => r.m === leader)?.report?.tail
  if (tail !== undefined) {
    const means = LEADER_STAGES.map((s) => `${s} ${tail.meanMs[s] ?? '-'}`).join(', ')
    const causes = Object.entries(tail.causes).filter(([, n]) => n > 0).map(([c, n]) => `${c} ${n}`).join(', ')
    rows.push({ measure: `  slowest ${tail.tailCount} of ${tail.samples} (>= ${tail.thresholdMs} ms) mean ms: ${means}; causes: ${causes}`, ...blank })
  }
  return rows
}

/** 4 KiB appends, each followed by fdatasync, for `ms`: the disk's sequential commit ceiling. */
async function fsyncRate(dir: string, ms: number): Promise<{ perSecond: number; p50Ms: number }> {
  const file = await open(path.join(dir, 'fsync-probe'), 'w')
  const block = Buffer.alloc(4096, 0xa5)
  const latencies: number[] = []
  try {
    const end = performance.now() + ms
    let position = 0
    while (performance.now() < end) {
      const t0 = performance.now()
      await file.write(block, 0, block.length, position)
      await file.datasync()
      latencies.push(performance.now() - t0)
      position += block.length
    }
  } finally {
    await file.close()
  }
  latencies.sort((a, b) => a - b)
  return { perSecond: latencies.length / (ms / 1000), p50Ms: latencies[Math.floor(latencies.length / 2)] ?? 0 }
}

export const benchmark: Benchmark = {
  name: 'raft',
  description: 'three Raft member processes on loopback, WAL on disk: commits/s, latency and CPU at 1/64/256 in flight vs etcd 3.4',
  async run(): Promise<Row[]> {
    const root = await mkdtemp(path.join(tmpdir(), 'tessera-bench-raft-'))
    let members: Member[] = []
    try {
      const disk = await fsyncRate(root, 1000)
      members = await startGroup(root)
      const rows: Row[] = [{
        measure: '4 KiB append + fdatasync (this disk, this run)',
        'per s': round(disk.perSecond),
        'p50 ms': round(disk.p50Ms, 2),
        'p99 ms': '',
        'cpu s / 1000 commits': '',
        'etcd 3.4 target': '',
      }]
      for (const inflight of INFLIGHT) {
        const leader = await leaderOf(members)
        if (STAGES) await Promise.all(members.map((m) => ask(m, { type: 'stages' }, 'stages')))
        const cpuBefore = await cpuSeconds(members)
        const result = await ask(leader, { type: 'load', inflight, warmupMs: WARMUP_MS, durationMs: DURATION_MS, entryBytes: ENTRY_BYTES }, 'load-result')
        const cpu = (await cpuSeconds(members)) - cpuBefore
        rows.push({
          measure: `commits, ${inflight} in flight (${ENTRY_BYTES} B entries)`,
          'per s': round(result.commits / result.seconds),
          'p50 ms': round(result.p50Ms, 2),
          'p99 ms': round(result.p99Ms, 2),
          'cpu s / 1000 commits': result.totalCommits > 0 ? round((cpu / result.totalCommits) * 1000, 3) : '',
          'etcd 3.4 target': ETCD[inflight] ?? '',
          ...(result.errors > 0 ? { errors: `${result.errors} (${result.firstError ?? ''})` } : {}),
        })
        if (STAGES) rows.push(...(await stageRows(members, leader, inflight)))
      }
      return rows
    } finally {
      await stopGroup(members)
      await rm(root, { recursive: true, force: true })
    }
  },
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  benchmark.run().then(
    (rows) => console.table(rows),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
      process.exitCode = 1
    },
  )
}
