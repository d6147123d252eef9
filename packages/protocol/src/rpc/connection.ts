/**
 * What both ends of an RPC connection share: frame decoding and dispatch, sending with socket
 * accounting, streams, notifications, ping/pong liveness and closing on protocol violations.
 * The client and server sessions extend it with the authentication handshake and calls.
 */
import type { WebSocket, RawData } from 'ws'
import type { Logger } from 'pino'
import { TesseraError } from '../errors.js'
import { LIMITS } from '../limits.js'
import { decodeValue, encodeFrame, encodeChunkFrame, joinBatch } from '../codec.js'
import { FrameTag, MAX_BATCH_FRAMES, checkFrame, type Frame, type RequestFrame, type ResponseFrame, type ErrorFrame, type CancelFrame } from '../frames.js'
import type { Catalogue, NotificationName, NotificationOf } from '../messages.js'
import { StreamReader, StreamWriter, type StreamLink } from './stream.js'

/** Who is at the other end, once authenticated. */
export interface PeerInfo {
  /** The id the peer proved (client id or server id). */
  id: string
  /** Remote address:port as seen by the socket. */
  address: string
}

/** Frames at least this large are sent on their own, never batched. */
const BATCH_MEMBER_MAX_BYTES = 16 * 1024
/** A batch is sent once it holds this many bytes. */
const BATCH_MAX_BYTES = 256 * 1024

/** Stream chunks at least this large are encoded into pooled buffers of CHUNK_BUFFER_BYTES. */
const POOLED_CHUNK_MIN_BYTES = 64 * 1024
const CHUNK_BUFFER_BYTES = LIMITS.maxStreamChunkBytes + 16
const CHUNK_POOL_SIZE = 8

/** Frames at least this large are tracked until written (stream chunks, big bodies). */
const TRACKED_FRAME_BYTES = 16 * 1024

/** ws close codes we use. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  PolicyViolation: 1008,
  TooBig: 1009,
} as const

export interface ConnectionOptions<C extends Catalogue> {
  catalogue: C
  logger: Logger
  /** How often to ping the peer. */
  pingIntervalMs: number
  /** Ping intervals without any sign of life before the socket is terminated. */
  maxMissedPings: number
  /** Notification handlers, by name; looked up at dispatch time. */
  notificationHandlers: ReadonlyMap<string, (body: unknown, connection: Connection<C>) => void | Promise<void>>
}

export type CallFrame = RequestFrame | ResponseFrame | ErrorFrame | CancelFrame

export abstract class Connection<C extends Catalogue> implements StreamLink {
  protected authenticated = false
  protected peerInfo: PeerInfo | undefined
  protected readonly readers = new Map<number, StreamReader>()
  protected readonly writers = new Map<number, StreamWriter>()
  private readonly chunkPool: Buffer[] = []
  private outbox: Buffer[] = []
  private outboxBytes = 0
  private flushScheduled = false
  /** Bytes of large frames handed to ws whose send callback has not run yet. */
  private trackedBytes = 0
  private writableWaiters: { resolve: () => void; reject: (err: TesseraError) => void }[] = []
  private heardSinceLastPing = true
  private missedPings = 0
  private readonly pingTimer: NodeJS.Timeout
  private closing = false
  private closedError: TesseraError | undefined
  private readonly closedPromise: Promise<void>
  private resolveClosed!: () => void
  /** The reason we are closing, when we decided to; reported to the sessions. */
  protected closeReason: TesseraError | undefined

  constructor(
    protected readonly ws: WebSocket,
    readonly remoteAddress: string,
    protected readonly options: ConnectionOptions<C>,
  ) {
    this.closedPromise = new Promise((resolve) => { this.resolveClosed = resolve })
    ws.on('message', (data, isBinary) => this.safely(() => this.onMessage(data, isBinary)))
    ws.on('pong', () => { this.heardSinceLastPing = true })
    ws.on('ping', () => { this.heardSinceLastPing = true })
    ws.on('error', (err) => this.onSocketError(err))
    ws.on('close', (code, reason) => this.safely(() => this.onSocketClose(code, reason.toString('utf8'))))
    this.pingTimer = setInterval(() => this.safely(() => this.checkLiveness()), options.pingIntervalMs)
    this.pingTimer.unref()
  }

  get peer(): PeerInfo | undefined {
    return this.peerInfo
  }

