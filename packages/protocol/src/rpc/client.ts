/**
 * RpcClient: one logical connection to an RpcServer that survives restarts of either side.
 *
 * - Calls carry ids; any number (up to LIMITS.maxInflightCalls) may be in flight on the socket.
 * - Calls issued while disconnected wait for a connection, up to their timeout.
 * - Calls in flight when the connection drops fail with UNAVAILABLE (they may or may not have
 *   run: the caller decides whether to retry).
 * - The client reconnects with exponential back-off and full jitter.
 * - A server that refuses our secret fails waiting calls with AUTH_FAILED at once.
 */
import { randomBytes, randomFillSync } from 'node:crypto'
import { WebSocket, type ClientOptions } from 'ws'
import type { Logger } from 'pino'
import { TesseraError } from '../errors.js'
import { LIMITS } from '../limits.js'
import { silentLogger } from '../logger.js'
import { FrameTag, type Frame } from '../frames.js'
import { assertClusterSecret, createNonce, clientProof, serverProof, proofsMatch, authFailed } from '../auth.js'
import type {
  Catalogue, MethodName, MethodSpec, RequestOf, ResponseOf, NotificationName, NotificationOf,
  RequestStreamMethods, ResponseStreamMethods,
} from '../messages.js'
import { Connection, CloseCode, unavailable, type CallFrame, type ConnectionOptions, type PeerInfo } from './connection.js'
import type { StreamReader, StreamWriter } from './stream.js'

export interface CallOptions {
  /** Whole-call deadline, including waiting for a connection; 0 disables. Default: the client's. */
  timeoutMs?: number
  /** Aborting cancels the call (the server's handler sees its signal abort). */
  signal?: AbortSignal
}

export type OpenCall<C extends Catalogue, M extends MethodName<C>> = {
  readonly id: number
  /** Settles after the streams: the handler's answer. */
  readonly response: Promise<ResponseOf<C, M>>
  cancel(): void
} & (M extends RequestStreamMethods<C> ? { readonly writer: StreamWriter } : unknown) &
  (M extends ResponseStreamMethods<C> ? { readonly reader: StreamReader } : unknown)

export interface TlsOptions {
  ca?: string | Buffer | (string | Buffer)[]
  cert?: string | Buffer
  key?: string | Buffer
  rejectUnauthorized?: boolean
  servername?: string
}

export interface RpcClientOptions<C extends Catalogue> {
  /** ws://host:port[/path] or wss://... */
  url: string
  catalogue: C
  secret: Uint8Array
  /** The id this client proves to the server. */
  clientId: string
  logger?: Logger
  /** Default per-call timeout; default 10 s. */
  defaultTimeoutMs?: number
  /** First reconnect delay ceiling and the cap of the exponential back-off. */
  reconnectInitialDelayMs?: number
  reconnectMaxDelayMs?: number
  /** Random number in [0, 1) for jitter; injectable for deterministic tests. */
  random?: () => number
  pingIntervalMs?: number
  maxMissedPings?: number
  tls?: TlsOptions
}

type Resolve = (value: unknown) => void
type Reject = (err: TesseraError) => void

class PendingCall {
  id = 0
  connection: ClientConnection<Catalogue> | undefined
  timer: NodeJS.Timeout | undefined
  settled = false
  reader: StreamReader | undefined
  writer: StreamWriter | undefined
  onAbort: (() => void) | undefined
  signal: AbortSignal | undefined
  /** For open(): told when the call was sent (or failed first). */
  onStart: ((err?: TesseraError) => void) | undefined

  constructor(
    readonly method: string,
    readonly spec: MethodSpec,
    readonly body: unknown,
    readonly resolve: Resolve,
    readonly reject: Reject,
  ) {}

  settle(err: TesseraError | undefined, value?: unknown): void {
    if (this.settled) return
    this.settled = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort)
    if (err === undefined) {
      this.resolve(value)
    } else {
      this.onStart?.(err)
      this.reject(err)
    }
  }
}

