/**
 * rename / renameat2 (RENAME_NOREPLACE, RENAME_EXCHANGE), atomic because a command commits as
 * one Tx. Check order and answers follow Linux's do_renameat2 and vfs_rename.
 */
import { RenameFlag, TesseraError, type EmptyReply, type RenameRequest } from '@tessera/protocol'
import { requireAccess, requireSearch, W_OK, X_OK } from './access.js'
import { checkName, isDotName } from './names.js'
import { dropDir, dropLink, prepareRemoval } from './ops-entries.js'
import type { OpContext } from './options.js'
import type { Tx } from './tx.js'

const KNOWN_FLAGS = RenameFlag.NOREPLACE | RenameFlag.EXCHANGE

/** Whether directory `ancestor` is `dir` or one of its ancestors (walks parent links). */
function isAncestorOrSelf(tx: Tx, ancestor: number, dir: number): boolean {
  let current = dir
  for (;;) {
    if (current === ancestor) return true
    const parent = tx.need(current).parent
    if (parent === current) return false // the root
    current = parent
  }
}

export function rename(ctx: OpContext, req: RenameRequest): EmptyReply {
  const { tx, cred } = ctx
  const exchange = (req.flags & RenameFlag.EXCHANGE) !== 0
  const noReplace = (req.flags & RenameFlag.NOREPLACE) !== 0
  if ((req.flags & ~KNOWN_FLAGS) !== 0 || (exchange && noReplace)) {
    throw new TesseraError('EINVAL', 'invalid rename flags')
  }
  const oldDir = tx.needDir(req.parent)
  requireSearch(cred, oldDir)
  const newDir = tx.needDir(req.newParent)
  requireSearch(cred, newDir)
  checkName(req.name)
  checkName(req.newName)
  if (isDotName(req.name)) throw new TesseraError('EBUSY', `cannot rename "${req.name}"`)
  if (isDotName(req.newName)) {
    throw new TesseraError(noReplace ? 'EEXIST' : 'EBUSY', `cannot rename onto "${req.newName}"`)
  }
  const srcIno = tx.lookup(req.parent, req.name)
  if (srcIno === undefined) throw new TesseraError('ENOENT', `no entry "${req.name}"`)
  const dstIno = tx.lookup(req.newParent, req.newName)
  if (exchange && dstIno === undefined) throw new TesseraError('ENOENT', `no entry "${req.newName}"`)
  if (noReplace && dstIno !== undefined) throw new TesseraError('EEXIST', `"${req.newName}" exists`)
  const src = tx.need(srcIno)
  const dst = dstIno === undefined ? undefined : tx.need(dstIno)
  const srcIsDir = src.isDir()
  const dstIsDir = dst?.isDir() === true

  // The source may not move into its own subtree; the target may not be an ancestor of the source.
  if (srcIsDir && isAncestorOrSelf(tx, srcIno, req.newParent)) {
    throw new TesseraError('EINVAL', 'cannot move a directory into itself')
  }
  if (dstIsDir && isAncestorOrSelf(tx, dstIno!, req.parent)) {
    throw new TesseraError(exchange ? 'EINVAL' : 'ENOTEMPTY', `"${req.newName}" is an ancestor of the source`)
  }
  // Two names of the same inode: nothing to do (POSIX).
  if (srcIno === dstIno) return {}

  prepareRemoval(ctx, req.parent, req.name)
  if (dst === undefined) {
    requireAccess(cred, newDir, W_OK | X_OK, 'write directory')
  } else {
    prepareRemoval(ctx, req.newParent, req.newName)
    if (!exchange) {
      if (srcIsDir && !dstIsDir) throw new TesseraError('ENOTDIR', `"${req.newName}" is not a directory`)
      if (!srcIsDir && dstIsDir) throw new TesseraError('EISDIR', `"${req.newName}" is a directory`)
    }
  }
  const crossDir = req.parent !== req.newParent
  if (crossDir) {
    // Moving a directory rewrites its '..': the caller must be able to write it.
    if (srcIsDir) requireAccess(cred, src, W_OK, 'write moved directory')
    if (exchange && dstIsDir) requireAccess(cred, dst!, W_OK, 'write moved directory')
    if (srcIsDir && !dstIsDir && newDir.nlink >= ctx.options.maxLinks) throw new TesseraError('EMLINK', 'too many subdirectories')
    if (exchange && dstIsDir && !srcIsDir && oldDir.nlink >= ctx.options.maxLinks) {
      throw new TesseraError('EMLINK', 'too many subdirectories')
    }
  }
  if (!exchange && dstIsDir && tx.hasEntries(dstIno!)) throw new TesseraError('ENOTEMPTY', `"${req.newName}" is not empty`)

  // All checks passed: stage the change.
  if (exchange) {
    tx.link(req.parent, req.name, dstIno!)
    tx.link(req.newParent, req.newName, srcIno)
    if (crossDir) {
      moveDirLink(tx, srcIno, srcIsDir, req.parent, req.newParent)
      moveDirLink(tx, dstIno!, dstIsDir, req.newParent, req.parent)
    }
    tx.edit(dstIno!).setCtime(ctx.time)
  } else {
    if (dstIno !== undefined) {
      if (dstIsDir) dropDir(tx, req.newParent, dstIno)
      else dropLink(tx, dstIno)
    }
    tx.unlink(req.parent, req.name)
    tx.link(req.newParent, req.newName, srcIno)
    if (crossDir) moveDirLink(tx, srcIno, srcIsDir, req.parent, req.newParent)
  }
  tx.edit(srcIno).setCtime(ctx.time)
  tx.edit(req.parent).touchModified(ctx.time)
  tx.edit(req.newParent).touchModified(ctx.time)
  return {}
}

/** A directory moving between parents takes its '..' link along. */
function moveDirLink(tx: Tx, ino: number, isDir: boolean, from: number, to: number): void {
  if (!isDir) return
  tx.edit(ino).data = to
  tx.edit(from).nlink--
  tx.edit(to).nlink++
}
