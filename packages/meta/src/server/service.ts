/**
 * MetaService: one member of the metadata Raft group, composed from its parts:
 * NodeDisk + RaftStorage in `<data>/raft`, the Namespace as the RaftStateMachine, a RaftNode
 * over RpcRaftTransport, and one HTTP server that answers /healthz and /metrics and carries
 * the RpcServer (members' `raft.step` and clients' meta.* calls) on the same port.
 *
 * Two steps, so that members started on port 0 can learn each other's addresses first:
 * `MetaService.listen(options)` binds the port, `service.start({peers})` opens the log and runs
 * the node. `stop()` undoes both.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import {
  RpcServer, TesseraError, clusterCatalogue, mergeCatalogues, metaCatalogue, protocolCatalogue, silentLogger,
  type Logger, type NodeId, type NotificationHandlers,
} from '@tessera/protocol'
import { NodeDisk, RaftNode, RaftStorage, RpcRaftTransport, registerRaftStep, type RaftNodeOptions } from '@tessera/raft'
import type { NamespaceOptions, RetireReply } from '../fsm/index.js'
import { createAdminServer, type Health } from './admin-http.js'
import { DataDirLock } from './data-lock.js'
import { BlockGc, DEFAULT_GC, PlacementPins, type GcSettings } from './gc.js'
import { ChunkLiveness } from './chunk-liveness.js'
import { DEFAULT_DATA_PATH, clusterHandlers, type ClusterDeps, type DataPathSettings } from './cluster-handlers.js'
import { metaHandlers, proposeCommand, wallClock, type ServedCatalogue } from './handlers.js'
import { MetricsRegistry } from './metrics.js'
import { NamespaceStateMachine } from './state-machine.js'

export interface MetaServiceOptions {
  id: NodeId
  /** The member's data directory; the Raft log and snapshots live in `<dataDir>/raft`. */
  dataDir: string
  /** Default 127.0.0.1. */
  host?: string
  /** Default 0 (the kernel picks). */
  port?: number
  /** host:port that peers and clients reach this member at; default the bound address. */
  advertise?: string
  /** The cluster secret (>= 32 bytes). */
  secret: Uint8Array
  logger?: Logger
  /** Fixed at format time; every member must use the same values. */
  namespace?: Partial<NamespaceOptions>
  raft?: Pick<RaftNodeOptions, 'tickMs' | 'electionTicks' | 'heartbeatTicks' | 'snapshotEntries'>
  /** How often the leader proposes expireSessions (default 10 s). */
  expireIntervalMs?: number
  /** How long meta.transferLeader waits for the new leader (default 5 s). */
  transferWaitMs?: number
  /** The data path: fewest copies, chunk server timeout, token lifetime. */
  dataPath?: Partial<DataPathSettings>
  /** Garbage collection of unreferenced blocks: grace period, pass interval, batch sizes. */
  gc?: Partial<GcSettings>
}

export interface StartOptions {
  /** Every founding member (this one included, or added) and its address. */
  peers: Record<NodeId, string>
  /** Start empty, as a member the leader will add (`meta.members add`), instead of founding. */
  join?: boolean
}

/** Everything a member serves: raft.step between members, meta.* and the cluster map's calls. */
const MEMBER_CATALOGUE: ServedCatalogue = mergeCatalogues(mergeCatalogues(protocolCatalogue, metaCatalogue), clusterCatalogue)
type MemberCatalogue = ServedCatalogue

const ROLES = ['follower', 'preCandidate', 'candidate', 'leader'] as const

export class MetaService {
  readonly id: NodeId
  readonly address: string
  readonly stateMachine: NamespaceStateMachine
  private readonly logger: Logger
  private node: RaftNode | undefined
  private lock: DataDirLock | undefined
  private expireTimer: NodeJS.Timeout | undefined
  private livenessTimer: NodeJS.Timeout | undefined
  private gc: BlockGc | undefined
  private ledInTerm = 0
  private readonly markingDown = new Set<string>()
  private stopped = false
  private failed = false

  private constructor(
    private readonly options: MetaServiceOptions,
    private readonly http: Server,
    private readonly rpc: RpcServer<MemberCatalogue>,
    address: string,
    stateMachine: NamespaceStateMachine,
    private readonly deps: ClusterDeps,
    private readonly metrics: MetricsRegistry,
  ) {
    this.id = options.id
    this.address = address
    this.stateMachine = stateMachine
    this.logger = options.logger ?? silentLogger()
  }

