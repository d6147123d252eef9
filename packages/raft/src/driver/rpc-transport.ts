/**
 * RpcRaftTransport: carries Raft messages between members as `raft.step` notifications over
 * the project's authenticated RPC connections (one RpcClient per peer, dialled lazily).
 *
 * Sending is fire-and-forget, as Raft wants it: a message to a peer that is not connected, or
 * whose socket already holds more than `maxBufferedBytes` unwritten, is dropped and counted
 * (the leader's heartbeats and retries recover). Nothing is queued without bound: RpcClient's
 * notify() itself drops while disconnected, and the back-pressure check covers the socket.
 *
 * The receiving half is `raftStepHandler` / `registerRaftStep`: the daemon that owns the
 * RpcServer puts the handler into its notification table and attaches the node when it has
 * started. Each batch is checked against the authenticated peer: a member may only speak for
 * itself (a message whose `from` is not the connection's proven id is dropped).
 */
import {
  LIMITS,
  RpcClient,
  protocolCatalogue,
  silentLogger,
  type Logger,
  type NodeId,
  type NotificationHandlers,
  type PeerConnection,
  type ProtocolCatalogue,
  type RaftMessage,
  type TlsOptions,
} from '@tessera/protocol'
import type { RaftTransport } from './transport.js'

export interface RpcRaftTransportOptions {
  /** Our member id: the client id we prove to peers. */
  id: NodeId
  /** The cluster secret (>= 32 bytes). */
  secret: Uint8Array
  logger?: Logger
  /** Drop messages to a peer while its socket holds more than this many unwritten bytes (default 4 MiB). */
  maxBufferedBytes?: number
  /** Cap on the reconnect back-off (default 1 s: a restarted member should rejoin quickly). */
  reconnectMaxDelayMs?: number
  /** Use wss:// with these options for addresses given as host:port. */
  tls?: TlsOptions
}

export interface RaftTransportStats {
  /** Messages handed to a live connection. */
  sent: number
  /** Messages dropped: peer unknown, not connected, or back-pressured. */
  dropped: number
  /** Notifications (batches) sent. */
  batches: number
}

/** Keeps one notification well under the frame limit a receiver enforces. */
const MAX_BATCH_BYTES = Math.floor(LIMITS.maxFrameBytes / 2)
/** Envelope fields of one message, estimated generously. */
const MESSAGE_OVERHEAD_BYTES = 128
const ENTRY_OVERHEAD_BYTES = 24

interface Peer {
  address: string
  client: RpcClient<ProtocolCatalogue> | undefined
  /** The address cannot be dialled (malformed): drop until it changes. */
  undialable: boolean
}

export class RpcRaftTransport implements RaftTransport {
  private readonly peers = new Map<NodeId, Peer>()
  private readonly logger: Logger
  private readonly maxBufferedBytes: number
  private readonly closing = new Set<Promise<void>>()
  private readonly counters: RaftTransportStats = { sent: 0, dropped: 0, batches: 0 }
  private closed = false

  constructor(private readonly options: RpcRaftTransportOptions) {
    this.logger = options.logger ?? silentLogger()
    this.maxBufferedBytes = options.maxBufferedBytes ?? LIMITS.socketHighWaterBytes
  }

  send(messages: readonly RaftMessage[]): void {
    if (this.closed || messages.length === 0) return
    const byPeer = new Map<NodeId, RaftMessage[]>()
    for (const message of messages) {
      const list = byPeer.get(message.to)
      if (list === undefined) byPeer.set(message.to, [message])
      else list.push(message)
    }
    for (const [to, list] of byPeer) this.sendToPeer(to, list)
  }

  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    if (this.closed) return
    for (const [id, peer] of this.peers) {
      const address = peers.get(id)
      if (address === peer.address) continue
      this.dropClient(peer)
      if (address === undefined) this.peers.delete(id)
      else this.peers.set(id, { address, client: undefined, undialable: false })
    }
    for (const [id, address] of peers) {
      if (id === this.options.id || this.peers.has(id)) continue
      this.peers.set(id, { address, client: undefined, undialable: false })
    }
  }

  stats(): RaftTransportStats {
    return { ...this.counters }
  }

  /** True when a connection to `id` is up (for tests and status pages). */
  isConnected(id: NodeId): boolean {
    return this.peers.get(id)?.client?.connected ?? false
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const peer of this.peers.values()) this.dropClient(peer)
    this.peers.clear()
    await Promise.all([...this.closing])
  }

  private sendToPeer(to: NodeId, messages: RaftMessage[]): void {
    const peer = this.peers.get(to)
    if (peer === undefined) {
      this.counters.dropped += messages.length
      return
    }
    const client = peer.client ?? (peer.undialable ? undefined : this.dial(to, peer))
    if (client === undefined || !client.connected || client.bufferedBytes > this.maxBufferedBytes) {
      this.counters.dropped += messages.length
      return
    }
    for (const batch of splitBatches(messages)) {
      if (client.notify('raft.step', { messages: batch })) {
        this.counters.sent += batch.length
        this.counters.batches++
      } else {
        this.counters.dropped += batch.length
      }
    }
  }

  private dial(id: NodeId, peer: Peer): RpcClient<ProtocolCatalogue> | undefined {
    try {
      peer.client = new RpcClient({
        url: toUrl(peer.address, this.options.tls !== undefined),
        catalogue: protocolCatalogue,
        secret: this.options.secret,
        clientId: this.options.id,
        logger: this.logger,
        reconnectInitialDelayMs: 20,
        reconnectMaxDelayMs: this.options.reconnectMaxDelayMs ?? 1000,
        ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      })
      return peer.client
    } catch (err) {
      // A malformed address in the member list: say so once, and drop until the address changes.
      this.logger.warn({ peer: id, address: peer.address, err: (err as Error).message }, 'raft transport: cannot dial peer')
      peer.undialable = true
      return undefined
    }
  }

  private dropClient(peer: Peer): void {
    const client = peer.client
    if (client === undefined) return
    peer.client = undefined
    const closed: Promise<void> = client.close().catch(() => undefined).finally(() => this.closing.delete(closed))
    this.closing.add(closed)
  }
}

