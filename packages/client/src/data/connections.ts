/** One RpcClient per chunk server address, opened on first use and closed together. */
import {
  RpcClient, TesseraError, chunkServerCatalogue, serverAddressSchema, silentLogger, type ChunkServerCatalogue, type Logger,
} from '@tessera/protocol'

export interface ChunkConnectionsOptions {
  secret: Uint8Array
  clientId: string
  logger?: Logger
  /** How long to wait for a server to accept a connection before treating it as down; default 3 s. */
  connectTimeoutMs?: number
}

export class ChunkConnections {
  private readonly clients = new Map<string, RpcClient<ChunkServerCatalogue>>()
  private readonly logger: Logger
  private closed = false
  readonly connectTimeoutMs: number

  constructor(private readonly options: ChunkConnectionsOptions) {
    this.logger = options.logger ?? silentLogger()
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3000
  }

  /** A connected client for `address`; UNAVAILABLE when it does not connect in time. */
  async connect(address: string): Promise<RpcClient<ChunkServerCatalogue>> {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'chunk connections closed')
    let client = this.clients.get(address)
    if (client === undefined) {
      const parsed = serverAddressSchema.safeParse(address, 'chunk server address')
      if (!parsed.ok) throw new TesseraError('EINVAL', `not a chunk server address: ${JSON.stringify(address.slice(0, 64))}`)
      client = new RpcClient({
        url: `ws://${address}`, catalogue: chunkServerCatalogue, secret: this.options.secret,
        clientId: this.options.clientId, logger: this.logger,
      })
      this.clients.set(address, client)
    }
    await client.ready(this.connectTimeoutMs)
    return client
  }

  async close(): Promise<void> {
    this.closed = true
    const clients = [...this.clients.values()]
    this.clients.clear()
    await Promise.all(clients.map((c) => c.close()))
  }
}