  /** Binds the port and serves /healthz, /metrics and RPC (calls fail UNAVAILABLE until start). */
  static async listen(options: MetaServiceOptions): Promise<MetaService> {
    const logger = options.logger ?? silentLogger()
    const metrics = new MetricsRegistry()
    const applySeconds = metrics.histogram('tessera_meta_apply_seconds', 'Time to apply one committed command to the namespace')
    const stateMachine = new NamespaceStateMachine(options.namespace ?? {}, logger, (s) => applySeconds.observe(s))
    const dataPath: DataPathSettings = { ...DEFAULT_DATA_PATH, ...options.dataPath }
    const gc: GcSettings = { ...DEFAULT_GC, ...options.gc }
    let service: MetaService | undefined
    const deps: ClusterDeps = {
      node: () => {
        const node = service?.node
        if (node === undefined || service!.stopped) throw new TesseraError('UNAVAILABLE', `meta member ${options.id} is not running`)
        return node
      },
      stateMachine,
      address: '',
      proposals: metrics.counter('tessera_meta_proposals_total', 'Commands this member proposed as leader'),
      proposeStages: {
        proposing: metrics.histogram('tessera_meta_propose_encode_seconds', 'From a change request\'s arrival in its handler to its entry handed to Raft'),
        replicating: metrics.histogram('tessera_meta_propose_commit_seconds', 'From a change handed to Raft to the state machine\'s answer (replicate, fsync, commit, apply)'),
      },
      now: wallClock,
      transferWaitMs: options.transferWaitMs ?? 5000,
      secret: options.secret,
      liveness: new ChunkLiveness(),
      settings: dataPath,
      logger,
      clockMs: Date.now,
      random: Math.random,
      pins: new PlacementPins(dataPath.tokenTtlMs + gc.pinMarginMs),
      gcGraceMs: gc.graceMs,
    }
    const http = createAdminServer({
      health: () => service?.health() ?? { healthy: false, body: { status: 'starting' } },
      metrics: () => service?.metrics.render() ?? '',
    })
    const catalogue = MEMBER_CATALOGUE
    const notificationHandlers: NotificationHandlers<typeof catalogue> = {}
    registerRaftStep(notificationHandlers, () => service?.node, logger)
    const rpc = await RpcServer.listen<MemberCatalogue>({
      catalogue,
      handlers: { ...metaHandlers(deps), ...clusterHandlers(deps) },
      notificationHandlers,
      secret: options.secret,
      serverId: options.id,
      logger,
      server: http,
    })
    const host = options.host ?? '127.0.0.1'
    try {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject)
        http.listen(options.port ?? 0, host, () => {
          http.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      await rpc.close()
      const busy = (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
      throw new TesseraError(busy ? 'EBUSY' : 'EIO', `cannot listen on ${formatAddress(host, options.port ?? 0)}: ${(err as Error).message}`)
    }
    const bound = http.address() as AddressInfo
    const address = options.advertise ?? formatAddress(host, bound.port)
    deps.address = address
    service = new MetaService(options, http, rpc, address, stateMachine, deps, metrics)
    service.registerGauges()
    return service
  }

  /** Opens the Raft log in `<dataDir>/raft` and starts the member. */
  async start(start: StartOptions): Promise<void> {
    if (this.node !== undefined || this.stopped) throw new Error('MetaService.start: already started or stopped')
    const peers = { ...start.peers }
    if (!start.join && peers[this.id] === undefined) peers[this.id] = this.address
    const lock = await DataDirLock.acquire(this.options.dataDir)
    let storage: RaftStorage
    try {
      storage = await RaftStorage.open(new NodeDisk(join(this.options.dataDir, 'raft')), { logger: this.logger })
    } catch (err) {
      await lock.release()
      throw err
    }
    const transport = new RpcRaftTransport({ id: this.id, secret: this.options.secret, logger: this.logger })
    try {
      this.node = await RaftNode.start({
        id: this.id,
        storage,
        transport,
        stateMachine: this.stateMachine,
        peers,
        bootstrap: start.join !== true,
        logger: this.logger,
        ...this.options.raft,
      })
    } catch (err) {
      await transport.close()
      await storage.close()
      await lock.release()
      throw err
    }
    this.lock = lock
    this.node.onFatal((err: Error) => {
      this.failed = true
      this.logger.error({ err }, 'meta: raft node failed; this member no longer serves')
    })
    const interval = this.options.expireIntervalMs ?? 10_000
    this.expireTimer = setInterval(() => this.expireSessions(), interval)
    this.expireTimer.unref()
    this.livenessTimer = setInterval(() => this.checkChunkLiveness(), 1000)
    this.livenessTimer.unref()
    this.gc = new BlockGc({
      namespace: () => this.stateMachine.namespace,
      isLeader: () => !this.stopped && this.node?.isLeader() === true,
      propose: async (req) => (await proposeCommand(this.deps, { kind: 'system', time: wallClock(), req })) as RetireReply,
      clockMs: Date.now,
      term: () => this.node?.status().term ?? 0,
      pins: this.deps.pins,
      logger: this.logger,
      settings: { ...DEFAULT_GC, ...this.options.gc },
    })
    this.gc.registerMetrics(this.metrics)
    this.gc.start()
    this.logger.info({ id: this.id, address: this.address, peers, join: start.join === true }, 'meta: member started')
  }

  /** The running Raft node (undefined before start). */
  get raft(): RaftNode | undefined {
    return this.node
  }

  /** Stops the node (in-flight proposals fail UNAVAILABLE, so clients retry elsewhere), then the server. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.expireTimer !== undefined) clearInterval(this.expireTimer)
    if (this.livenessTimer !== undefined) clearInterval(this.livenessTimer)
    this.gc?.stop()
    this.stateMachine.lockWaiters.wakeAll()
    await this.node?.stop()
    await this.lock?.release()
    await this.rpc.close()
    this.http.closeAllConnections()
    await new Promise<void>((resolve) => this.http.close(() => resolve()))
    this.logger.info({ id: this.id }, 'meta: member stopped')
  }

  health(): Health {
    const node = this.node
    if (node === undefined || this.stopped || this.failed) {
      return { healthy: false, body: { id: this.id, status: this.failed ? 'failed' : this.stopped ? 'stopped' : 'starting' } }
    }
    const status = node.status()
    const body = { id: this.id, role: status.role, term: status.term, leader: status.leader, commit: status.commit, applied: node.appliedIndex() }
    return { healthy: status.leader !== '', body: { status: status.leader !== '' ? 'ok' : 'no leader', ...body } }
  }

  private expireSessions(): void {
    if (this.node === undefined || !this.node.isLeader() || this.stopped) return
    proposeCommand(this.deps, { kind: 'system', time: wallClock(), req: { op: 'expireSessions' } }).then(
      (value) => {
        const expired = (value as { expired: number }).expired
        if (expired > 0) this.logger.info({ expired }, 'meta: idle sessions expired')
      },
      (err: Error) => this.logger.debug({ err: err.message }, 'meta: expireSessions not applied'),
    )
  }

  /**
   * On the leader: a chunk server not heard from within the timeout is declared down (one log
   * line; the state change goes through the log, the heartbeat times never do). A new leader
   * first gives every server a full timeout.
   */
  private checkChunkLiveness(): void {
    const node = this.node
    if (node === undefined || this.stopped || !node.isLeader()) return
    const { liveness, settings } = this.deps
    const now = Date.now()
    const servers = this.stateMachine.namespace.chunkServers()
    const term = node.status().term
    if (term !== this.ledInTerm) {
      this.ledInTerm = term
      // GC spares what a predecessor may have placed, from (about) now on.
      this.deps.pins.observeTerm(term, now)
      liveness.reset(servers.filter((s) => s.state !== 'down').map((s) => s.id), now)
      return
    }
    for (const server of servers) {
      if (server.state === 'down' || this.markingDown.has(server.id) || liveness.isLive(server.id, now, settings.chunkTimeoutMs)) continue
      this.markingDown.add(server.id)
      const silentMs = now - (liveness.lastHeardMs(server.id) ?? now)
      proposeCommand(this.deps, { kind: 'system', time: wallClock(), req: { op: 'chunkStateChange', id: server.id, state: 'down' } }).then(
        () => this.logger.warn({ chunk: server.id, address: server.address, silentMs }, 'meta: chunk server missed its heartbeats; marked down'),
        (err: Error) => this.logger.debug({ chunk: server.id, err: err.message }, 'meta: marking a chunk server down failed'),
      ).finally(() => this.markingDown.delete(server.id))
    }
  }

  private registerGauges(): void {
    const metrics = this.metrics
    const status = () => this.node?.status()
    metrics.gauge('tessera_meta_raft_term', 'Current Raft term', () => status()?.term ?? 0)
    metrics.gauge('tessera_meta_raft_commit_index', 'Highest log index known committed', () => status()?.commit ?? 0)
    metrics.gauge('tessera_meta_raft_applied_index', 'Highest log index applied to the namespace', () => this.node?.appliedIndex() ?? 0)
    metrics.gauge('tessera_meta_raft_last_index', 'Highest index in the local log', () => status()?.lastIndex ?? 0)
    metrics.gauge('tessera_meta_raft_snapshot_index', 'Index of the latest snapshot', () => status()?.snapshotIndex ?? 0)
    metrics.gauge('tessera_meta_raft_role', 'This member\'s Raft role (1 for the current one)', () => {
      const role = status()?.role
      return ROLES.map((r) => ({ labels: { role: r }, value: r === role ? 1 : 0 }))
    })
    metrics.gauge('tessera_meta_sessions', 'Client sessions open in the applied state', () => this.stateMachine.sessions)
    metrics.gauge('tessera_meta_inodes', 'Inodes in the applied namespace', () => {
      const statfs = this.stateMachine.namespace.read({ op: 'statfs' })
      return statfs.ok ? statfs.value.inodes : 0
    })
  }
}

/** host:port, with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