/** Splits one peer's messages into notifications within the count and byte limits, in order. */
export function splitBatches(messages: readonly RaftMessage[]): RaftMessage[][] {
  const batches: RaftMessage[][] = []
  let current: RaftMessage[] = []
  let bytes = 0
  for (const message of messages) {
    const size = estimateBytes(message)
    if (current.length > 0 && (current.length >= LIMITS.maxRaftBatch || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(message)
    bytes += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}

function estimateBytes(message: RaftMessage): number {
  switch (message.type) {
    case 'append': {
      let bytes = MESSAGE_OVERHEAD_BYTES
      for (const entry of message.entries) bytes += entry.data.byteLength + ENTRY_OVERHEAD_BYTES
      return bytes
    }
    case 'snapshot':
      return MESSAGE_OVERHEAD_BYTES + message.data.byteLength + 64 * LIMITS.maxMembers
    case 'heartbeat':
    case 'heartbeatResp':
      return MESSAGE_OVERHEAD_BYTES + message.context.byteLength
    default:
      return MESSAGE_OVERHEAD_BYTES
  }
}

function toUrl(address: string, secure: boolean): string {
  if (/^wss?:\/\//.test(address)) return address
  return `${secure ? 'wss' : 'ws'}://${address}`
}

// ------------------------------------------------------------------ the receiving half

/** What the receiving half hands batches to: a RaftNode (or anything with its step()). */
export interface RaftStepTarget {
  step(messages: readonly RaftMessage[]): void
}

/** A notification catalogue that carries `raft.step` as protocolCatalogue defines it. */
export type RaftStepCatalogue = {
  readonly methods: ProtocolCatalogue['methods']
  readonly notifications: ProtocolCatalogue['notifications']
}

type RaftStepBody = { messages: RaftMessage[] }

/**
 * The `raft.step` notification handler. `target` is read on every batch, so the server may
 * start before the node does (batches arriving before are dropped: Raft retries).
 */
export function raftStepHandler(
  target: () => RaftStepTarget | undefined,
  logger: Logger = silentLogger(),
): (body: RaftStepBody, connection: { readonly peer: { id: string } | undefined }) => void {
  return (body, connection) => {
    const node = target()
    if (node === undefined) return
    const sender = connection.peer?.id
    let messages = body.messages
    if (messages.some((m) => m.from !== sender)) {
      logger.warn({ peer: sender }, 'raft transport: dropping messages a peer sent in another member\'s name')
      messages = messages.filter((m) => m.from === sender)
    }
    if (messages.length > 0) node.step(messages)
  }
}

/**
 * Puts the `raft.step` handler into a server's notification table (before RpcServer.listen):
 *
 *   const handlers: NotificationHandlers<typeof catalogue> = {}
 *   let node: RaftNode | undefined
 *   registerRaftStep(handlers, () => node, logger)
 *   const server = await RpcServer.listen({ catalogue, handlers: ..., notificationHandlers: handlers, ... })
 *   node = await RaftNode.start({ ..., transport: new RpcRaftTransport({ id, secret }) })
 */
export function registerRaftStep<C extends RaftStepCatalogue>(
  handlers: NotificationHandlers<C>,
  target: () => RaftStepTarget | undefined,
  logger?: Logger,
): void {
  const handler = raftStepHandler(target, logger)
  ;(handlers as Record<string, unknown>)['raft.step'] = (body: RaftStepBody, connection: PeerConnection<C>) =>
    handler(body, connection)
}
