/**
 * ChunkServer: the network side of a chunk server. One port serves
 *   - WebSocket RPC (chunkServerCatalogue), peers authenticated with the cluster secret, every
 *     block operation further gated by a block access token signed by meta (DESIGN decision 8);
 *   - plain HTTP /healthz and /metrics (Prometheus text).
 *
 * Writes are relayed down the replication chain while they arrive (block-write.ts). The server
 * holds no meta protocol: what meta must learn goes out through ChunkServerComponents, and the
 * daemon pulls blockReport() and usage() for registration and heartbeats.
 */
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  RpcServer, TesseraError, asTesseraError, chunkServerCatalogue, silentLogger, verifyBlockToken,
  type BlockOp, type ChunkServerCatalogue, type Handlers, type Logger, type PeerInfo, type TlsOptions,
} from '@tessera/protocol'
import { STREAM_READ_BYTES } from '../store/block-file.js'
import type { BlockStore } from '../store/block-store.js'
import type { StoreUsage } from '../store/space.js'
import { adminRequestListener } from './admin-http.js'
import { serveBlockWrite, type BlockWriteDeps } from './block-write.js'
import { noComponents, type ChunkServerComponents } from './components.js'
import { DownstreamPool } from './downstream-pool.js'
import { ChunkMetrics } from './metrics.js'

export interface ChunkServerOptions {
  /** This server's node id (proved to peers in the handshake). */
  id: string
  /** The cluster secret: authenticates peers and verifies block tokens. */
  secret: Uint8Array
  /** An open block store. The server does not own it: close it after the server. */
  store: BlockStore
  /** Listen address; default 127.0.0.1 and port 0 (any free port). */
  host?: string
  port?: number
  /** host:port other servers and clients reach this one at; default the listening address. */
  advertiseAddress?: string
  logger?: Logger
  components?: Partial<ChunkServerComponents>
  /** Wall clock in ms for token expiry; default Date.now. */
  clock?: () => number
  /** How long to wait for a connection to the next server of a chain; default 3 s. */
  downstreamConnectTimeoutMs?: number
  /** Whole-call timeout of a forwarded write; default 60 s. */
  downstreamTimeoutMs?: number
  /** RPC liveness pings; default 5 s. */
  pingIntervalMs?: number
  /** TLS options for connections to downstream servers (wss) when the cluster uses TLS. */
  downstreamTls?: TlsOptions
}

/** Read buffers kept for the next block.read (one per read at a time; more reads allocate). */
const MAX_IDLE_READ_SCRATCH = 4

export class ChunkServer {
  readonly metrics = new ChunkMetrics()
  private readonly components: ChunkServerComponents
  private readonly inflight = new Set<Promise<unknown>>()
  /** Idle buffers block.read streams a block through (see ReadStreamOptions.scratch). */
  private readonly readScratch: Buffer[] = []
  private rpc: RpcServer<ChunkServerCatalogue> | undefined
  private closing: Promise<void> | undefined

  private constructor(
    private readonly options: ChunkServerOptions,
    private readonly log: Logger,
    private readonly http: HttpServer,
    private readonly pool: DownstreamPool,
    /** host:port this server is reached at, as it names itself in copies lists. */
    readonly address: string,
  ) {
    this.components = { ...noComponents, ...options.components }
  }

