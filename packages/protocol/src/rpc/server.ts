/**
 * RpcServer: accepts ws connections, authenticates each peer with the cluster secret, and serves
 * the catalogue's methods with a typed handler table.
 */
import { WebSocketServer, type WebSocket } from 'ws'
import type { Server as HttpServer, IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { TesseraError, asTesseraError } from '../errors.js'
import { LIMITS } from '../limits.js'
import { silentLogger } from '../logger.js'
import { FrameTag, type Frame } from '../frames.js'
import { assertClusterSecret, createNonce, clientProof, serverProof, proofsMatch, authFailed } from '../auth.js'
import type {
  Catalogue, MethodName, RequestOf, ResponseOf, NotificationName, NotificationOf,
  RequestStreamMethods, ResponseStreamMethods, MethodSpec,
} from '../messages.js'
import { Connection, CloseCode, unavailable, type CallFrame, type PeerInfo, type ConnectionOptions } from './connection.js'
import type { StreamReader, StreamWriter } from './stream.js'

/** An authenticated connection as handlers and notification listeners see it. */
export interface PeerConnection<C extends Catalogue> {
  readonly peer: PeerInfo | undefined
  readonly isOpen: boolean
  notify<N extends NotificationName<C>>(method: N, body: NotificationOf<C, N>): boolean
  close(code?: number, reason?: string): void
}

export interface BaseHandlerContext<C extends Catalogue> {
  /** The authenticated peer that made the call. */
  peer: PeerInfo
  /** Aborted when the caller cancels, times out, or the connection drops. */
  signal: AbortSignal
  connection: PeerConnection<C>
}

export type HandlerContext<C extends Catalogue, M extends MethodName<C>> = BaseHandlerContext<C> &
  (M extends RequestStreamMethods<C> ? { requestStream: StreamReader } : unknown) &
  (M extends ResponseStreamMethods<C> ? { responseStream: StreamWriter } : unknown)

export type Handler<C extends Catalogue, M extends MethodName<C>> = (
  request: RequestOf<C, M>,
  context: HandlerContext<C, M>,
) => Promise<ResponseOf<C, M>> | ResponseOf<C, M>

/** One handler per method; `ping` is optional (the server answers it itself). */
export type Handlers<C extends Catalogue> = { [M in Exclude<MethodName<C>, 'ping'>]: Handler<C, M> } & {
  [M in Extract<MethodName<C>, 'ping'>]?: Handler<C, M>
}

export type NotificationHandlers<C extends Catalogue> = {
  [N in NotificationName<C>]?: (body: NotificationOf<C, N>, connection: PeerConnection<C>) => void | Promise<void>
}

export interface RpcServerOptions<C extends Catalogue> {
  catalogue: C
  handlers: Handlers<C>
  notificationHandlers?: NotificationHandlers<C>
  /** The cluster secret (>= 32 bytes). */
  secret: Uint8Array
  /** This server's id, proved to clients during the handshake. */
  serverId: string
  logger?: Logger
  /** Listen on host:port (port 0 picks one) ... */
  host?: string
  port?: number
  /** ... or attach to an existing http/https server (wss when it is https). */
  server?: HttpServer
  path?: string
  pingIntervalMs?: number
  maxMissedPings?: number
  /** Called for each connection once its peer is authenticated. */
  onConnection?: (connection: PeerConnection<C>) => void
}

/** A handler with its types erased: the catalogue checked them where the table was written. */
type AnyHandler = (request: unknown, context: object) => unknown

/** A call being served; the AbortController is made only if the handler looks at its signal. */
class InflightCall<C extends Catalogue> implements BaseHandlerContext<C> {
  private controller: AbortController | undefined
  private abortReason: TesseraError | undefined
  requestStream: StreamReader | undefined
  responseStream: StreamWriter | undefined

  constructor(readonly peer: PeerInfo, readonly connection: PeerConnection<C>) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason)
    }
    return this.controller.signal
  }

  abort(reason: TesseraError): void {
    if (this.abortReason !== undefined) return
    this.abortReason = reason
    this.controller?.abort(reason)
  }
}

const ECANCELED = (): TesseraError => new TesseraError('ECANCELED', 'call cancelled by the caller')

class ServerConnection<C extends Catalogue> extends Connection<C> implements PeerConnection<C> {
  private readonly serverNonce = createNonce()
  private readonly authTimer: NodeJS.Timeout
  private readonly inflight = new Map<number, InflightCall<C>>()
  private lastCallId = 0

  constructor(
    ws: WebSocket,
    address: string,
    options: ConnectionOptions<C>,
    private readonly server: RpcServer<C>,
    private readonly config: RpcServerOptions<C>,
  ) {
    super(ws, address, options)
    this.authTimer = setTimeout(() => this.safely(() => this.violation('authentication timed out', CloseCode.PolicyViolation)), LIMITS.authTimeoutMs)
    this.authTimer.unref()
    this.send([FrameTag.AuthChallenge, this.serverNonce, config.serverId])
  }

