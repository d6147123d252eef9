/**
 * A Raft group of real RaftNodes in this process, each with its own NodeDisk directory, a
 * KvStore, and an endpoint (how it is reached: the loopback network or real RPC). Members
 * can be stopped, restarted from their directories, and added.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import {
  RpcServer,
  createLogger,
  protocolCatalogue,
  silentLogger,
  type Logger,
  type NodeId,
  type NotificationHandlers,
  type ProtocolCatalogue,
  type RaftMessage,
} from '@tessera/protocol'
import { NodeDisk, RaftStorage } from '../../src/storage/index.js'
import { RaftNode, RpcRaftTransport, registerRaftStep, type RaftTransport } from '../../src/driver/index.js'
import { KvStore, encodeKvCommand } from './kv.js'
import type { LoopbackNetwork } from './loopback.js'

/** How one member is reached; made afresh for every start of the member. */
export interface Endpoint {
  readonly address: string
  readonly transport: RaftTransport
  /** Routes incoming messages to `node` (undefined: drop them). */
  attach(node: RaftNode | undefined): void
  close(): Promise<void>
}

/** Creates an endpoint for `id`; `address` is the one it had before, to be reused on a restart. */
export type EndpointFactory = (id: NodeId, address: string | undefined) => Promise<Endpoint>

export function loopbackEndpoints(network: LoopbackNetwork): EndpointFactory {
  return async (id) => ({
    address: `loopback/${id}`,
    transport: network.transport(id),
    attach: (node) => network.attach(id, node === undefined ? undefined : { step: (m: readonly RaftMessage[]) => node.step(m) }),
    close: async () => network.attach(id, undefined),
  })
}

export function rpcEndpoints(secret: Uint8Array, logger: Logger = silentLogger()): EndpointFactory {
  return async (id, previous) => {
    let node: RaftNode | undefined
    const notificationHandlers: NotificationHandlers<ProtocolCatalogue> = {}
    registerRaftStep(notificationHandlers, () => node, logger)
    const port = previous === undefined ? 0 : Number(previous.slice(previous.lastIndexOf(':') + 1))
    const server = await RpcServer.listen({
      catalogue: protocolCatalogue,
      handlers: {},
      notificationHandlers,
      secret,
      serverId: id,
      host: '127.0.0.1',
      port,
      logger,
    })
    const transport = new RpcRaftTransport({ id, secret, logger, reconnectMaxDelayMs: 200 })
    return {
      address: `127.0.0.1:${server.address().port}`,
      transport,
      attach: (n) => {
        node = n
      },
      close: () => server.close(),
    }
  }
}

export interface ClusterOptions {
  tickMs?: number
  electionTicks?: number
  snapshotEntries?: number
  /** Entries kept behind each snapshot (the driver's default is 5,000). */
  catchUpEntries?: number
  /** WAL segment size (small values make compaction visible). */
  segmentBytes?: number
}

export interface Member {
  readonly id: NodeId
  readonly dir: string
  kv: KvStore
  storage: RaftStorage
  node: RaftNode
  endpoint: Endpoint
  running: boolean
}

export class TestCluster {
  readonly members = new Map<NodeId, Member>()
  private readonly addresses = new Map<NodeId, string>()
  private readonly logger: Logger
  private seq = 0

  private constructor(
    private readonly root: string,
    private readonly endpoints: EndpointFactory,
    private readonly options: ClusterOptions,
  ) {
    const level = process.env.TESSERA_TEST_LOG
    this.logger = level === undefined ? silentLogger() : createLogger({ component: 'raft-test', level })
  }

  /** Founds a group of `ids` (every founder bootstraps the same voters). */
  static async create(ids: NodeId[], endpoints: EndpointFactory, options: ClusterOptions = {}): Promise<TestCluster> {
    const root = await mkdtemp(path.join(tmpdir(), 'tessera-driver-'))
    const cluster = new TestCluster(root, endpoints, options)
    const made = new Map<NodeId, Endpoint>()
    for (const id of ids) {
      const endpoint = await endpoints(id, undefined)
      made.set(id, endpoint)
      cluster.addresses.set(id, endpoint.address)
    }
    for (const id of ids) await cluster.start(id, true, made.get(id))
    return cluster
  }

  addressOf(id: NodeId): string {
    return this.addresses.get(id)!
  }

  member(id: NodeId): Member {
    const m = this.members.get(id)
    if (m === undefined) throw new Error(`no member ${id}`)
    return m
  }

  running(): Member[] {
    return [...this.members.values()].filter((m) => m.running)
  }

  /** Starts (or restarts) `id` from its directory. */
  async start(id: NodeId, bootstrap: boolean, ready?: Endpoint): Promise<Member> {
    const dir = path.join(this.root, id)
    const endpoint = ready ?? (await this.endpoints(id, this.addresses.get(id)))
    this.addresses.set(id, endpoint.address)
    const storage = await RaftStorage.open(new NodeDisk(dir), {
      logger: this.logger,
      ...(this.options.segmentBytes === undefined ? {} : { segmentBytes: this.options.segmentBytes }),
    })
    const kv = new KvStore()
    const node = await RaftNode.start({
      id,
      storage,
      transport: endpoint.transport,
      stateMachine: kv,
      peers: Object.fromEntries(this.addresses),
      bootstrap,
      logger: this.logger.child({ node: id }),
      tickMs: this.options.tickMs ?? 10,
      electionTicks: this.options.electionTicks ?? 10,
      snapshotEntries: this.options.snapshotEntries ?? 10_000,
      ...(this.options.catchUpEntries === undefined ? {} : { catchUpEntries: this.options.catchUpEntries }),
    })
    endpoint.attach(node)
    const member: Member = { id, dir, kv, storage, node, endpoint, running: true }
    this.members.set(id, member)
    return member
  }

  async stop(id: NodeId): Promise<void> {
    const m = this.member(id)
    if (!m.running) return
    m.running = false
    m.endpoint.attach(undefined)
    await m.node.stop()
    await m.endpoint.close()
  }

  async restart(id: NodeId): Promise<Member> {
    await this.stop(id)
    return this.start(id, false)
  }

  /** Waits until one running member leads and every running voter agrees; returns it. */
  async leader(timeoutMs = 5000): Promise<Member> {
    let found: Member | undefined
    await waitFor(() => {
      const live = this.running()
      const leaders = live.filter((m) => m.node.isLeader())
      if (leaders.length !== 1) return false
      const id = leaders[0]!.id
      const voters = new Set(leaders[0]!.node.status().conf.voters)
      if (!live.every((m) => !voters.has(m.id) || m.node.leaderId() === id)) return false
      found = leaders[0]
      return true
    }, timeoutMs, 'a leader every running voter agrees on')
    return found!
  }

  /** Puts key=value through the current leader (re-finding it after a leader change). */
  async put(key: string, value: string, timeoutMs = 5000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const leader = await this.leader(Math.max(deadline - Date.now(), 1))
      try {
        return await leader.node.propose(encodeKvCommand({ op: 'put', key, value, client: 'cluster', seq: ++this.seq }), {
          timeoutMs: Math.max(deadline - Date.now(), 1),
        })
      } catch (err) {
        if (Date.now() >= deadline) throw err
      }
    }
  }

  /** Waits until every running member has applied at least `index`. */
  async applied(index: number, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.running().every((m) => m.node.appliedIndex() >= index), timeoutMs, `every member applied ${index}`)
  }

  async close(): Promise<void> {
    for (const m of this.members.values()) {
      await this.stop(m.id).catch(() => undefined)
    }
    await rm(this.root, { recursive: true, force: true })
  }
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
