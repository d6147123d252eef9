/**
 * One RpcClient per downstream chunk server, shared by every write this server forwards there.
 * A client that has been unused and disconnected for a while is closed, so a dead address does
 * not keep a reconnect loop alive for ever.
 */
import { RpcClient, TesseraError, chunkServerCatalogue, type ChunkServerCatalogue, type Logger, type TlsOptions } from '@tessera/protocol'

export interface DownstreamPoolOptions {
  secret: Uint8Array
  /** The id this server proves to the servers it forwards to. */
  clientId: string
  logger: Logger
  /** How long to wait for a connection to a downstream server before giving up on it. */
  connectTimeoutMs: number
  /** Close clients idle (and disconnected) for this long. */
  idleMs?: number
  tls?: TlsOptions
}

interface PooledClient {
  client: RpcClient<ChunkServerCatalogue>
  lastUsedMs: number
  users: number
}

export class DownstreamPool {
  private readonly clients = new Map<string, PooledClient>()
  private readonly sweeper: NodeJS.Timeout
  private closed = false

  constructor(private readonly options: DownstreamPoolOptions) {
    const idleMs = options.idleMs ?? 60_000
    this.sweeper = setInterval(() => this.sweep(idleMs), Math.max(1000, idleMs / 2))
    this.sweeper.unref()
  }

  /**
   * A connected client for `address` (host:port), held until `release`. Rejects with
   * UNAVAILABLE when no connection comes up within the connect timeout.
   */
  async acquire(address: string): Promise<RpcClient<ChunkServerCatalogue>> {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'downstream pool closed')
    let pooled = this.clients.get(address)
    if (pooled === undefined) {
      const scheme = this.options.tls === undefined ? 'ws' : 'wss'
      pooled = {
        client: new RpcClient({
          url: `${scheme}://${address}`,
          catalogue: chunkServerCatalogue,
          secret: this.options.secret,
          clientId: this.options.clientId,
          logger: this.options.logger,
          ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
        }),
        lastUsedMs: Date.now(),
        users: 0,
      }
      this.clients.set(address, pooled)
    }
    pooled.users += 1
    pooled.lastUsedMs = Date.now()
    try {
      await pooled.client.ready(this.options.connectTimeoutMs)
    } catch (err) {
      pooled.users -= 1
      throw err
    }
    return pooled.client
  }

  release(address: string): void {
    const pooled = this.clients.get(address)
    if (pooled === undefined) return
    pooled.users = Math.max(0, pooled.users - 1)
    pooled.lastUsedMs = Date.now()
  }

  get size(): number {
    return this.clients.size
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.sweeper)
    const clients = [...this.clients.values()]
    this.clients.clear()
    await Promise.all(clients.map((p) => p.client.close()))
  }

  private sweep(idleMs: number): void {
    const now = Date.now()
    for (const [address, pooled] of this.clients) {
      if (pooled.users === 0 && !pooled.client.connected && now - pooled.lastUsedMs > idleMs) {
        this.clients.delete(address)
        void pooled.client.close()
      }
    }
  }
}
