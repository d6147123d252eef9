/**
 * The rest of a replication chain, as one hop sees it: a `block.write` call to the next server
 * carrying the servers after it. Its methods never throw: a failure down the chain is recorded
 * and reported in the copies list, because it must never cost this server its own copy.
 */
import {
  TesseraError, asTesseraError, type BlockCopy, type ChunkServerCatalogue, type OpenCall, type RequestOf,
} from '@tessera/protocol'
import type { DownstreamPool } from './downstream-pool.js'

type WriteCall = OpenCall<ChunkServerCatalogue, 'block.write'>
type WriteRequest = RequestOf<ChunkServerCatalogue, 'block.write'>

export class Downstream {
  private failure: TesseraError | undefined
  private released = false

  private constructor(
    private readonly pool: DownstreamPool,
    /** The whole chain after this server; `chain[0]` is the server called. */
    private readonly chain: readonly string[],
    private readonly call: WriteCall | undefined,
    failure: TesseraError | undefined,
  ) {
    this.failure = failure
    // The answer is awaited only in copies(); a rejection before that is expected, not unhandled.
    call?.response.catch(() => undefined)
  }

  /** Opens the call to `chain[0]`; a server that cannot be reached yields a failed Downstream. */
  static async open(
    pool: DownstreamPool, chain: readonly string[], request: Omit<WriteRequest, 'chain'>, timeoutMs: number,
  ): Promise<Downstream> {
    const [next, ...rest] = chain
    if (next === undefined) throw new TesseraError('EINVAL', 'a downstream needs a chain')
    let client
    try {
      client = await pool.acquire(next)
    } catch (err) {
      return new Downstream(pool, chain, undefined, asTesseraError(err)).releasedAlready()
    }
    try {
      const call = await client.open('block.write', { ...request, chain: rest }, { timeoutMs })
      return new Downstream(pool, chain, call, undefined)
    } catch (err) {
      pool.release(next)
      return new Downstream(pool, chain, undefined, asTesseraError(err)).releasedAlready()
    }
  }

  /** The first failure seen while forwarding, if any. */
  get failed(): TesseraError | undefined {
    return this.failure
  }

  /**
   * Sends the next piece. Resolves when the downstream window and socket took it, or at once
   * when the downstream has already failed (the piece is then not forwarded).
   */
  forward(piece: Uint8Array): Promise<void> {
    if (this.failure !== undefined || this.call === undefined) return Promise.resolve()
    return this.call.writer.write(piece).catch((err: unknown) => this.fail(err))
  }

  /** Ends the stream; resolves once the end is handed to the socket (or failed). */
  finish(): Promise<void> {
    if (this.failure !== undefined || this.call === undefined) return Promise.resolve()
    return this.call.writer.end().catch((err: unknown) => this.fail(err))
  }

  /** Abandons the downstream call (the next server aborts its write). */
  cancel(reason: string): void {
    if (this.call !== undefined && this.failure === undefined) {
      this.failure = new TesseraError('ECANCELED', reason)
      this.call.cancel()
    }
    this.release()
  }

  /**
   * Waits for the downstream answer and returns one entry per chain address, in order. The
   * answer is matched to the chain by position: each hop names copies by the address its
   * caller used.
   */
  async copies(): Promise<BlockCopy[]> {
    try {
      if (this.call === undefined) return this.allFailed(this.failure ?? new TesseraError('UNAVAILABLE', 'no downstream call'))
      let answer
      try {
        answer = await this.call.response
      } catch (err) {
        return this.allFailed(asTesseraError(err))
      }
      return this.chain.map((server, i): BlockCopy => {
        const copy = answer.copies[i]
        if (copy === undefined) {
          return { server, ok: false, error: { code: 'PROTOCOL', message: `${this.chain[0]} gave no answer for this copy` } }
        }
        return copy.ok ? { server, ok: true } : { server, ok: false, ...(copy.error ? { error: copy.error } : {}) }
      })
    } finally {
      this.release()
    }
  }

  private allFailed(error: TesseraError): BlockCopy[] {
    const first = this.chain[0]!
    return this.chain.map((server, i): BlockCopy => ({
      server,
      ok: false,
      error: i === 0
        ? { code: error.code, message: error.message.slice(0, 1000) }
        : { code: 'UNAVAILABLE', message: `not reached: ${first} failed first (${error.code})` },
    }))
  }

  private fail(err: unknown): void {
    this.failure ??= asTesseraError(err)
  }

  private releasedAlready(): this {
    this.released = true
    return this
  }

  private release(): void {
    if (this.released) return
    this.released = true
    this.pool.release(this.chain[0]!)
  }
}