  protected onHandshakeFrame(frame: Frame): void {
    if (frame[0] !== FrameTag.AuthProof) return this.violation('expected an authentication proof', CloseCode.PolicyViolation)
    const [, clientId, clientNonce, proof] = frame
    const input = { serverNonce: this.serverNonce, clientNonce, clientId, serverId: this.config.serverId }
    if (!proofsMatch(clientProof(this.config.secret, input), proof)) {
      clearTimeout(this.authTimer)
      this.options.logger.warn({ address: this.remoteAddress, claimedId: clientId }, 'refused peer: authentication failed (wrong cluster secret)')
      const error = authFailed(`server ${this.config.serverId} refused the connection: this peer does not hold the cluster secret`)
      this.closeReason = error
      this.send([FrameTag.Error, 0, error.toWire()])
      this.close(CloseCode.PolicyViolation, 'authentication failed')
      return
    }
    clearTimeout(this.authTimer)
    this.authenticated = true
    this.peerInfo = { id: clientId, address: this.remoteAddress }
    this.send([FrameTag.AuthOk, serverProof(this.config.secret, input)])
    this.config.onConnection?.(this)
  }

  protected onCallFrame(frame: CallFrame): void {
    switch (frame[0]) {
      case FrameTag.Request:
        return this.onRequest(frame[1], frame[2], frame[3])
      case FrameTag.Cancel: {
        const call = this.inflight.get(frame[1])
        if (call === undefined) {
          if (frame[1] > this.lastCallId) this.violation(`cancel for unknown call ${frame[1]}`)
          return
        }
        this.inflight.delete(frame[1])
        const err = ECANCELED()
        call.abort(err)
        this.closeStreams(frame[1], err)
        return
      }
      default:
        return this.violation('responses are not sent to a server')
    }
  }

  protected answerBadRequest(id: number, error: TesseraError): void {
    if (id <= this.lastCallId) return this.violation(`request id ${id} reused`)
    this.lastCallId = id
    this.options.logger.debug({ peer: this.peerInfo?.id, id, err: error.message }, 'bad request')
    this.send([FrameTag.Error, id, error.toWire()])
  }

  protected highestCallId(): number {
    return this.lastCallId
  }

  private onRequest(id: number, method: string, body: unknown): void {
    if (id <= this.lastCallId) return this.violation(`request id ${id} reused`)
    this.lastCallId = id
    const spec: MethodSpec | undefined = Object.hasOwn(this.config.catalogue.methods, method) ? this.config.catalogue.methods[method] : undefined
    if (spec === undefined) return this.answerError(id, new TesseraError('PROTOCOL', `unknown method ${JSON.stringify(method)}`))
    const handler = this.server.handlerFor(method)
    if (handler === undefined) return this.answerError(id, new TesseraError('ENOSYS', `method ${method} is not served here`))
    if (this.inflight.size >= LIMITS.maxInflightCalls) {
      return this.answerError(id, unavailable(`too many calls in flight (${LIMITS.maxInflightCalls})`))
    }
    const streams = (spec.requestStream ? 1 : 0) + (spec.responseStream ? 1 : 0)
    if (streams > 0 && this.openStreams + streams > LIMITS.maxStreamsPerConnection) {
      return this.answerError(id, unavailable(`too many open streams (${LIMITS.maxStreamsPerConnection})`))
    }
    const parsed = spec.request.safeParse(body, `${method}.request`)
    if (!parsed.ok) return this.answerError(id, parsed.error)

    const call = new InflightCall<C>(this.peerInfo!, this)
    if (spec.requestStream) call.requestStream = this.openReader(id)
    if (spec.responseStream) call.responseStream = this.openWriter(id)
    this.inflight.set(id, call)

    let result: unknown
    try {
      result = handler(parsed.value, call)
    } catch (err) {
      return this.finishWithError(id, call, err, method)
    }
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => this.finish(id, call, value, call.responseStream),
        (err: unknown) => this.finishWithError(id, call, err, method),
      )
    } else {
      this.finish(id, call, result, call.responseStream)
    }
  }

  private finish(id: number, call: InflightCall<C>, value: unknown, responseStream: StreamWriter | undefined): void {
    if (this.inflight.get(id) !== call) return // cancelled, or the connection is gone
    if (responseStream !== undefined && !responseStream.done) {
      // The handler returned before ending its stream: end it, then answer.
      responseStream.end().then(
        () => this.finish(id, call, value, undefined),
        (err: unknown) => this.finishWithError(id, call, err, 'stream'),
      )
      return
    }
    this.inflight.delete(id)
    this.closeStreams(id, undefined)
    // Responses are not validated here: the caller validates what it receives.
    try {
      this.send([FrameTag.Response, id, value])
    } catch (err) {
      this.options.logger.error({ err, id }, 'handler returned a response that cannot be encoded')
      this.send([FrameTag.Error, id, asTesseraError(err).toWire()])
    }
  }

  private finishWithError(id: number, call: InflightCall<C>, err: unknown, method: string): void {
    if (this.inflight.get(id) !== call) return
    this.inflight.delete(id)
    const error = asTesseraError(err)
    if (!(err instanceof TesseraError)) this.options.logger.warn({ err, method }, 'handler threw a non-Tessera error')
    this.closeStreams(id, error)
    try {
      this.send([FrameTag.Error, id, error.toWire()])
    } catch {
      this.send([FrameTag.Error, id, { code: 'EIO', message: 'unencodable error' }])
    }
  }

  private answerError(id: number, error: TesseraError): void {
    this.send([FrameTag.Error, id, error.toWire()])
  }

  protected onClosed(error: TesseraError): void {
    clearTimeout(this.authTimer)
    for (const call of this.inflight.values()) call.abort(error)
    this.inflight.clear()
    this.server.forget(this)
  }
}

