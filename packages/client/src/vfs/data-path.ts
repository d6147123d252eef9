/**
 * The seam between the VFS and the file data: bytes in, block references out, and ranges back.
 * The real implementation writes through chunk servers (ClusterDataPath, over
 * packages/client/src/data); tests use an in-memory one. Implementations verify what they read;
 * the VFS only patches and commits.
 */
import type { BlockRef } from '@tessera/protocol'

export interface WrittenBlocks {
  /** The blocks in order, each wholly used. */
  blocks: BlockRef[]
  /** Bytes written (the sum of the blocks' lengths). */
  size: number
}

/** Range reads; an implementation may keep read-ahead state per reader. */
export interface RangeReader {
  /**
   * Bytes [offset, offset + length) of the pieces `blocks` (each its `used` bytes, in order).
   * Returns fewer bytes where the range passes the end of the pieces; the caller supplies the
   * zeros of a tail hole.
   */
  readRange(blocks: readonly BlockRef[], offset: number, length: number): Promise<Uint8Array>
}

export interface DataPath extends RangeReader {
  /** The cluster's block size: the VFS cuts the bytes it writes at this size. */
  readonly blockSize: number
  /**
   * Writes a stream of bytes as blocks of at most `blockSize` and resolves once every block is
   * durable (and, for a cluster, once meta knows where they are). An empty stream writes no block.
   */
  writeBlocks(bytes: AsyncIterable<Uint8Array>): Promise<WrittenBlocks>
  /**
   * A reader for one open file, so that sequential reads of it fetch ahead; without this method
   * the VFS reads every file through `readRange`.
   */
  openReader?(): RangeReader
}
