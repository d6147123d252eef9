/**
 * The meta members a client knows, one RpcClient each (dialled lazily, kept for reuse), and the
 * client's best guess of the leader: the last NOT_LEADER hint or the member that last answered
 * a leader-only call; without one, the members are tried in turn.
 */
import {
  RpcClient, TesseraError, metaCatalogue, silentLogger, type Logger, type MetaCatalogue, type TlsOptions,
} from '@tessera/protocol'

export interface MemberSetOptions {
  secret: Uint8Array
  clientId: string
  logger?: Logger
  tls?: TlsOptions
}

export class MemberSet {
  private readonly known: string[] = []
  private readonly clients = new Map<string, RpcClient<MetaCatalogue>>()
  private readonly logger: Logger
  private leader: string | undefined
  private cursor = 0
  private closed = false

  constructor(addresses: readonly string[], private readonly options: MemberSetOptions) {
    if (addresses.length === 0) throw new TesseraError('EINVAL', 'no meta address given')
    for (const address of addresses) this.add(address)
    this.logger = options.logger ?? silentLogger()
  }

  addresses(): string[] {
    return [...this.known]
  }

  /** The member to try next: the presumed leader, else the next in turn. */
  current(): string {
    return this.leader ?? this.known[this.cursor % this.known.length]!
  }

  /** A member answered as leader, or a NOT_LEADER hint named one. */
  noteLeader(address: string): void {
    this.add(address)
    this.leader = address
  }

  /** `address` failed or is not the leader: move on to the next member. */
  noteFailure(address: string): void {
    if (this.leader === address) this.leader = undefined
    if (this.known[this.cursor % this.known.length] === address) this.cursor++
  }

  add(address: string): void {
    if (!this.known.includes(address)) this.known.push(address)
  }

  /** The connection to `address` (created on first use; it reconnects by itself). */
  client(address: string): RpcClient<MetaCatalogue> {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'meta client closed')
    let client = this.clients.get(address)
    if (client === undefined) {
      client = new RpcClient({
        url: /^wss?:\/\//.test(address) ? address : `${this.options.tls === undefined ? 'ws' : 'wss'}://${address}`,
        catalogue: metaCatalogue,
        secret: this.options.secret,
        clientId: this.options.clientId,
        logger: this.logger,
        reconnectInitialDelayMs: 20,
        reconnectMaxDelayMs: 500,
        ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      })
      this.clients.set(address, client)
    }
    return client
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.clients.values()].map((c) => c.close().catch(() => undefined)))
    this.clients.clear()
  }
}