  /** Starts listening; resolves once the port is open. */
  static async start(options: ChunkServerOptions): Promise<ChunkServer> {
    const log = (options.logger ?? silentLogger()).child({ chunk: options.id })
    let server: ChunkServer | undefined
    const http = createServer(adminRequestListener({
      health: () => server?.health() ?? { healthy: false, body: { status: 'starting' } },
      metrics: () => server?.metricsText() ?? '',
    }))
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        http.off('error', reject)
        resolve()
      })
    })
    http.on('error', (err) => log.error({ err }, 'http server error'))
    const listening = http.address() as AddressInfo
    const address = options.advertiseAddress ?? formatAddress(listening.address, listening.port)
    const pool = new DownstreamPool({
      secret: options.secret,
      clientId: options.id,
      logger: log,
      connectTimeoutMs: options.downstreamConnectTimeoutMs ?? 3000,
      ...(options.downstreamTls === undefined ? {} : { tls: options.downstreamTls }),
    })
    server = new ChunkServer(options, log, http, pool, address)
    try {
      server.rpc = await RpcServer.listen({
        catalogue: chunkServerCatalogue,
        handlers: server.handlers(),
        secret: options.secret,
        serverId: options.id,
        logger: log,
        server: http,
        pingIntervalMs: options.pingIntervalMs ?? 5000,
      })
    } catch (err) {
      await pool.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      throw err
    }
    log.info({ address, blocks: options.store.usage().blockCount }, 'chunk server listening')
    return server
  }

  get id(): string {
    return this.options.id
  }

  /** The port actually listened on. */
  get port(): number {
    return (this.http.address() as AddressInfo).port
  }

  /** Every block key held: the block report for meta. */
  blockReport(): string[] {
    return this.options.store.list()
  }

  usage(): StoreUsage {
    return this.options.store.usage()
  }

  metricsText(): string {
    return this.metrics.render(this.options.store.usage())
  }

  /**
   * Stops serving: closes every connection (writes in progress upstream of us fail; those we
   * were forwarding are cancelled downstream), waits for handlers to finish, closes the port.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown()
    return this.closing
  }

  private handlers(): Handlers<ChunkServerCatalogue> {
    const store = this.options.store
    return {
      'block.write': (request, context) => this.instrument('block.write', async () => {
        const started = performance.now()
        this.checkToken(request.token, request.key, 'write', context.peer)
        const outcome = await serveBlockWrite(this.writeDeps(), request, context.requestStream, context.signal)
        this.metrics.bytesWritten.inc({}, request.length)
        this.log.debug({ key: request.key, chain: request.chain.length, ms: outcome.timeline }, 'block write timeline')
        if (!outcome.commit.existed) this.notify('onBlockStored', request.key)
        if (outcome.downstreamError !== undefined) {
          this.metrics.downstreamFailures.inc({ code: outcome.downstreamError.code })
          this.log.warn({ key: request.key, chain: request.chain, stored: outcome.response.stored, err: outcome.downstreamError.message },
            'block stored here; a server down the chain failed')
        }
        if (request.chain.length > 0) this.metrics.chainLatency.observe((performance.now() - started) / 1000)
        return outcome.response
      }),

      'block.read': (request, context) => this.instrument('block.read', async () => {
        this.checkToken(request.token, request.key, 'read', context.peer)
        let sent = 0
        // Each piece is a view of the scratch buffer: write() copies it before it resolves.
        const scratch = this.readScratch.pop() ?? Buffer.allocUnsafeSlow(STREAM_READ_BYTES)
        try {
          for await (const piece of store.readStream(request.key, { offset: request.offset, length: request.length, scratch })) {
            await context.responseStream.write(piece)
            sent += piece.byteLength
            this.metrics.bytesRead.inc({}, piece.byteLength)
          }
        } catch (err) {
          if (err instanceof TesseraError && err.code === 'CHECKSUM_MISMATCH') {
            this.log.warn({ key: request.key, err: err.message }, 'damaged block found on read; quarantined')
            this.notify('onCorruptBlock', request.key)
          }
          throw err
        } finally {
          if (this.readScratch.length < MAX_IDLE_READ_SCRATCH) this.readScratch.push(scratch)
        }
        return { length: sent }
      }),

      'block.delete': (request, context) => this.instrument('block.delete', async () => {
        this.checkToken(request.token, request.key, 'delete', context.peer)
        const deleted = await store.delete(request.key)
        if (deleted) this.notify('onBlockDeleted', request.key)
        return { deleted }
      }),

      'block.stat': (request, context) => this.instrument('block.stat', async () => {
        this.checkToken(request.token, request.key, 'read', context.peer)
        const stat = store.stat(request.key)
        return stat === undefined ? { exists: false } : { exists: true, length: stat.length }
      }),

      'chunk.info': () => this.instrument('chunk.info', async () => {
        const { capacityBytes, usedBytes, freeBytes, reservedBytes, blockCount } = store.usage()
        return { id: this.id, address: this.address, usage: { capacityBytes, usedBytes, freeBytes, reservedBytes, blockCount } }
      }),
    }
  }

  private writeDeps(): BlockWriteDeps {
    return {
      store: this.options.store,
      pool: this.pool,
      selfAddress: this.address,
      downstreamTimeoutMs: this.options.downstreamTimeoutMs ?? 60_000,
    }
  }

  /** Runs a handler body: counts the call and its failure, and tracks it for close(). */
  private async instrument<T>(method: string, run: () => Promise<T>): Promise<T> {
    this.metrics.requests.inc({ method })
    const work = run()
    this.inflight.add(work)
    try {
      return await work
    } catch (err) {
      const error = asTesseraError(err)
      this.metrics.errors.inc({ method, code: error.code })
      if (error.code !== 'BAD_TOKEN') this.log.debug({ method, code: error.code, err: error.message }, 'call failed')
      throw error
    } finally {
      this.inflight.delete(work)
    }
  }

  /** Verifies a block token; a refusal is BAD_TOKEN and exactly one log line. */
  private checkToken(token: string | undefined, key: string, op: BlockOp, peer: PeerInfo): void {
    try {
      verifyBlockToken(this.options.secret, token, { key, op, nowMs: (this.options.clock ?? Date.now)() })
    } catch (err) {
      const error = asTesseraError(err)
      this.log.warn({ peer: peer.id, address: peer.address, key, op, reason: error.message }, 'refused block access: bad token')
      throw error
    }
  }

  /** Calls a component callback; a throwing one is logged, never propagated. */
  private notify(callback: keyof ChunkServerComponents, key: string): void {
    try {
      this.components[callback](key)
    } catch (err) {
      this.log.error({ err, callback, key }, 'component callback failed')
    }
  }

  private health(): { healthy: boolean; body: Record<string, unknown> } {
    const usage = this.options.store.usage()
    const healthy = this.closing === undefined
    return {
      healthy,
      body: { status: healthy ? 'ok' : 'closing', id: this.options.id, address: this.address, blocks: usage.blockCount, freeBytes: usage.freeBytes },
    }
  }

  private async shutDown(): Promise<void> {
    await this.rpc?.close()
    // Forwarded writes fail at once instead of waiting for their timeouts.
    await this.pool.close()
    await waitBounded([...this.inflight], 5000)
    this.http.closeAllConnections()
    await new Promise<void>((resolve) => this.http.close(() => resolve()))
    this.log.info('chunk server closed')
  }
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Waits for `work` to settle, at most `ms`. */
async function waitBounded(work: Promise<unknown>[], ms: number): Promise<void> {
  if (work.length === 0) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(work),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) }),
  ])
  clearTimeout(timer)
}
