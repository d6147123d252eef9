/**
 * The local copy of a relayed block, written behind the forwarding: pieces are queued and
 * written to the BlockWriter in order, in the background, so a hop hands each piece to the next
 * server without waiting for its own disk (measured: under load a 1 MiB write or the temp file's
 * creation can take tens of ms, and each hop that waited added it to the whole chain).
 *
 * The queue is bounded: `push` resolves only once at most `maxQueuedBytes` are waiting or being
 * written, so a slow disk still slows the upstream (through its stream window) instead of
 * filling memory.
 */
import type { BlockWriter } from '../store/block-writer.js'

export class LocalWriteQueue {
  private tail: Promise<void>
  private queuedBytes = 0
  private failure: { error: unknown } | undefined
  private roomWaiter: (() => void) | undefined

  /** `writer` may still be opening; pieces wait for it, and its failure is the queue's. */
  constructor(private readonly writer: Promise<BlockWriter>, private readonly maxQueuedBytes: number) {
    this.tail = writer.then(() => undefined, (err: unknown) => this.fail(err))
  }

  /** Bytes queued or being written now. */
  get pendingBytes(): number {
    return this.queuedBytes
  }

  /**
   * Queues `piece` (which must not change afterwards) and resolves once the queue is within its
   * bound again. Rejects with the local failure, if one happened.
   */
  async push(piece: Uint8Array): Promise<void> {
    this.throwIfFailed()
    this.queuedBytes += piece.byteLength
    this.tail = this.tail.then(() => this.writeOne(piece))
    while (this.queuedBytes > this.maxQueuedBytes && this.failure === undefined) {
      await new Promise<void>((resolve) => { this.roomWaiter = resolve })
    }
    this.throwIfFailed()
  }

  /** Waits until every queued piece is written; the writer, or the first local failure. */
  async drain(): Promise<BlockWriter> {
    await this.tail
    this.throwIfFailed()
    return this.writer
  }

  /** The local failure so far, if any (the writer has then aborted itself). */
  get failed(): unknown {
    return this.failure?.error
  }

  private async writeOne(piece: Uint8Array): Promise<void> {
    try {
      if (this.failure === undefined) await (await this.writer).write(piece)
    } catch (err) {
      this.fail(err)
    } finally {
      this.queuedBytes -= piece.byteLength
      this.wake()
    }
  }

  private fail(err: unknown): void {
    this.failure ??= { error: err }
    this.wake()
  }

  private wake(): void {
    const waiter = this.roomWaiter
    if (waiter !== undefined && (this.queuedBytes <= this.maxQueuedBytes || this.failure !== undefined)) {
      this.roomWaiter = undefined
      waiter()
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error
  }
}
