/**
 * The data path's side of the namespace: commitFile replaces a file's block list after a
 * write (and records where its new blocks landed); getBlocks hands it to a reader.
 */
import {
  TesseraError, type BlockCopies, type CommitFileReply, type CommitFileRequest, type GetBlocksQuery, type GetBlocksReply,
} from '@tessera/protocol'
import { isRoot, privilegeBitsToDrop, requireAccess, R_OK, W_OK } from './access.js'
import { blockIdOf, checkBlockRefs, decodeBlocks, encodeBlocks, usedBytes } from './block-list.js'
import { addCopies, liveServersByAddress, type ClusterTables } from './cluster-map.js'
import type { Inode } from './inode.js'
import { isValidNsec, type OpContext } from './options.js'
import type { Tx } from './tx.js'

function needFile(tx: Tx, ino: number): Inode {
  const inode = tx.need(ino)
  if (inode.isDir()) throw new TesseraError('EISDIR', `inode ${ino} is a directory`)
  if (!inode.isFile()) throw new TesseraError('EINVAL', `inode ${ino} is not a regular file`)
  return inode
}

/** Every block of `written` must be one the commit names (it cannot place copies of others). */
function checkWritten(req: CommitFileRequest): void {
  if (req.written === undefined || req.written.length === 0) return
  const named = new Set(req.blocks.map((b) => blockIdOf(b.key, b.len)))
  for (const { ref } of req.written) {
    if (!named.has(blockIdOf(ref.key, ref.len))) throw new TesseraError('EINVAL', `written block ${ref.key}/${ref.len} is not in the block list`)
  }
}

/** What the cluster map says of a block a commit names. */
export interface BlockStanding {
  /** GC retired it: it has pending delete orders. */
  isRetired(id: string): boolean
  /** A file references it, or meta knows a copy of it. */
  isKnown(id: string): boolean
}

/**
 * Every block a commit names must exist: already referenced, with a copy meta knows of, or
 * written by this commit. A block with pending delete orders (retired by GC, gc.ts) cannot be
 * referenced: the copies a writer found stored, and deduplicated onto, may be deleted a moment
 * later; and once the deletes are confirmed meta forgets the block, so a writer that
 * deduplicated onto it before then names a block meta knows nothing of. Either way the commit
 * fails with EAGAIN and changes nothing; writing the block again stores fresh copies.
 */
function checkBlocksExist(req: CommitFileRequest, standing: BlockStanding): void {
  const written = new Set(req.written?.map(({ ref }) => blockIdOf(ref.key, ref.len)))
  for (const b of req.blocks) {
    const id = blockIdOf(b.key, b.len)
    if (standing.isRetired(id)) {
      throw new TesseraError('EAGAIN', `block ${b.key}/${b.len} is being deleted by garbage collection; write it again`)
    }
    if (!written.has(id) && !standing.isKnown(id)) {
      throw new TesseraError('EAGAIN', `block ${b.key}/${b.len} has no known copy (deleted by garbage collection?); write it again`)
    }
  }
}

/**
 * Permission is checked here, with the committing caller's credentials (write access), not at
 * open time: this layer knows no file handles.
 * The reply's `released` and `underReplicated` are filled in by the namespace once the change
 * is committed (recordWrittenCopies).
 */
export function commitFile(ctx: OpContext, req: CommitFileRequest, standing: BlockStanding): CommitFileReply {
  const inode = needFile(ctx.tx, req.ino)
  requireAccess(ctx.cred, inode, W_OK, 'write file')
  checkBlockRefs(req.blocks, ctx.options.maxBlockBytes)
  if (usedBytes(req.blocks) > req.size) throw new TesseraError('EINVAL', 'blocks hold more bytes than the file size')
  if (!isValidNsec(req.mtime.nsec)) throw new TesseraError('EINVAL', 'nanoseconds out of range')
  checkWritten(req)
  checkBlocksExist(req, standing)
  const next = ctx.tx.edit(req.ino)
  next.data = encodeBlocks(req.blocks)
  next.size = req.size
  next.setMtime(req.mtime)
  next.setCtime(ctx.time)
  // A write by anyone but root clears setuid (and setgid with group-execute), as Linux does.
  if (!isRoot(ctx.cred)) next.mode &= ~privilegeBitsToDrop(next.mode)
  return { attr: next.toAttr(req.ino), released: [], underReplicated: 0 }
}

/**
 * Records where a commit's new blocks landed, in the commit's own log entry: copies on servers
 * the cluster map knows and does not hold down count (others cannot be read, so are skipped),
 * and blocks with fewer than `replication` go on the repair list. Deterministic: it reads only
 * the replicated state. Resolves to how many of the blocks are under-replicated.
 * Runs after the commit applied, and the commit names every block of `written` (checkWritten),
 * so none of them is unreferenced: the record time addCopies takes for unreferenced blocks (a
 * writer's lease) plays no part, and the commit's own time is not needed.
 */
export function recordWrittenCopies(t: ClusterTables, written: readonly BlockCopies[] | undefined, replication: number): number {
  if (written === undefined || written.length === 0) return 0
  const numOf = liveServersByAddress(t)
  const copies = written.map(({ ref, servers }) => ({
    block: blockIdOf(ref.key, ref.len),
    nums: servers.map((address) => numOf.get(address)).filter((n): n is number => n !== undefined),
  }))
  return addCopies(t, copies, replication, 0)
}

export function getBlocks(tx: Tx, req: GetBlocksQuery): GetBlocksReply {
  const inode = needFile(tx, req.ino)
  requireAccess(req.cred, inode, R_OK, 'read file')
  return { size: inode.size, blocks: decodeBlocks(inode.data as string) }
}
