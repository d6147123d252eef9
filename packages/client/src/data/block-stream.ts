/**
 * A byte stream stored as blocks, the one way every writer of file contents does it (FileStore
 * and the mount's ClusterDataPath): cut into blocks (FileWriter), each written through a
 * replication chain (BlockWriter), then meta is told where every block landed (blocks with too
 * few copies are recorded for repair) before the caller commits a file that names them.
 */
import type { BlockRef } from '@tessera/protocol'
import type { BlockWriter } from './block-writer.js'
import { FileWriter } from './file-writer.js'
import type { MetaBlockPlanner } from './meta-planner.js'

export interface BlockStreamDeps {
  blockWriter: BlockWriter
  planner: MetaBlockPlanner
  blockSize: number
  /** Blocks written at once. */
  maxParallel: number
}

export interface StoredBlocks {
  blocks: BlockRef[]
  size: number
  /** Blocks stored with fewer copies than the replication (recorded in meta for repair). */
  underReplicated: number
}

/** Writes `source` as blocks and records their locations in meta; nothing is committed. */
export async function storeBlockStream(
  deps: BlockStreamDeps, source: AsyncIterable<Uint8Array>, onProgress?: (bytes: number) => void,
): Promise<StoredBlocks> {
  const writer = new FileWriter(deps.blockWriter, { blockSize: deps.blockSize, maxParallel: deps.maxParallel })
  let moved = 0
  try {
    for await (const chunk of source) {
      await writer.write(chunk)
      moved += chunk.byteLength
      onProgress?.(moved)
    }
  } catch (err) {
    // Waits for the blocks already handed off, so none is left running.
    await writer.finish().catch(() => undefined)
    throw err
  }
  const result = await writer.finish()
  const underReplicated = await deps.planner.blocksWritten(result.written)
  return { blocks: result.blocks, size: result.size, underReplicated }
}