class ClientConnection<C extends Catalogue> extends Connection<C> {
  private readonly clientNonce = createNonce()
  private challenge: { serverNonce: Uint8Array; serverId: string } | undefined
  private readonly pending = new Map<number, PendingCall>()
  private nextId = 1
  private readonly authTimer: NodeJS.Timeout

  constructor(
    ws: WebSocket,
    address: string,
    options: ConnectionOptions<C>,
    private readonly client: RpcClient<C>,
    private readonly config: RpcClientOptions<C>,
    private readonly masks: MaskChooser,
  ) {
    super(ws, address, options)
    this.authTimer = setTimeout(() => this.safely(() => {
      this.closeReason = unavailable(`no authentication from ${address} within ${LIMITS.authTimeoutMs} ms`)
      this.terminate()
    }), LIMITS.authTimeoutMs)
    this.authTimer.unref()
  }

  get inflight(): number {
    return this.pending.size
  }

  protected override noteOutgoing(bytes: number): void {
    this.masks.nextFrameBytes = bytes
  }

  startCall(call: PendingCall): void {
    const id = this.nextId++
    call.id = id
    call.connection = this as unknown as ClientConnection<Catalogue>
    this.pending.set(id, call)
    if (call.spec.responseStream) call.reader = this.openReader(id)
    if (call.spec.requestStream) call.writer = this.openWriter(id)
    try {
      this.send([FrameTag.Request, id, call.method, call.body])
    } catch (err) {
      this.pending.delete(id)
      this.closeStreams(id, err as TesseraError)
      call.settle(err as TesseraError)
      return
    }
    call.onStart?.()
  }

  /** Stops waiting for call `id` and tells the server. */
  abandon(call: PendingCall, err: TesseraError): void {
    if (this.pending.get(call.id) !== call) return
    this.pending.delete(call.id)
    this.send([FrameTag.Cancel, call.id])
    this.closeStreams(call.id, err)
    this.client.slotFreed()
  }

  protected onHandshakeFrame(frame: Frame): void {
    const { secret, clientId } = this.config
    if (frame[0] === FrameTag.AuthChallenge && this.challenge === undefined) {
      this.challenge = { serverNonce: frame[1], serverId: frame[2] }
      const input = { serverNonce: frame[1], clientNonce: this.clientNonce, clientId, serverId: frame[2] }
      this.send([FrameTag.AuthProof, clientId, this.clientNonce, clientProof(secret, input)])
      return
    }
    if (frame[0] === FrameTag.AuthOk && this.challenge !== undefined) {
      clearTimeout(this.authTimer)
      const input = { ...this.challenge, clientNonce: this.clientNonce, clientId }
      if (!proofsMatch(serverProof(secret, input), frame[1])) {
        this.closeReason = authFailed(`server ${this.challenge.serverId} at ${this.remoteAddress} did not prove it holds the cluster secret`)
        this.options.logger.warn({ address: this.remoteAddress, claimedId: this.challenge.serverId }, 'refused server: authentication failed')
        this.close(CloseCode.PolicyViolation, 'authentication failed')
        return
      }
      this.authenticated = true
      this.peerInfo = { id: this.challenge.serverId, address: this.remoteAddress }
      this.client.connectionReady(this)
      return
    }
    if (frame[0] === FrameTag.Error && frame[1] === 0) {
      clearTimeout(this.authTimer)
      this.closeReason = TesseraError.fromWire(frame[2])
      this.close(CloseCode.Normal, 'refused')
      return
    }
    this.violation('unexpected frame during authentication', CloseCode.PolicyViolation)
  }

  protected onCallFrame(frame: CallFrame): void {
    switch (frame[0]) {
      case FrameTag.Response:
      case FrameTag.Error: {
        const id = frame[1]
        const call = this.pending.get(id)
        if (call === undefined) {
          // A late answer to a call that timed out or was cancelled is fine; an id never issued is not.
          if (id >= this.nextId) this.violation(`answer to unknown call ${id}`)
          return
        }
        this.pending.delete(id)
        if (frame[0] === FrameTag.Error) {
          const err = TesseraError.fromWire(frame[2])
          this.closeStreams(id, err)
          call.settle(err)
        } else {
          this.closeStreams(id, undefined)
          const parsed = call.spec.response.safeParse(frame[2], `${call.method}.response`)
          if (parsed.ok) call.settle(undefined, parsed.value)
          else call.settle(parsed.error)
        }
        this.client.slotFreed()
        return
      }
      default:
        return this.violation('requests are not sent to a client')
    }
  }

