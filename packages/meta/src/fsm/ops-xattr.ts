/**
 * Extended attributes, with Linux's rules (fs/xattr.c xattr_permission):
 * - names are "namespace.suffix"; user., trusted. and security. are stored; system.
 *   (POSIX ACLs) is not supported (ENOTSUP), nor is any other prefix;
 * - name empty or longer than 255 bytes: ERANGE; a bare prefix ("user."): EINVAL;
 * - values up to 64 KiB. Linux answers E2BIG beyond, which has no code here: ERANGE;
 * - trusted.*: root only (writing EPERM, reading ENODATA, listing hides them);
 * - user.*: regular files and directories only (writing EPERM, reading ENODATA); in a sticky
 *   directory only its owner or root may write them; then read/write permission on the inode;
 * - security.*: anyone reads; the owner or root writes (the VFS leaves it to the security
 *   module; this is the conservative stand-in).
 * Setting or removing one changes ctime. Names are kept sorted; listxattr lists in that order.
 */
import {
  LIMITS, TesseraError, XattrFlag, type Credentials, type EmptyReply, type GetxattrQuery,
  type GetxattrReply, type ListxattrQuery, type ListxattrReply, type RemovexattrRequest,
  type SetxattrRequest,
} from '@tessera/protocol'
import { isOwnerOrRoot, isRoot, mayAccess, R_OK, W_OK } from './access.js'
import type { Inode, XattrList } from './inode.js'
import { utf8Length } from './names.js'
import type { OpContext } from './options.js'
import type { Tx } from './tx.js'

const STORED_PREFIXES = ['user.', 'trusted.', 'security.']

function checkXattrName(name: string): void {
  if (name.length === 0 || utf8Length(name) > LIMITS.maxXattrNameBytes) {
    throw new TesseraError('ERANGE', 'attribute name empty or too long')
  }
  if (name.startsWith('system.')) throw new TesseraError('ENOTSUP', 'system.* attributes are not supported')
  const prefix = STORED_PREFIXES.find((p) => name.startsWith(p))
  if (prefix === undefined) throw new TesseraError('ENOTSUP', 'unknown attribute namespace')
  if (name.length === prefix.length) throw new TesseraError('EINVAL', 'attribute name has no suffix')
}

function checkPermission(cred: Credentials, inode: Inode, name: string, write: boolean): void {
  if (name.startsWith('trusted.')) {
    if (!isRoot(cred)) throw new TesseraError(write ? 'EPERM' : 'ENODATA', 'trusted.* needs root')
    return
  }
  if (name.startsWith('security.')) {
    if (write && !isOwnerOrRoot(cred, inode)) throw new TesseraError('EPERM', 'security.* needs the owner')
    return
  }
  if (!inode.isFile() && !inode.isDir()) {
    throw new TesseraError(write ? 'EPERM' : 'ENODATA', 'user.* only on files and directories')
  }
  if (write && inode.isDir() && (inode.mode & 0o1000) !== 0 && !isOwnerOrRoot(cred, inode)) {
    throw new TesseraError('EPERM', 'sticky directory: user.* needs the owner')
  }
  if (!mayAccess(cred, inode, write ? W_OK : R_OK)) throw new TesseraError('EACCES', 'permission denied: attribute')
}

function find(list: XattrList | undefined, name: string): number {
  if (list === undefined) return -1
  return list.findIndex(([n]) => n === name)
}

function storedBytes(list: XattrList): number {
  let total = 0
  for (const [name, value] of list) total += utf8Length(name) + value.byteLength
  return total
}

function replaceList(tx: Tx, ino: number, list: XattrList): void {
  const inode = tx.edit(ino)
  inode.xattrs = list.length === 0 ? undefined : list
  inode.setCtime(tx.time)
}

export function setxattr(ctx: OpContext, req: SetxattrRequest): EmptyReply {
  const inode = ctx.tx.need(req.ino)
  checkXattrName(req.name)
  if ((req.flags & ~(XattrFlag.CREATE | XattrFlag.REPLACE)) !== 0) throw new TesseraError('EINVAL', 'invalid xattr flags')
  if (req.value.byteLength > LIMITS.maxXattrValueBytes) throw new TesseraError('ERANGE', 'attribute value too large')
  checkPermission(ctx.cred, inode, req.name, true)
  const index = find(inode.xattrs, req.name)
  if (index >= 0 && (req.flags & XattrFlag.CREATE) !== 0) throw new TesseraError('EEXIST', 'attribute exists')
  if (index < 0 && (req.flags & XattrFlag.REPLACE) !== 0) throw new TesseraError('ENODATA', 'no such attribute')
  const value = new Uint8Array(req.value) // a copy: the request may be a view of a larger buffer
  const list = [...(inode.xattrs ?? [])]
  if (index >= 0) list[index] = [req.name, value]
  else {
    list.push([req.name, value])
    list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }
  if (storedBytes(list) > ctx.options.maxXattrBytesPerInode) throw new TesseraError('ENOSPC', 'no room for more attributes')
  replaceList(ctx.tx, req.ino, list)
  return {}
}

export function removexattr(ctx: OpContext, req: RemovexattrRequest): EmptyReply {
  const inode = ctx.tx.need(req.ino)
  checkXattrName(req.name)
  checkPermission(ctx.cred, inode, req.name, true)
  const index = find(inode.xattrs, req.name)
  if (index < 0) throw new TesseraError('ENODATA', 'no such attribute')
  replaceList(ctx.tx, req.ino, inode.xattrs!.filter((_, i) => i !== index))
  return {}
}

export function getxattr(tx: Tx, req: GetxattrQuery): GetxattrReply {
  const inode = tx.need(req.ino)
  checkXattrName(req.name)
  checkPermission(req.cred, inode, req.name, false)
  const index = find(inode.xattrs, req.name)
  if (index < 0) throw new TesseraError('ENODATA', 'no such attribute')
  const value = inode.xattrs![index]![1]
  if (req.size === 0) return { size: value.byteLength }
  if (req.size < value.byteLength) throw new TesseraError('ERANGE', 'buffer too small for the value')
  return { size: value.byteLength, value: new Uint8Array(value) }
}

export function listxattr(tx: Tx, req: ListxattrQuery): ListxattrReply {
  const inode = tx.need(req.ino)
  const names = (inode.xattrs ?? []).map(([name]) => name)
    .filter((name) => isRoot(req.cred) || !name.startsWith('trusted.'))
  let size = 0
  for (const name of names) size += utf8Length(name) + 1
  if (req.size === 0) return { size }
  if (req.size < size) throw new TesseraError('ERANGE', 'buffer too small for the list')
  return { size, names }
}