  get isOpen(): boolean {
    return !this.closing && this.closedError === undefined
  }

  get isAuthenticated(): boolean {
    return this.authenticated && this.isOpen
  }

  /**
   * Bytes handed to ws and not yet written to the kernel: ws's bufferedAmount (its queue and the
   * socket's buffer) or, for large frames, until their send callback, whichever is larger.
   */
  get bufferedBytes(): number {
    return Math.max(this.ws.bufferedAmount, this.trackedBytes)
  }

  /** Resolves when the socket is closed. */
  get closed(): Promise<void> {
    return this.closedPromise
  }

  // ---- sending ----

  /**
   * Queues a frame; what is queued within one turn of the event loop leaves as one ws message
   * (see FrameTag.Batch). Order is kept across send and sendChunk. Throws EINVAL when the
   * frame cannot be encoded (a body msgpack cannot carry), EFBIG when it exceeds
   * LIMITS.maxFrameBytes; nothing is sent then.
   */
  send(frame: Frame): void {
    if (!this.isOpen) return
    let bytes: Buffer
    try {
      bytes = encodeFrame(frame)
    } catch (err) {
      throw new TesseraError('EINVAL', `cannot encode frame: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (bytes.byteLength > LIMITS.maxFrameBytes) {
      // The peer would close the connection (ws maxPayload); refuse here and keep it.
      throw new TesseraError('EFBIG', `frame of ${bytes.byteLength} bytes exceeds ${LIMITS.maxFrameBytes}: stream large data`)
    }
    if (bytes.byteLength >= BATCH_MEMBER_MAX_BYTES) {
      this.flush()
      this.sendBytes(bytes)
      return
    }
    this.outbox.push(bytes)
    this.outboxBytes += bytes.byteLength
    if (this.outbox.length >= MAX_BATCH_FRAMES || this.outboxBytes >= BATCH_MAX_BYTES) {
      this.flush()
    } else if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flushTask)
    }
  }

  sendChunk(id: number, data: Uint8Array): void {
    if (!this.isOpen) return
    this.flush()
    // Large chunks are encoded into recycled buffers: memory the process has not touched lately
    // is several times slower to write (FACTS.md), and bulk data would otherwise always hit it.
    const pooled = data.byteLength >= POOLED_CHUNK_MIN_BYTES ? this.chunkPool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BUFFER_BYTES) : undefined
    this.sendBytes(encodeChunkFrame(id, data, pooled), pooled)
  }

  /** Sends what is queued now. */
  protected flush(): void {
    const outbox = this.outbox
    if (outbox.length === 0) return
    this.outbox = []
    const total = this.outboxBytes
    this.outboxBytes = 0
    if (!this.isOpen) return
    this.sendBytes(outbox.length === 1 ? outbox[0]! : joinBatch(outbox, total))
  }

  private readonly flushTask = (): void => {
    this.flushScheduled = false
    this.flush()
  }

  /** Told the size of each ws message just before it is handed to ws. */
  protected noteOutgoing(_bytes: number): void {}

  /** `recycle`: a pooled buffer behind `bytes`, returned to the pool once ws has written it. */
  private sendBytes(bytes: Buffer, recycle?: Buffer): void {
    const size = bytes.byteLength
    this.noteOutgoing(size)
    if (size < TRACKED_FRAME_BYTES && recycle === undefined) {
      // Small frames: no per-send callback (it costs on the hot path); ws.bufferedAmount counts them.
      this.ws.send(bytes)
      return
    }
    this.trackedBytes += size
    this.ws.send(bytes, (err) => {
      this.trackedBytes -= size
      // ws holds the buffer until its write completes, then calls back: only then is it free.
      if (recycle !== undefined && !err && this.chunkPool.length < CHUNK_POOL_SIZE) this.chunkPool.push(recycle)
      this.wakeWritable()
    })
  }

  writable(): boolean {
    return this.bufferedBytes < LIMITS.socketHighWaterBytes
  }

  whenWritable(): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.closedError ?? unavailable('connection closed'))
    if (this.writable()) return Promise.resolve()
    if (this.trackedBytes === 0) {
      // Only untracked small frames fill the socket: no callback will wake us, so poll.
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => this.whenWritable().then(resolve, reject), 2)
        timer.unref()
      })
    }
    return new Promise((resolve, reject) => this.writableWaiters.push({ resolve, reject }))
  }

  private wakeWritable(): void {
    if (this.writableWaiters.length === 0 || (!this.writable() && this.trackedBytes > 0)) return
    const waiters = this.writableWaiters
    this.writableWaiters = []
    for (const w of waiters) w.resolve()
  }

  /** Sends a notification; returns false when the connection is not usable. */
  notify<N extends NotificationName<C>>(method: N, body: NotificationOf<C, N>): boolean {
    if (!this.isAuthenticated) return false
    this.send([FrameTag.Notify, method, body])
    return true
  }

  // ---- closing ----

  /** Closes the connection (close handshake); terminates it if the peer does not answer. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.closing) return
    this.flush()
    this.closing = true
    clearInterval(this.pingTimer)
    try {
      this.ws.close(code, truncateReason(reason))
    } catch {
      this.ws.terminate()
    }
    const killer = setTimeout(() => this.ws.terminate(), 2000)
    killer.unref()
    void this.closedPromise.then(() => clearTimeout(killer))
  }

  /** Drops the socket at once. */
  terminate(): void {
    this.closing = true
    clearInterval(this.pingTimer)
    this.ws.terminate()
  }

  /** The peer broke the protocol: one log line, close with `code`. */
  protected violation(message: string, code: number = CloseCode.ProtocolError): void {
    if (this.closing) return
    this.closeReason = new TesseraError('PROTOCOL', message)
    this.options.logger.warn({ peer: this.peerInfo?.id, address: this.remoteAddress, code }, `closing connection: ${message}`)
    this.close(code, message)
  }

  private onSocketError(err: Error): void {
    // 'close' always follows; remember why.
    if (this.closeReason === undefined) this.closeReason = unavailable(`connection to ${this.remoteAddress} failed: ${err.message}`)
  }

  private onSocketClose(code: number, reason: string): void {
    this.closing = true
    clearInterval(this.pingTimer)
    const error = this.closeReason ?? unavailable(`connection to ${this.remoteAddress} closed (${code}${reason ? ' ' + reason : ''})`)
    this.closedError = error
    for (const w of this.writableWaiters) w.reject(error)
    this.writableWaiters = []
    for (const reader of this.readers.values()) reader.fail(error)
    for (const writer of this.writers.values()) writer.fail(error)
    this.readers.clear()
    this.writers.clear()
    this.trackedBytes = 0
    try {
      this.onClosed(error, code)
    } finally {
      this.resolveClosed()
    }
  }

  private checkLiveness(): void {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return
    if (this.heardSinceLastPing) {
      this.missedPings = 0
    } else if (++this.missedPings >= this.options.maxMissedPings) {
      this.closeReason = unavailable(`peer ${this.remoteAddress} silent for ${this.missedPings} ping intervals`)
      this.options.logger.warn({ peer: this.peerInfo?.id, address: this.remoteAddress }, 'terminating silent connection')
      this.terminate()
      return
    }
    this.heardSinceLastPing = false
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping()
  }

  /** Runs an event handler; nothing thrown escapes into ws's emitter. */
  protected safely(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.options.logger.error({ err, address: this.remoteAddress }, 'internal error in connection handler')
      this.closeReason ??= new TesseraError('EIO', `internal error: ${err instanceof Error ? err.message : String(err)}`)
      this.terminate()
    }
  }

  // ---- receiving ----

  private onMessage(data: RawData, isBinary: boolean): void {
    this.heardSinceLastPing = true
    if (this.closing) return
    if (!isBinary) return this.violation('text frames are not part of the protocol', CloseCode.PolicyViolation)
    let value: unknown
    try {
      value = decodeValue(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data))
    } catch (err) {
      return this.violation((err as TesseraError).message)
    }
    if (Array.isArray(value) && value[0] === FrameTag.Batch) {
      if (!this.authenticated) return this.violation('batch before authentication', CloseCode.PolicyViolation)
      if (value.length < 2 || value.length > MAX_BATCH_FRAMES + 1) return this.violation(`frame: batch of ${value.length - 1} frames`)
      for (let i = 1; i < value.length && !this.closing; i++) this.onValue(value[i])
      return
    }
    this.onValue(value)
  }

  private onValue(value: unknown): void {
    const check = checkFrame(value)
    if (!check.ok) {
      if (check.requestId !== undefined && this.authenticated) return this.answerBadRequest(check.requestId, check.error)
      return this.violation(check.error.message)
    }
    const frame = check.frame
    if (!this.authenticated) return this.onHandshakeFrame(frame)
    switch (frame[0]) {
      case FrameTag.AuthChallenge:
      case FrameTag.AuthProof:
      case FrameTag.AuthOk:
        return this.violation('authentication frame after authentication')
      case FrameTag.Request:
      case FrameTag.Response:
      case FrameTag.Error:
      case FrameTag.Cancel:
        return this.onCallFrame(frame)
      case FrameTag.Notify:
        return this.onNotify(frame[1], frame[2])
      case FrameTag.Chunk: {
        const reader = this.readers.get(frame[1])
        if (reader === undefined) return this.onStrayStreamFrame(frame[1], 'stream chunk')
        const problem = reader.push(frame[2])
        if (problem !== undefined) this.violation(problem)
        return
      }
      case FrameTag.End: {
        const reader = this.readers.get(frame[1])
        if (reader === undefined) return this.onStrayStreamFrame(frame[1], 'stream end')
        const problem = reader.finish()
        if (problem !== undefined) this.violation(problem)
        return
      }
      case FrameTag.Credit: {
        const writer = this.writers.get(frame[1])
        if (writer === undefined) return this.onStrayStreamFrame(frame[1], 'stream credit')
        writer.grant(frame[2])
        return
      }
      default:
        return assertNever(frame)
    }
  }

  /** A stream frame for no live stream: a race with the end of its call is fine, an unknown id is not. */
  private onStrayStreamFrame(id: number, what: string): void {
    if (id > this.highestCallId()) this.violation(`${what} for unknown call ${id}`)
  }

  private onNotify(method: string, body: unknown): void {
    const schema = Object.hasOwn(this.options.catalogue.notifications, method) ? this.options.catalogue.notifications[method] : undefined
    if (schema === undefined) return this.violation(`unknown notification ${JSON.stringify(method)}`)
    const parsed = schema.safeParse(body, method)
    if (!parsed.ok) return this.violation(parsed.error.message)
    const handler = this.options.notificationHandlers.get(method)
    if (handler === undefined) return
    try {
      const result = handler(parsed.value, this)
      if (result instanceof Promise) {
        result.catch((err: unknown) => this.options.logger.error({ err, method }, 'notification handler failed'))
      }
    } catch (err) {
      this.options.logger.error({ err, method }, 'notification handler failed')
    }
  }

  // ---- for the sessions ----

  protected openReader(id: number): StreamReader {
    const reader = new StreamReader(id, this)
    this.readers.set(id, reader)
    return reader
  }

  protected openWriter(id: number): StreamWriter {
    const writer = new StreamWriter(id, this)
    this.writers.set(id, writer)
    return writer
  }

  /**
   * Detaches call `id`'s streams. With `err`, both fail with it. Without, a reader that ended is
   * left for its consumer to drain, and anything still open fails with ECANCELED.
   */
  protected closeStreams(id: number, err: TesseraError | undefined): void {
    const reader = this.readers.get(id)
    if (reader !== undefined) {
      this.readers.delete(id)
      if (err !== undefined) reader.fail(err)
      else if (!reader.closed) reader.fail(new TesseraError('ECANCELED', `call ${id} ended before its stream`))
    }
    const writer = this.writers.get(id)
    if (writer !== undefined) {
      this.writers.delete(id)
      writer.fail(err ?? new TesseraError('ECANCELED', `call ${id} ended before its stream`))
    }
  }

  get openStreams(): number {
    return this.readers.size + this.writers.size
  }

  /** Frames before authentication completes. */
  protected abstract onHandshakeFrame(frame: Frame): void
  /** Request, response, error and cancel frames after authentication. */
  protected abstract onCallFrame(frame: CallFrame): void
  /** A request frame whose id is readable but whose content is not. */
  protected abstract answerBadRequest(id: number, error: TesseraError): void
  /** The highest call id this connection has seen or issued. */
  protected abstract highestCallId(): number
  /** The socket is closed; fail what is pending. */
  protected abstract onClosed(error: TesseraError, code: number): void
}

export function unavailable(message: string): TesseraError {
  return new TesseraError('UNAVAILABLE', message)
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`)
}

/** ws close reasons are limited to 123 bytes. */
function truncateReason(reason: string): string {
  let out = reason.slice(0, 120)
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1)
  return out
}