  protected answerBadRequest(): void {
    this.violation('requests are not sent to a client')
  }

  protected highestCallId(): number {
    return this.nextId - 1
  }

  protected onClosed(error: TesseraError): void {
    clearTimeout(this.authTimer)
    const lost = error.code === 'UNAVAILABLE' || error.code === 'PROTOCOL'
      ? unavailable(`connection to ${this.remoteAddress} lost with the call in flight (${error.message})`)
      : error
    const calls = [...this.pending.values()]
    this.pending.clear()
    for (const call of calls) call.settle(lost)
    this.client.connectionClosed(this, error)
  }
}

export class RpcClient<C extends Catalogue> {
  private readonly logger: Logger
  private readonly connectionOptions: ConnectionOptions<C>
  private readonly notificationHandlers = new Map<string, (body: unknown, connection: Connection<C>) => void | Promise<void>>()
  private readonly defaultTimeoutMs: number
  private readonly random: () => number
  private socket: ClientConnection<C> | undefined
  private live: ClientConnection<C> | undefined
  private waiting: PendingCall[] = []
  private readyWaiters: { resolve: () => void; reject: Reject }[] = []
  private attempt = 0
  private reconnectTimer: NodeJS.Timeout | undefined
  private lastError: TesseraError | undefined
  private closed = false
  private connectCount = 0

