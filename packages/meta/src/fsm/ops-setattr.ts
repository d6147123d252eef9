/**
 * setattr: chmod, chown, truncate and utimens in one request (as FUSE sends them), checked as
 * Linux's setattr_prepare / do_truncate / utimensat do, applied together or not at all.
 */
import {
  FileMode, TesseraError, UTIME_NOW, type AttrReply, type SetattrRequest, type Timespec,
} from '@tessera/protocol'
import { inGroup, isOwnerOrRoot, isRoot, privilegeBitsToDrop, requireAccess, W_OK } from './access.js'
import { decodeBlocks, encodeBlocks, truncateBlocks, usedBytes } from './block-list.js'
import { isValidNsec, type OpContext } from './options.js'

function checkTime(t: Timespec | undefined): void {
  if (t !== undefined && t.nsec !== UTIME_NOW && !isValidNsec(t.nsec)) {
    throw new TesseraError('EINVAL', 'nanoseconds out of range')
  }
}

export function setattr(ctx: OpContext, req: SetattrRequest): AttrReply {
  const { tx, cred } = ctx
  const inode = tx.need(req.ino)
  checkTime(req.atime)
  checkTime(req.mtime)

  if (req.size !== undefined) {
    if (inode.isDir()) throw new TesseraError('EISDIR', 'cannot truncate a directory')
    if (!inode.isFile()) throw new TesseraError('EINVAL', 'can only truncate a regular file')
    requireAccess(cred, inode, W_OK, 'truncate')
  }
  // chown: only root gives a file away; the owner may set the group to one of its groups.
  if (req.uid !== undefined && !isRoot(cred) && !(cred.uid === inode.uid && req.uid === inode.uid)) {
    throw new TesseraError('EPERM', 'only root may change the owner')
  }
  if (req.gid !== undefined && !isRoot(cred) && !(cred.uid === inode.uid && (req.gid === inode.gid || inGroup(cred, req.gid)))) {
    throw new TesseraError('EPERM', 'not allowed to change the group')
  }
  if (req.mode !== undefined && !isOwnerOrRoot(cred, inode)) {
    throw new TesseraError('EPERM', 'only the owner may change the mode')
  }
  const times = req.atime !== undefined || req.mtime !== undefined
  if (times) {
    const explicit = (req.atime !== undefined && req.atime.nsec !== UTIME_NOW) ||
      (req.mtime !== undefined && req.mtime.nsec !== UTIME_NOW)
    if (explicit) {
      if (!isOwnerOrRoot(cred, inode)) throw new TesseraError('EPERM', 'only the owner may set explicit times')
    } else if (!isOwnerOrRoot(cred, inode)) {
      requireAccess(cred, inode, W_OK, 'set times to now')
    }
  }
  const changes = req.size !== undefined || req.uid !== undefined || req.gid !== undefined || req.mode !== undefined || times
  if (!changes) return { attr: inode.toAttr(req.ino) }

  const next = tx.edit(req.ino)
  if (req.size !== undefined) {
    if (req.size < next.size) {
      const blocks = decodeBlocks(next.data as string)
      if (usedBytes(blocks) > req.size) next.data = encodeBlocks(truncateBlocks(blocks, req.size))
    }
    next.size = req.size
    next.touchModified(ctx.time)
    if (!isRoot(cred)) next.mode &= ~privilegeBitsToDrop(next.mode)
  }
  if (req.uid !== undefined || req.gid !== undefined) {
    if (req.uid !== undefined) next.uid = req.uid
    if (req.gid !== undefined) next.gid = req.gid
    // Linux (since 2.2.13, root included) clears setuid/setgid-exec when a non-directory changes hands.
    if (!next.isDir()) next.mode &= ~privilegeBitsToDrop(next.mode)
  }
  if (req.mode !== undefined) {
    let perms = req.mode & FileMode.PERMS
    // A non-root caller outside the file's group cannot set setgid (silently dropped, as Linux).
    if (!isRoot(cred) && !inGroup(cred, next.gid)) perms &= ~FileMode.ISGID
    next.mode = (next.mode & FileMode.IFMT) | perms
  }
  if (req.atime !== undefined) next.setAtime(req.atime.nsec === UTIME_NOW ? ctx.time : req.atime)
  if (req.mtime !== undefined) next.setMtime(req.mtime.nsec === UTIME_NOW ? ctx.time : req.mtime)
  next.setCtime(ctx.time)
  return { attr: next.toAttr(req.ino) }
}
