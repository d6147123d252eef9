/**
 * The seam between the VFS and the file data: bytes in, block references out, and ranges back.
 * The real implementation writes through chunk servers (ClusterDataPath, over
 * packages/client/src/data); tests use an in-memory one. Implementations verify what they read;
 * the VFS only patches and commits.
 */
import type { BlockCopies, BlockRef } from '@tessera/protocol'

export interface WrittenBlocks {
  /** The blocks in order, each wholly used. */
  blocks: BlockRef[]
  /** Bytes written (the sum of the blocks' lengths). */
  size: number
  /**
   * Where new blocks' copies are, for blocks meta has not been told of yet: the commit that
   * names them carries these (or recordWritten tells meta first, when they must be read back
   * before the commit). Absent or empty when meta needs to know nothing.
   */
  written?: BlockCopies[]
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

/** One open file's reader; `close` frees what it holds (read-ahead blocks) when the file is closed. */
export interface FileReader extends RangeReader {
  close?(): void
}

export interface DataPath extends RangeReader {
  /** The cluster's block size: the VFS cuts the bytes it writes at this size. */
  readonly blockSize: number
  /**
   * GC's grace period on meta (ms): blocks written and not committed must be recorded again
   * (recordWritten) well within it, or GC may delete them (the VFS keeps a BlockLease per
   * file). Absent: nothing collects them (an in-memory data path).
   */
  readonly gcGraceMs?: number
  /**
   * Writes a stream of bytes as blocks of at most `blockSize` and resolves once every block is
   * durable; `onBlockWritten` hears of each as soon as it is. An empty stream writes no block.
   */
  writeBlocks(bytes: AsyncIterable<Uint8Array>, onBlockWritten?: (copies: BlockCopies) => void): Promise<WrittenBlocks>
  /**
   * Tells meta where blocks of an earlier `written` are, ahead of their commit: needed before
   * they are read back (a cluster reads a block only where meta says it is), and to renew their
   * lease against GC (see gcGraceMs).
   */
  recordWritten(written: readonly BlockCopies[]): Promise<void>
  /**
   * A reader for one open file, so that sequential reads of it fetch ahead; without this method
   * the VFS reads every file through `readRange`.
   */
  openReader?(): FileReader
  /** The calls made so far, by kind (CallStats names), for the mount's log and metrics. */
  callCounts?(): Record<string, number>
}
