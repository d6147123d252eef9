/**
 * One Raft member as its own process, for kill -9 tests and the benchmark: a RaftNode with
 * NodeDisk storage, RpcRaftTransport, and an RpcServer that serves raft.step plus the test KV
 * methods. Driven by its parent over IPC (kv-node-ipc.ts); exits when the parent goes away.
 *
 *   node kv-node-process.js '<KvNodeConfig as JSON>'
 */
import {
  RpcServer,
  TesseraError,
  createLogger,
  silentLogger,
  type NotificationHandlers,
} from '@tessera/protocol'
import { NodeDisk, RaftStorage } from '../../src/storage/index.js'
import { RaftNode, RpcRaftTransport, registerRaftStep } from '../../src/driver/index.js'
import { KvStore, encodeKvCommand } from './kv.js'
import { kvCatalogue, type KvCatalogue } from './kv-catalogue.js'
import type { ChildMessage, KvNodeConfig, LoadResult, ParentMessage } from './kv-node-ipc.js'

const config = JSON.parse(process.argv[2] ?? '{}') as KvNodeConfig
const secret = Buffer.from(config.secret, 'hex')
const logger = config.logLevel === undefined ? silentLogger() : createLogger({ component: 'kv-node', nodeId: config.id, level: config.logLevel })
const kv = new KvStore()
let node: RaftNode | undefined

function tell(message: ChildMessage): void {
  process.send?.(message)
}

function running(): RaftNode {
  if (node === undefined) throw new TesseraError('UNAVAILABLE', `${config.id} has not started its raft node yet`)
  return node
}

const notificationHandlers: NotificationHandlers<KvCatalogue> = {}
registerRaftStep(notificationHandlers, () => node, logger)

const server = await RpcServer.listen({
  catalogue: kvCatalogue,
  secret,
  serverId: config.id,
  host: '127.0.0.1',
  port: config.port,
  logger,
  notificationHandlers,
  handlers: {
    'kv.put': async ({ client, seq, key, value }) => {
      const previous = await running().propose(encodeKvCommand({ op: 'put', key, value, client, seq }))
      return typeof previous === 'string' ? { existed: true, previous } : { existed: false, previous: '' }
    },
    'kv.get': async ({ key }) => {
      await running().readBarrier()
      const value = kv.get(key)
      return value === null ? { found: false, value: '' } : { found: true, value }
    },
    'kv.dump': () => ({
      applied: running().appliedIndex(),
      pairs: kv.entries().map(([key, value]) => ({ key, value })),
    }),
  },
})
tell({ type: 'listening', port: server.address().port })

async function start(peers: Record<string, string>): Promise<void> {
  const storage = await RaftStorage.open(new NodeDisk(config.dir), { logger })
  node = await RaftNode.start({
    id: config.id,
    storage,
    transport: new RpcRaftTransport({ id: config.id, secret, logger, reconnectMaxDelayMs: 200 }),
    stateMachine: kv,
    peers,
    bootstrap: config.bootstrap,
    logger,
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    snapshotEntries: config.snapshotEntries,
    catchUpEntries: Math.floor(config.snapshotEntries / 4),
    measureStages: config.measureStages === true,
  })
  node.onRoleChange((role, leader) => tell({ type: 'role', role, leader, term: node?.status().term ?? 0 }))
  node.onFatal((err) => {
    tell({ type: 'fatal', message: err.message })
    process.exit(3)
  })
  tell({ type: 'started' })
}

/** A put command of `bytes` bytes once encoded (the smallest at least that long: the benchmark's entry size). */
function payloadOf(bytes: number, worker: number): Uint8Array {
  for (let pad = 0; ; pad++) {
    const encoded = encodeKvCommand({ op: 'put', key: `b${worker}`, value: 'x'.repeat(pad) })
    if (encoded.byteLength >= bytes) return encoded
  }
}

async function load(inflight: number, warmupMs: number, durationMs: number, entryBytes: number): Promise<LoadResult> {
  const raft = running()
  const started = performance.now()
  const measureFrom = started + warmupMs
  const end = measureFrom + durationMs
  const latencies: number[] = []
  let errors = 0
  let totalCommits = 0
  let firstError: string | undefined
  const worker = async (w: number): Promise<void> => {
    const payload = payloadOf(entryBytes, w)
    for (;;) {
      const t0 = performance.now()
      if (t0 >= end) return
      try {
        await raft.propose(payload, { timeoutMs: 5000 })
        totalCommits++
        if (t0 >= measureFrom) latencies.push(performance.now() - t0)
      } catch (err) {
        errors++
        firstError ??= (err as Error).message
        if (errors > 1000) return
      }
    }
  }
  await Promise.all(Array.from({ length: inflight }, (_, w) => worker(w)))
  const seconds = (performance.now() - measureFrom) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return {
    type: 'load-result',
    commits: latencies.length,
    totalCommits,
    seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  }
}

async function stop(): Promise<void> {
  await node?.stop()
  await server.close()
  process.exit(0)
}

process.on('message', (raw: ParentMessage) => {
  switch (raw.type) {
    case 'start':
      start(raw.peers).catch((err: Error) => {
        tell({ type: 'fatal', message: err.message })
        process.exit(2)
      })
      return
    case 'load':
      load(raw.inflight, raw.warmupMs, raw.durationMs, raw.entryBytes).then(tell, (err: Error) => tell({ type: 'fatal', message: err.message }))
      return
    case 'cpu': {
      const usage = process.cpuUsage()
      tell({ type: 'cpu', userMicros: usage.user, systemMicros: usage.system })
      return
    }
    case 'stages':
      tell({ type: 'stages', report: node?.stageReport() })
      node?.clearStageReport()
      return
    case 'stop':
      void stop()
      return
  }
})
// Never outlive the parent (a test that dies must not leave members behind).
process.on('disconnect', () => process.exit(1))
