/**
 * Operations that add or remove directory entries: mkdir, create, mknod, symlink, link,
 * unlink, rmdir. Check order follows Linux so that the same errno wins when several apply.
 */
import {
  FileMode, LIMITS, TesseraError, type AttrReply, type CreateReply, type CreateRequest, type Credentials,
  type EmptyReply, type LinkRequest, type MkdirRequest, type MknodRequest, type RmdirRequest,
  type SymlinkRequest, type UnlinkRequest,
} from '@tessera/protocol'
import { inGroup, isRoot, requireAccess, requireSearch, requireStickyAllows, W_OK, X_OK } from './access.js'
import { Inode } from './inode.js'
import { checkName, isDotName, utf8Length } from './names.js'
import type { OpContext } from './options.js'
import type { Tx } from './tx.js'

/**
 * The directory a new entry `name` goes into, after the checks every creating operation
 * shares: parent is a searchable directory, the name is valid and not '.'/'..' (EEXIST, as
 * Linux answers mkdir(".")), nothing has that name (EEXIST), the caller may write the parent.
 */
function prepareNewEntry(ctx: OpContext, parent: number, name: string): Inode {
  const dir = ctx.tx.needDir(parent)
  requireSearch(ctx.cred, dir)
  checkName(name)
  if (isDotName(name)) throw new TesseraError('EEXIST', `"${name}" exists`)
  if (ctx.tx.lookup(parent, name) !== undefined) throw new TesseraError('EEXIST', `"${name}" exists`)
  requireAccess(ctx.cred, dir, W_OK | X_OK, 'write directory')
  return dir
}

/**
 * Owner and mode of a new inode: the caller's uid; the parent's gid when the parent is
 * setgid (a new directory then inherits the setgid bit), else the caller's gid. A new file
 * that would be setgid in a group its creator is not in loses the bit (Linux mode_strip_sgid).
 */
function newOwnership(cred: Credentials, dir: Inode, mode: number): { gid: number; mode: number } {
  if ((dir.mode & FileMode.ISGID) === 0) return { gid: cred.gid, mode }
  const gid = dir.gid
  if ((mode & FileMode.IFMT) === FileMode.IFDIR) return { gid, mode: mode | FileMode.ISGID }
  const sgidExec = FileMode.ISGID | 0o010
  if ((mode & sgidExec) === sgidExec && !isRoot(cred) && !inGroup(cred, gid)) {
    return { gid, mode: mode & ~FileMode.ISGID }
  }
  return { gid, mode }
}

function addInode(ctx: OpContext, dir: Inode, parent: number, name: string, mode: number, nlink: number, size: number, data: string | number): AttrReply {
  const owner = newOwnership(ctx.cred, dir, mode)
  const inode = Inode.create(owner.mode, ctx.cred.uid, owner.gid, nlink, size, ctx.time, data)
  ctx.tx.add(ctx.newIno, inode)
  ctx.tx.link(parent, name, ctx.newIno)
  ctx.tx.edit(parent).touchModified(ctx.time)
  return { attr: inode.toAttr(ctx.newIno) }
}

export function mkdir(ctx: OpContext, req: MkdirRequest): AttrReply {
  const dir = prepareNewEntry(ctx, req.parent, req.name)
  if (dir.nlink >= ctx.options.maxLinks) throw new TesseraError('EMLINK', 'too many subdirectories')
  // mkdir(2) ignores setuid/setgid in the requested mode; setgid may come from the parent.
  const mode = FileMode.IFDIR | (req.mode & (0o777 | FileMode.ISVTX))
  const reply = addInode(ctx, dir, req.parent, req.name, mode, 2, 0, req.parent)
  ctx.tx.edit(req.parent).nlink++
  return reply
}

export function create(ctx: OpContext, req: CreateRequest): CreateReply {
  const dir = ctx.tx.needDir(req.parent)
  requireSearch(ctx.cred, dir)
  checkName(req.name)
  const existing = isDotName(req.name) ? req.parent : ctx.tx.lookup(req.parent, req.name)
  if (existing !== undefined) {
    if (req.exclusive) throw new TesseraError('EEXIST', `"${req.name}" exists`)
    const inode = ctx.tx.need(existing)
    if (inode.isDir()) throw new TesseraError('EISDIR', `"${req.name}" is a directory`)
    // Symlinks are resolved by the caller; creating "through" one is not this layer's job.
    if (!inode.isFile()) throw new TesseraError('EEXIST', `"${req.name}" exists`)
    return { attr: inode.toAttr(existing), created: false }
  }
  requireAccess(ctx.cred, dir, W_OK | X_OK, 'write directory')
  const mode = FileMode.IFREG | (req.mode & FileMode.PERMS)
  return { ...addInode(ctx, dir, req.parent, req.name, mode, 1, 0, ''), created: true }
}

