/**
 * Binary streams inside a call, with credit-based flow control:
 *
 * - The sender may have at most `window` bytes sent that the receiver's consumer has not taken.
 *   Both sides start from the same window (LIMITS.streamWindowBytes); the receiver returns credit
 *   as its consumer reads, in grants of at least a quarter window.
 * - The sender also waits while its socket holds more than the high-water mark, so a slow
 *   network (not only a slow reader) stops it.
 * - A sender that exceeds its credit breaks the protocol; the receiver closes the connection.
 *
 * So memory on both sides stays bounded by the window, whatever the pace of the reader.
 */
import { TesseraError } from '../errors.js'
import { LIMITS } from '../limits.js'
import { FrameTag, type Frame } from '../frames.js'

/** What a stream needs from its connection. */
export interface StreamLink {
  send(frame: Frame): void
  /** Sends [Chunk, id, data]; the data is copied before this returns. */
  sendChunk(id: number, data: Uint8Array): void
  /** True when the socket's queue is under the high-water mark. */
  writable(): boolean
  /** Resolves when writable; rejects when the connection closes. */
  whenWritable(): Promise<void>
}

interface Waiter {
  resolve: () => void
  reject: (err: TesseraError) => void
}

/** The sending half: `write` resolves when the chunk is handed to the socket within the window. */
export class StreamWriter {
  private credit: number
  private waiter: Waiter | undefined
  private tail: Promise<void> = Promise.resolve()
  private failure: TesseraError | undefined
  private ending = false
  private finished = false

  constructor(
    readonly id: number,
    private readonly link: StreamLink,
    window: number = LIMITS.streamWindowBytes,
  ) {
    this.credit = window
  }

  /** Bytes the receiver currently allows. */
  get availableCredit(): number {
    return this.credit
  }

  get done(): boolean {
    return this.finished || this.failure !== undefined
  }

  /**
   * Sends `chunk` (split into pieces of at most LIMITS.maxStreamChunkBytes). Writes are queued in
   * order; each resolves once its bytes are encoded and handed to the socket, so the caller may
   * reuse the buffer afterwards. Rejects if the stream or call failed.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.ending) return Promise.reject(new TesseraError('EINVAL', 'write after end of stream'))
    const done = this.tail.then(() => this.writeNow(chunk))
    this.tail = done.catch(() => undefined)
    return done
  }

  /** Ends the stream after the queued writes. */
  end(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.ending) return this.tail
    this.ending = true
    const done = this.tail.then(() => {
      this.throwIfFailed()
      this.finished = true
      this.link.send([FrameTag.End, this.id])
    })
    this.tail = done.catch(() => undefined)
    return done
  }

  /** The receiver granted more bytes. */
  grant(bytes: number): void {
    this.credit += bytes
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter.resolve()
    }
  }

  /** Fails queued and future writes (call ended, cancelled, connection lost). */
  fail(err: TesseraError): void {
    if (this.failure !== undefined || this.finished) return
    this.failure = err
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter.reject(err)
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  private async writeNow(chunk: Uint8Array): Promise<void> {
    const max = LIMITS.maxStreamChunkBytes
    for (let offset = 0; offset < chunk.byteLength; offset += max) {
      const piece = offset === 0 && chunk.byteLength <= max ? chunk : chunk.subarray(offset, offset + max)
      while (this.credit < piece.byteLength) {
        this.throwIfFailed()
        await new Promise<void>((resolve, reject) => { this.waiter = { resolve, reject } })
      }
      while (!this.link.writable()) await this.link.whenWritable()
      this.throwIfFailed()
      this.credit -= piece.byteLength
      this.link.sendChunk(this.id, piece)
    }
  }
}

/** The receiving half: an async iterable of chunks; reading returns credit to the sender. */
export class StreamReader implements AsyncIterableIterator<Uint8Array> {
  private readonly queue: Uint8Array[] = []
  private head = 0
  private queued = 0
  /** Total bytes the sender may have sent so far: the window plus all credit granted. */
  private allowance: number
  private received = 0
  private uncredited = 0
  private ended = false
  private stopped = false
  private failure: TesseraError | undefined
  private waiter: Waiter | undefined

  constructor(
    readonly id: number,
    private readonly link: StreamLink,
    private readonly window: number = LIMITS.streamWindowBytes,
  ) {
    this.allowance = window
  }

  /** Bytes received and not yet taken by the consumer. */
  get queuedBytes(): number {
    return this.queued
  }

  get receivedBytes(): number {
    return this.received
  }

  /** True once the stream ended, failed or the consumer stopped. */
  get closed(): boolean {
    return this.ended || this.stopped || this.failure !== undefined
  }

  /** Data arrived. Returns a problem when the sender broke the protocol. */
  push(data: Uint8Array): string | undefined {
    if (this.ended) return `stream ${this.id}: data after end`
    this.received += data.byteLength
    if (this.received > this.allowance) return `stream ${this.id}: sender exceeded its credit`
    if (this.stopped || this.failure !== undefined) return undefined
    this.queue.push(data)
    this.queued += data.byteLength
    this.wake()
    return undefined
  }

  /** The sender ended the stream. Returns a problem when it was already ended. */
  finish(): string | undefined {
    if (this.ended) return `stream ${this.id}: ended twice`
    this.ended = true
    this.wake()
    return undefined
  }

  fail(err: TesseraError): void {
    if (this.failure !== undefined || this.ended && this.queued === 0) return
    this.failure = err
    this.dropQueue()
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter.reject(err)
    }
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure
      if (this.head < this.queue.length) return { done: false, value: this.take() }
      if (this.ended || this.stopped) return { done: true, value: undefined }
      await new Promise<void>((resolve, reject) => { this.waiter = { resolve, reject } })
    }
  }

  /** The consumer stopped early (break out of for-await): drop what is queued and what comes. */
  async return(): Promise<IteratorResult<Uint8Array>> {
    this.stopped = true
    this.dropQueue()
    return { done: true, value: undefined }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Reads the whole stream into one Buffer; fails with EFBIG beyond `maxBytes`. */
  async readAll(maxBytes: number): Promise<Buffer> {
    const parts: Uint8Array[] = []
    let total = 0
    for await (const chunk of this) {
      total += chunk.byteLength
      if (total > maxBytes) {
        await this.return()
        throw new TesseraError('EFBIG', `stream exceeds ${maxBytes} bytes`)
      }
      parts.push(chunk)
    }
    return Buffer.concat(parts, total)
  }

  private take(): Uint8Array {
    const chunk = this.queue[this.head]!
    this.queue[this.head++] = EMPTY
    if (this.head === this.queue.length) {
      this.queue.length = 0
      this.head = 0
    }
    this.queued -= chunk.byteLength
    this.uncredited += chunk.byteLength
    if (this.uncredited >= this.window / 4 && !this.ended) {
      this.allowance += this.uncredited
      this.link.send([FrameTag.Credit, this.id, this.uncredited])
      this.uncredited = 0
    }
    return chunk
  }

  private dropQueue(): void {
    this.queue.length = 0
    this.head = 0
    this.queued = 0
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter.resolve()
    }
  }
}

const EMPTY = new Uint8Array(0)
