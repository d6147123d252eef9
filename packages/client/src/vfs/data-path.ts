/**
 * The seam between the VFS and the file data: bytes in, block references out, and ranges back.
 * The real implementation writes through chunk servers (packages/client/src/data); tests use an
 * in-memory one. Implementations verify what they read; the VFS only patches and commits.
 */
import type { BlockRef } from '@tessera/protocol'

export interface WrittenBlocks {
  /** The blocks in order, each wholly used. */
  blocks: BlockRef[]
  /** Bytes written (the sum of the blocks' lengths). */
  size: number
}

/** Range reads of one open file: an implementation may keep read-ahead state per reader. */
export interface RangeReader {
  /**
   * A reader for one open file (sequential reads of it fetch ahead); without this method the
   * VFS reads every file through `readRange`.
   */
  openReader?(): RangeReader
}

export interface DataPath extends RangeReader {
  /** The cluster's block size: the VFS cuts the bytes it writes at this size. */
  readonly blockSize: number
  /**
   * Writes a stream of bytes as blocks of at most `blockSize` and resolves once every block is
   * durable. An empty stream writes no block.
   */
  writeBlocks(bytes: AsyncIterable<Uint8Array>): Promise<WrittenBlocks>
  /**
   * A reader for one open file (sequential reads of it fetch ahead); without this method the
   * VFS reads every file through `readRange`.
   */
  openReader?(): RangeReader
}
