/**
 * The data path's side of the namespace: commitFile replaces a file's block list after a
 * write; getBlocks hands it to a reader.
 */
import {
  TesseraError, type CommitFileReply, type CommitFileRequest, type GetBlocksQuery, type GetBlocksReply,
} from '@tessera/protocol'
import { isRoot, privilegeBitsToDrop, requireAccess, R_OK, W_OK } from './access.js'
import { checkBlockRefs, decodeBlocks, encodeBlocks, usedBytes } from './block-list.js'
import type { Inode } from './inode.js'
import { isValidNsec, type OpContext } from './options.js'
import type { Tx } from './tx.js'

function needFile(tx: Tx, ino: number): Inode {
  const inode = tx.need(ino)
  if (inode.isDir()) throw new TesseraError('EISDIR', `inode ${ino} is a directory`)
  if (!inode.isFile()) throw new TesseraError('EINVAL', `inode ${ino} is not a regular file`)
  return inode
}

/**
 * Permission is checked here, with the committing caller's credentials (write access), not at
 * open time: this layer knows no file handles.
 * The reply's `released` is filled in by the namespace once the change is committed.
 */
export function commitFile(ctx: OpContext, req: CommitFileRequest): CommitFileReply {
  const inode = needFile(ctx.tx, req.ino)
  requireAccess(ctx.cred, inode, W_OK, 'write file')
  checkBlockRefs(req.blocks, ctx.options.maxBlockBytes)
  if (usedBytes(req.blocks) > req.size) throw new TesseraError('EINVAL', 'blocks hold more bytes than the file size')
  if (!isValidNsec(req.mtime.nsec)) throw new TesseraError('EINVAL', 'nanoseconds out of range')
  const next = ctx.tx.edit(req.ino)
  next.data = encodeBlocks(req.blocks)
  next.size = req.size
  next.setMtime(req.mtime)
  next.setCtime(ctx.time)
  // A write by anyone but root clears setuid (and setgid with group-execute), as Linux does.
  if (!isRoot(ctx.cred)) next.mode &= ~privilegeBitsToDrop(next.mode)
  return { attr: next.toAttr(req.ino), released: [] }
}

export function getBlocks(tx: Tx, req: GetBlocksQuery): GetBlocksReply {
  const inode = needFile(tx, req.ino)
  requireAccess(req.cred, inode, R_OK, 'read file')
  return { size: inode.size, blocks: decodeBlocks(inode.data as string) }
}
