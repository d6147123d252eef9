/**
 * Turns a byte stream into blocks: `write(chunk)` calls of any size fill blocks of `blockSize`;
 * each full block is written (BlockWriter) while the next one fills, up to `maxParallel` at
 * once. Memory is bounded: the bytes of blocks handed off and not yet durable never exceed
 * `maxInflightBytes`; `write` waits when the next block would pass the bound. With the block
 * being filled, a FileWriter holds at most maxInflightBytes + blockSize of file data. Identical
 * blocks get identical keys, so the chunk servers store them once.
 *
 * Block buffers are recycled: once a block's write settles, its buffer fills the next block. A
 * fresh 4 MiB buffer per block made every byte of the file land in memory the process had never
 * touched (a page fault per 4 KiB, several times the cost of the copy itself: FACTS.md).
 */
import { TesseraError, asTesseraError, type BlockRef } from '@tessera/protocol'
import type { BlockWriter, WrittenBlock } from './block-writer.js'

export interface FileWriterOptions {
  /** Block size in bytes (the cluster's, set at format time); default 4 MiB. */
  blockSize?: number
  /** Blocks written at once; default 4. */
  maxParallel?: number
  /** Bound on the bytes of blocks being written; default maxParallel × blockSize. */
  maxInflightBytes?: number
  /** Told of each block as soon as it is durable (a writer's lease starts there). */
  onBlockWritten?: (block: WrittenBlock) => void
}

export interface FileWriteResult {
  /** The file's blocks in order, as meta records them. */
  blocks: BlockRef[]
  size: number
  /** Where each block's copies are, in file order. */
  written: WrittenBlock[]
  /** Indexes into `blocks` of blocks stored with fewer copies than the replication. */
  underReplicated: number[]
}

export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024

export class FileWriter {
  readonly blockSize: number
  readonly maxParallel: number
  readonly maxInflightBytes: number
  private fill: Buffer | undefined
  /** Block buffers whose writes have settled, ready to fill again. */
  private readonly spare: Buffer[] = []
  private filled = 0
  private size = 0
  private readonly written: WrittenBlock[] = []
  private readonly running = new Set<Promise<void>>()
  private inflight = 0
  private peak = 0
  private failure: TesseraError | undefined
  private finished = false
  private busy: Promise<void> = Promise.resolve()

  private readonly onBlockWritten: ((block: WrittenBlock) => void) | undefined

  constructor(private readonly blockWriter: BlockWriter, options: FileWriterOptions = {}) {
    this.onBlockWritten = options.onBlockWritten
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE
    this.maxParallel = options.maxParallel ?? 4
    this.maxInflightBytes = options.maxInflightBytes ?? this.maxParallel * this.blockSize
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 1) throw new TesseraError('EINVAL', `bad block size ${this.blockSize}`)
    if (!Number.isInteger(this.maxParallel) || this.maxParallel < 1) throw new TesseraError('EINVAL', `bad parallelism ${this.maxParallel}`)
    if (this.maxInflightBytes < this.blockSize) {
      throw new TesseraError('EINVAL', `maxInflightBytes ${this.maxInflightBytes} is less than one block (${this.blockSize})`)
    }
  }

  /** Bytes of blocks being written right now. */
  get inflightBytes(): number {
    return this.inflight
  }

  /** The most bytes ever in flight at once (for tests and metrics). */
  get peakInflightBytes(): number {
    return this.peak
  }

  /** Appends bytes; resolves once they are buffered or handed off (the caller may reuse `chunk`). */
  write(chunk: Uint8Array): Promise<void> {
    if (this.finished) return Promise.reject(new TesseraError('EINVAL', 'write after finish'))
    const done = this.busy.then(() => this.append(chunk))
    this.busy = done.catch(() => undefined)
    return done
  }

  /** Writes the last partial block, waits for every block, and returns the file's block list. */
  finish(): Promise<FileWriteResult> {
    if (this.finished) return Promise.reject(new TesseraError('EINVAL', 'finish called twice'))
    this.finished = true
    return this.busy.then(async () => {
      this.throwIfFailed()
      if (this.filled > 0) await this.handOff()
      while (this.running.size > 0) await Promise.race(this.running)
      this.throwIfFailed()
      return {
        blocks: this.written.map((w) => w.ref),
        size: this.size,
        written: [...this.written],
        underReplicated: this.written.flatMap((w, i) => (w.underReplicated ? [i] : [])),
      }
    })
  }

  private async append(chunk: Uint8Array): Promise<void> {
    let at = 0
    while (at < chunk.byteLength) {
      this.throwIfFailed()
      this.fill ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(this.blockSize)
      const take = Math.min(this.blockSize - this.filled, chunk.byteLength - at)
      this.fill.set(chunk.subarray(at, at + take), this.filled)
      this.filled += take
      this.size += take
      at += take
      if (this.filled === this.blockSize) await this.handOff()
    }
  }

  /** Starts writing the filling block once the bounds allow it. */
  private async handOff(): Promise<void> {
    const buffer = this.fill!
    const bytes = buffer.subarray(0, this.filled)
    this.fill = undefined
    this.filled = 0
    while (this.running.size >= this.maxParallel || this.inflight + bytes.byteLength > this.maxInflightBytes) {
      await Promise.race(this.running)
      this.throwIfFailed()
    }
    const index = this.written.length
    this.written.push(undefined as unknown as WrittenBlock) // the slot keeps file order
    this.inflight += bytes.byteLength
    this.peak = Math.max(this.peak, this.inflight)
    const task = this.blockWriter.writeBlock(bytes).then(
      (block) => {
        this.written[index] = block
        this.onBlockWritten?.(block)
      },
      (err) => { this.failure ??= asTesseraError(err) },
    ).finally(() => {
      this.inflight -= bytes.byteLength
      this.running.delete(task)
      // The writer is done with the bytes (its retries included): the buffer may fill again.
      // A buffer is allocated only when none is spare, so there are never more than the blocks
      // that can be in flight at once plus the one filling: the memory bound above holds.
      if (!this.finished) this.spare.push(buffer)
    })
    this.running.add(task)
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }
}