  constructor(private readonly options: RpcClientOptions<C>) {
    assertClusterSecret(options.secret)
    if (!/^wss?:\/\//.test(options.url)) throw new TesseraError('EINVAL', `not a ws:// or wss:// url: ${options.url}`)
    this.logger = options.logger ?? silentLogger()
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000
    this.random = options.random ?? Math.random
    this.connectionOptions = {
      catalogue: options.catalogue,
      logger: this.logger,
      pingIntervalMs: options.pingIntervalMs ?? 5000,
      maxMissedPings: options.maxMissedPings ?? 3,
      notificationHandlers: this.notificationHandlers,
    }
    this.connect()
  }

  /** True while an authenticated connection is up. */
  get connected(): boolean {
    return this.live !== undefined && this.live.isAuthenticated
  }

  /** The server, once authenticated. */
  get server(): PeerInfo | undefined {
    return this.live?.peer
  }

  /** How many times a connection was authenticated (1 after the first connect). */
  get connections(): number {
    return this.connectCount
  }

  /** Bytes queued on the current socket and not yet written (for back-pressure checks). */
  get bufferedBytes(): number {
    return this.live?.bufferedBytes ?? 0
  }

  /** Resolves once connected; rejects on AUTH_FAILED, close, or after `timeoutMs`. */
  ready(timeoutMs: number = this.defaultTimeoutMs): Promise<void> {
    if (this.connected) return Promise.resolve()
    if (this.closed) return Promise.reject(unavailable('client closed'))
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => { clearTimeout(timer); resolve() },
        reject: (err: TesseraError) => { clearTimeout(timer); reject(err) },
      }
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter)
        reject(this.notConnected(timeoutMs))
      }, timeoutMs)
      this.readyWaiters.push(waiter)
    })
  }

  /** Calls a method without streams and returns its validated response. */
  call<M extends MethodName<C>>(method: M, body: RequestOf<C, M>, options: CallOptions = {}): Promise<ResponseOf<C, M>> {
    const spec = this.specOf(method)
    if (spec === undefined) return Promise.reject(new TesseraError('EINVAL', `unknown method ${method}`))
    if (spec.requestStream || spec.responseStream) {
      return Promise.reject(new TesseraError('EINVAL', `method ${method} has streams: use open()`))
    }
    return new Promise((resolve, reject) => {
      this.begin(new PendingCall(method, spec, body, resolve as Resolve, reject), options)
    })
  }

  /** Starts a call with streams; resolves once the request is sent (writer/reader usable). */
  open<M extends MethodName<C>>(method: M, body: RequestOf<C, M>, options: CallOptions = {}): Promise<OpenCall<C, M>> {
    const spec = this.specOf(method)
    if (spec === undefined) return Promise.reject(new TesseraError('EINVAL', `unknown method ${method}`))
    let call!: PendingCall
    const response = new Promise<ResponseOf<C, M>>((resolve, reject) => {
      call = new PendingCall(method, spec, body, resolve as Resolve, reject)
    })
    response.catch(() => undefined) // the caller awaits it; a rejection must never go unhandled meanwhile
    return new Promise((resolve, reject) => {
      call.onStart = (err) => {
        call.onStart = undefined
        if (err !== undefined) return reject(err)
        const handle = {
          id: call.id,
          response,
          cancel: () => this.fail(call, new TesseraError('ECANCELED', `call ${method} cancelled`)),
          ...(call.writer !== undefined ? { writer: call.writer } : {}),
          ...(call.reader !== undefined ? { reader: call.reader } : {}),
        }
        resolve(handle as unknown as OpenCall<C, M>)
      }
      this.begin(call, options)
    })
  }

  /** Sends a notification if connected; returns false (and drops it) otherwise. */
  notify<N extends NotificationName<C>>(method: N, body: NotificationOf<C, N>): boolean {
    return this.live?.notify(method, body) ?? false
  }

  /** Handles notifications the server sends. One handler per name; a new one replaces the old. */
  onNotification<N extends NotificationName<C>>(method: N, handler: (body: NotificationOf<C, N>) => void | Promise<void>): void {
    this.notificationHandlers.set(method, handler as (body: unknown) => void)
  }

  /** Closes the connection for good; waiting and in-flight calls fail with UNAVAILABLE. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer)
    const err = unavailable('client closed')
    this.failWaiting(err)
    const socket = this.socket
    if (socket !== undefined) {
      socket.close(CloseCode.Normal, 'client closed')
      await socket.closed
    }
  }

  // ---- internals ----

  private specOf(method: string): MethodSpec | undefined {
    return Object.hasOwn(this.options.catalogue.methods, method) ? this.options.catalogue.methods[method] : undefined
  }

  private begin(call: PendingCall, options: CallOptions): void {
    if (this.closed) return call.settle(unavailable('client closed'))
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs
    const signal = options.signal
    if (signal !== undefined) {
      if (signal.aborted) return call.settle(cancelled(call.method))
      call.signal = signal
      call.onAbort = () => this.fail(call, cancelled(call.method))
      signal.addEventListener('abort', call.onAbort, { once: true })
    }
    if (timeoutMs > 0) {
      call.timer = setTimeout(() => this.fail(call, call.connection === undefined
        ? this.notConnected(timeoutMs)
        : new TesseraError('ETIMEDOUT', `call ${call.method} timed out after ${timeoutMs} ms`)), timeoutMs)
    }
    const live = this.live
    if (live !== undefined && this.waiting.length === 0 && live.inflight < LIMITS.maxInflightCalls && live.isAuthenticated) {
      live.startCall(call)
    } else {
      this.waiting.push(call)
    }
  }

  private fail(call: PendingCall, err: TesseraError): void {
    if (call.settled) return
    call.connection?.abandon(call, err)
    call.settle(err)
  }

  private notConnected(timeoutMs: number): TesseraError {
    const last = this.lastError === undefined ? '' : ` (last error: ${this.lastError.message})`
    return unavailable(`not connected to ${this.options.url} within ${timeoutMs} ms${last}`)
  }

  /** @internal A call finished: start waiting ones. */
  slotFreed(): void {
    if (this.waiting.length > 0) this.pump()
  }

  private pump(): void {
    const live = this.live
    if (live === undefined || !live.isAuthenticated) return
    let i = 0
    for (; i < this.waiting.length && live.inflight < LIMITS.maxInflightCalls; i++) {
      const call = this.waiting[i]!
      if (!call.settled) live.startCall(call)
    }
    this.waiting = i === this.waiting.length ? [] : this.waiting.slice(i)
  }

  private failWaiting(err: TesseraError): void {
    const calls = this.waiting
    this.waiting = []
    for (const call of calls) call.settle(err)
    const readers = this.readyWaiters
    this.readyWaiters = []
    for (const w of readers) w.reject(err)
  }

  private connect(): void {
    if (this.closed) return
    const masks = new MaskChooser()
    const { url, tls } = this.options
    const wsOptions: ClientOptions = {
      perMessageDeflate: false,
      maxPayload: LIMITS.maxFrameBytes,
      skipUTF8Validation: true,
      handshakeTimeout: LIMITS.authTimeoutMs,
      generateMask: masks.generate,
      ...(tls ?? {}),
    }
    let ws: WebSocket
    try {
      ws = new WebSocket(url, wsOptions)
    } catch (err) {
      this.lastError = unavailable(`cannot connect to ${url}: ${err instanceof Error ? err.message : String(err)}`)
      this.scheduleReconnect()
      return
    }
    this.socket = new ClientConnection(ws, url, this.connectionOptions, this, this.options, masks)
  }

  /** @internal */
  connectionReady(connection: ClientConnection<C>): void {
    if (connection !== this.socket) return
    this.attempt = 0
    this.lastError = undefined
    this.live = connection
    this.connectCount++
    this.logger.debug({ url: this.options.url, server: connection.peer?.id }, 'connected')
    const readers = this.readyWaiters
    this.readyWaiters = []
    for (const w of readers) w.resolve()
    this.pump()
  }

  /** @internal */
  connectionClosed(connection: ClientConnection<C>, error: TesseraError): void {
    if (connection !== this.socket) return
    const wasLive = this.live === connection
    this.socket = undefined
    this.live = undefined
    this.lastError = error
    if (this.closed) return
    if (wasLive) this.logger.info({ url: this.options.url, err: error.message }, 'connection lost; reconnecting')
    if (error.code === 'AUTH_FAILED') this.failWaiting(error)
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.closed) return
    const initial = this.options.reconnectInitialDelayMs ?? 50
    const cap = this.options.reconnectMaxDelayMs ?? 5000
    const ceiling = Math.min(cap, initial * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    const delay = Math.floor(this.random() * ceiling) // full jitter
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      this.connect()
    }, delay)
    this.reconnectTimer.unref()
  }
}