export class RpcServer<C extends Catalogue> {
  private readonly wss: WebSocketServer
  private readonly connections = new Set<ServerConnection<C>>()
  private readonly logger: Logger
  private readonly handlers: ReadonlyMap<string, AnyHandler>
  private readonly connectionOptions: ConnectionOptions<C>
  private closed = false

  private constructor(private readonly options: RpcServerOptions<C>, wss: WebSocketServer) {
    assertClusterSecret(options.secret)
    this.logger = options.logger ?? silentLogger()
    this.wss = wss
    const handlers = new Map<string, AnyHandler>()
    for (const [name, handler] of Object.entries(options.handlers as Record<string, unknown>)) {
      if (typeof handler === 'function') handlers.set(name, handler as AnyHandler)
    }
    if (!handlers.has('ping') && Object.hasOwn(options.catalogue.methods, 'ping')) {
      handlers.set('ping', (request: unknown) => ({ seq: (request as { seq: number }).seq, node: options.serverId }))
    }
    this.handlers = handlers
    const notificationHandlers = new Map<string, (body: unknown, connection: Connection<C>) => void | Promise<void>>()
    for (const [name, handler] of Object.entries(options.notificationHandlers ?? {})) {
      if (typeof handler === 'function') notificationHandlers.set(name, handler as (body: unknown, connection: Connection<C>) => void)
    }
    this.connectionOptions = {
      catalogue: options.catalogue,
      logger: this.logger,
      pingIntervalMs: options.pingIntervalMs ?? 5000,
      maxMissedPings: options.maxMissedPings ?? 3,
      notificationHandlers,
    }
    wss.on('connection', (ws, request) => this.accept(ws, request))
    wss.on('error', (err) => this.logger.error({ err }, 'rpc server error'))
  }

  /** Starts a server; resolves once it listens. */
  static async listen<C extends Catalogue>(options: RpcServerOptions<C>): Promise<RpcServer<C>> {
    assertClusterSecret(options.secret)
    const common = {
      perMessageDeflate: false,
      maxPayload: LIMITS.maxFrameBytes,
      skipUTF8Validation: true, // text frames are refused anyway
      clientTracking: false,
      ...(options.path !== undefined ? { path: options.path } : {}),
    }
    if (options.server !== undefined) {
      return new RpcServer(options, new WebSocketServer({ ...common, server: options.server }))
    }
    const wss = new WebSocketServer({ ...common, host: options.host ?? '127.0.0.1', port: options.port ?? 0 })
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve)
      wss.once('error', reject)
    })
    return new RpcServer(options, wss)
  }

  /** The listening address (host and port). */
  address(): { host: string; port: number } {
    const address = (this.options.server?.address() ?? this.wss.address()) as AddressInfo
    return { host: address.address, port: address.port }
  }

  /** Authenticated connections, for server-initiated notifications. */
  peers(): PeerConnection<C>[] {
    return [...this.connections].filter((c) => c.isAuthenticated)
  }

  /** @internal */
  handlerFor(method: string): (AnyHandler) | undefined {
    return this.handlers.get(method)
  }

  /** @internal */
  forget(connection: ServerConnection<C>): void {
    this.connections.delete(connection)
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const closing = [...this.connections].map((c) => {
      c.close(CloseCode.GoingAway, 'server shutting down')
      return c.closed
    })
    await Promise.all(closing)
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }

  private accept(ws: WebSocket, request: IncomingMessage): void {
    const address = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`
    if (this.closed) {
      ws.terminate()
      return
    }
    try {
      const connection = new ServerConnection(ws, address, this.connectionOptions, this, this.options)
      this.connections.add(connection)
    } catch (err) {
      this.logger.error({ err, address }, 'could not accept connection')
      ws.terminate()
    }
  }
}
