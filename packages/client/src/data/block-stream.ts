/**
 * A byte stream stored as blocks, the one way every writer of file contents does it (FileStore
 * and the mount's ClusterDataPath): cut into blocks (FileWriter), each written through a
 * replication chain (BlockWriter). Where the blocks landed goes to meta with the commit that
 * names them (commitFile's `written`: one log entry for both); only a stream of more blocks than
 * one commit carries has its first blocks recorded ahead (meta.blocksWritten). A writer's lease
 * (BlockLease) hears of each block as soon as it is durable, to keep it from GC until the commit.
 */
import { MAX_BLOCK_COPIES, MAX_COMMIT_WRITTEN, type BlockCopies, type BlockRef } from '@tessera/protocol'
import type { BlockWriter, WrittenBlock } from './block-writer.js'
import { FileWriter } from './file-writer.js'
import type { MetaBlockPlanner } from './meta-planner.js'

export interface BlockStreamDeps {
  blockWriter: BlockWriter
  planner: MetaBlockPlanner
  blockSize: number
  /** Blocks written at once. */
  maxParallel: number
  /** Told of each block as soon as it is durable (e.g. BlockLease.add: kept from GC until the commit). */
  onBlockWritten?: (copies: BlockCopies) => void
}

export interface StoredBlocks {
  blocks: BlockRef[]
  size: number
  /** Where the blocks meta has not recorded yet are (one entry per distinct block): for the commit. */
  written: BlockCopies[]
  /**
   * Under-replicated blocks among those recorded ahead of the commit (the commit's reply counts
   * the ones in `written`).
   */
  underReplicated: number
}

/** One entry per distinct block (identical blocks share a key), with every server holding it. */
export function copiesOf(written: readonly WrittenBlock[]): BlockCopies[] {
  const byId = new Map<string, BlockCopies>()
  for (const w of written) {
    const id = `${w.ref.key}/${w.ref.len}`
    const known = byId.get(id)
    if (known === undefined) {
      byId.set(id, { ref: { key: w.ref.key, len: w.ref.len }, servers: w.copies.slice(0, MAX_BLOCK_COPIES) })
    } else {
      for (const server of w.copies) {
        if (known.servers.length < MAX_BLOCK_COPIES && !known.servers.includes(server)) known.servers.push(server)
      }
    }
  }
  return [...byId.values()]
}

/** Writes `source` as blocks; nothing is committed, and meta learns their places with the commit. */
export async function storeBlockStream(
  deps: BlockStreamDeps, source: AsyncIterable<Uint8Array>, onProgress?: (bytes: number) => void,
): Promise<StoredBlocks> {
  const told = deps.onBlockWritten
  const writer = new FileWriter(deps.blockWriter, {
    blockSize: deps.blockSize, maxParallel: deps.maxParallel,
    ...(told === undefined ? {} : { onBlockWritten: (block: WrittenBlock) => told(copiesOf([block])[0]!) }),
  })
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
  const written = copiesOf(result.written)
  const ahead = written.length - MAX_COMMIT_WRITTEN
  const underReplicated = ahead > 0 ? await deps.planner.blocksWritten(written.splice(0, ahead)) : 0
  return { blocks: result.blocks, size: result.size, written, underReplicated }
}