/**
 * Chooses each outgoing frame's mask. Large frames get an all-zero mask, which makes ws skip
 * masking: masking copies every byte a client sends and costs ~30% of upload throughput here.
 * Masking guards browser-reachable proxies against cache poisoning by hostile scripts (RFC 6455
 * section 10.3); these connections are between authenticated Tessera processes, and ws offers
 * generateMask for this purpose. Small frames keep a random mask: ws then merges header and
 * payload into one buffer, one write instead of a corked pair, which is cheaper for them.
 */
class MaskChooser {
  private readonly pool = randomBytes(MASK_POOL_BYTES)
  private at = MASK_POOL_BYTES
  /** The size of the frame being sent: set just before ws.send, which calls `generate` inside. */
  nextFrameBytes = 0

  readonly generate = (mask: Buffer): void => {
    if (this.nextFrameBytes >= ZERO_MASK_FROM_BYTES) {
      mask.fill(0)
      return
    }
    if (this.at + 4 > this.pool.length) {
      randomFillSync(this.pool)
      this.at = 0
    }
    mask[0] = this.pool[this.at++]!
    mask[1] = this.pool[this.at++]!
    mask[2] = this.pool[this.at++]!
    mask[3] = this.pool[this.at++]!
    if ((mask[0] | mask[1] | mask[2] | mask[3]) === 0) mask[0] = 1
  }
}

const MASK_POOL_BYTES = 8192
const ZERO_MASK_FROM_BYTES = 16 * 1024

function cancelled(method: string): TesseraError {
  return new TesseraError('ECANCELED', `call ${method} cancelled`)
}
