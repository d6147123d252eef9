/**
 * A DataPath that keeps blocks in a Map, for tests only. Keys are 16 hex characters of the
 * block's sha256 (the shape meta accepts); identical blocks are stored once. Counts what it
 * does, and can be told to fail the next write.
 *
 * Every written block comes back in `written` as held by one server (meta refuses a commit
 * naming a block it neither knows nor is told of), `copiesAt` or a stand-in address. With
 * `copiesAt` it also acts like a cluster whose meta must be told where blocks are: reading a
 * block that was neither recorded (recordWritten) nor marked committed (`placed`) fails with
 * EIO, as a cluster read of a block meta does not know fails. `tellMeta`, when set, receives
 * what recordWritten records (to pass on to meta.blocksWritten).
 */
import { createHash } from 'node:crypto'
import { TesseraError, type BlockCopies, type BlockRef } from '@tessera/protocol'
import type { DataPath, WrittenBlocks } from '../../src/vfs/index.js'

/** The server a block is said to be on when the test names none. */
export const STAND_IN_SERVER = '127.0.0.1:7999'

export class InMemoryDataPath implements DataPath {
  readonly blocks = new Map<string, Buffer>()
  blocksWritten = 0
  bytesWritten = 0
  rangesRead = 0
  /** recordWritten calls, and the blocks they named. */
  recordCalls = 0
  readonly recorded: BlockCopies[] = []
  /** Blocks a reader may fetch (recorded, or marked by the test as committed with their places). */
  readonly placed = new Set<string>()
  private failures = 0
  tellMeta: ((written: readonly BlockCopies[]) => Promise<void>) | undefined

  constructor(readonly blockSize = 64 * 1024, private readonly copiesAt?: string) {}

  /** The next `count` writeBlocks calls fail with EIO. */
  failNextWrites(count = 1): void {
    this.failures = count
  }

  async writeBlocks(bytes: AsyncIterable<Uint8Array>): Promise<WrittenBlocks> {
    if (this.failures > 0) {
      this.failures--
      throw new TesseraError('EIO', 'injected write failure')
    }
    const blocks: BlockRef[] = []
    const written: BlockCopies[] = []
    let size = 0
    let fill: Buffer[] = []
    let filled = 0
    const cut = (): void => {
      const block = Buffer.concat(fill, filled)
      fill = []
      filled = 0
      const key = createHash('sha256').update(block).digest('hex').slice(0, 16)
      this.blocks.set(`${key}-${block.byteLength}`, block)
      this.blocksWritten++
      this.bytesWritten += block.byteLength
      blocks.push({ key, len: block.byteLength, used: block.byteLength })
      written.push({ ref: { key, len: block.byteLength }, servers: [this.copiesAt ?? STAND_IN_SERVER] })
    }
    for await (const chunk of bytes) {
      let at = 0
      while (at < chunk.byteLength) {
        const take = Math.min(this.blockSize - filled, chunk.byteLength - at)
        fill.push(Buffer.from(chunk.subarray(at, at + take)))
        filled += take
        at += take
        size += take
        if (filled === this.blockSize) cut()
      }
    }
    if (filled > 0) cut()
    return { blocks, size, written }
  }

  async recordWritten(written: readonly BlockCopies[]): Promise<void> {
    this.recordCalls++
    await this.tellMeta?.(written)
    for (const copies of written) {
      this.recorded.push(copies)
      this.placed.add(`${copies.ref.key}-${copies.ref.len}`)
    }
  }

  async readRange(blocks: readonly BlockRef[], offset: number, length: number): Promise<Uint8Array> {
    this.rangesRead++
    const parts: Buffer[] = []
    let at = 0
    const end = offset + length
    for (const ref of blocks) {
      const pieceEnd = at + ref.used
      if (pieceEnd > offset && at < end) {
        const block = this.blocks.get(`${ref.key}-${ref.len}`)
        if (block === undefined) throw new TesseraError('EIO', `block ${ref.key} is missing`)
        if (this.copiesAt !== undefined && !this.placed.has(`${ref.key}-${ref.len}`)) {
          throw new TesseraError('EIO', `no known copy of block ${ref.key}/${ref.len}`)
        }
        parts.push(block.subarray(Math.max(offset, at) - at, Math.min(end, pieceEnd) - at))
      }
      at = pieceEnd
      if (at >= end) break
    }
    return Buffer.concat(parts)
  }
}