export function mknod(ctx: OpContext, req: MknodRequest): AttrReply {
  const type = req.mode & FileMode.IFMT
  const dir = prepareNewEntry(ctx, req.parent, req.name)
  // Devices, FIFOs and sockets: "the file system does not support the type" (mknod(2): EPERM).
  if (type !== 0 && type !== FileMode.IFREG) throw new TesseraError('EPERM', 'only regular files can be created by mknod')
  const mode = FileMode.IFREG | (req.mode & FileMode.PERMS)
  return addInode(ctx, dir, req.parent, req.name, mode, 1, 0, '')
}

export function symlink(ctx: OpContext, req: SymlinkRequest): AttrReply {
  const dir = prepareNewEntry(ctx, req.parent, req.name)
  if (req.target.length === 0) throw new TesseraError('ENOENT', 'empty symlink target')
  const size = utf8Length(req.target)
  if (size > LIMITS.maxSymlinkBytes) throw new TesseraError('ENAMETOOLONG', 'symlink target too long')
  return addInode(ctx, dir, req.parent, req.name, FileMode.IFLNK | 0o777, 1, size, req.target)
}

export function link(ctx: OpContext, req: LinkRequest): AttrReply {
  const inode = ctx.tx.need(req.ino)
  prepareNewEntry(ctx, req.newParent, req.newName)
  if (inode.isDir()) throw new TesseraError('EPERM', 'hard links to directories are not allowed')
  if (inode.nlink >= ctx.options.maxLinks) throw new TesseraError('EMLINK', 'too many links')
  ctx.tx.link(req.newParent, req.newName, req.ino)
  ctx.tx.edit(req.newParent).touchModified(ctx.time)
  const edited = ctx.tx.edit(req.ino)
  edited.nlink++
  edited.setCtime(ctx.time)
  return { attr: edited.toAttr(req.ino) }
}

/**
 * The entry `name` of `parent`, after the checks unlink, rmdir and rename share for the
 * entry they remove: parent searchable, entry exists, parent writable, sticky rule.
 */
export function prepareRemoval(ctx: OpContext, parent: number, name: string): { ino: number; inode: Inode } {
  const ino = ctx.tx.lookup(parent, name)
  if (ino === undefined) throw new TesseraError('ENOENT', `no entry "${name}"`)
  const inode = ctx.tx.need(ino)
  const dir = ctx.tx.need(parent)
  requireAccess(ctx.cred, dir, W_OK | X_OK, 'write directory')
  requireStickyAllows(ctx.cred, dir, inode)
  return { ino, inode }
}

/** Drops one link to a non-directory; the inode (and its block references) go with the last. */
export function dropLink(tx: Tx, ino: number): void {
  const inode = tx.edit(ino)
  inode.nlink--
  inode.setCtime(tx.time)
  if (inode.nlink === 0) tx.remove(ino)
}

/** Removes an empty directory `ino` that is entry `name` of `parent`. */
export function dropDir(tx: Tx, parent: number, ino: number): void {
  tx.remove(ino)
  tx.edit(parent).nlink--
}

export function unlink(ctx: OpContext, req: UnlinkRequest): EmptyReply {
  const dir = ctx.tx.needDir(req.parent)
  requireSearch(ctx.cred, dir)
  checkName(req.name)
  if (isDotName(req.name)) throw new TesseraError('EISDIR', `cannot unlink "${req.name}"`)
  const { ino, inode } = prepareRemoval(ctx, req.parent, req.name)
  if (inode.isDir()) throw new TesseraError('EISDIR', `"${req.name}" is a directory`)
  ctx.tx.unlink(req.parent, req.name)
  dropLink(ctx.tx, ino)
  ctx.tx.edit(req.parent).touchModified(ctx.time)
  return {}
}

export function rmdir(ctx: OpContext, req: RmdirRequest): EmptyReply {
  const dir = ctx.tx.needDir(req.parent)
  requireSearch(ctx.cred, dir)
  checkName(req.name)
  if (req.name === '.') throw new TesseraError('EINVAL', 'cannot remove "."')
  if (req.name === '..') throw new TesseraError('ENOTEMPTY', 'cannot remove ".."')
  const { ino, inode } = prepareRemoval(ctx, req.parent, req.name)
  if (!inode.isDir()) throw new TesseraError('ENOTDIR', `"${req.name}" is not a directory`)
  if (ctx.tx.hasEntries(ino)) throw new TesseraError('ENOTEMPTY', `"${req.name}" is not empty`)
  ctx.tx.unlink(req.parent, req.name)
  dropDir(ctx.tx, req.parent, ino)
  ctx.tx.edit(req.parent).touchModified(ctx.time)
  return {}
}
