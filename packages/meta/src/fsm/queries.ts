/**
 * Read-only operations: lookup, getattr, readdir, readlink, statfs. Reads do not change atime
 * (the namespace behaves as mounted noatime: a read is not a log entry).
 */
import {
  MAX_READDIR_LIMIT, TesseraError, type AttrReply, type DirEntry, type GetattrQuery, type LookupQuery,
  type ReaddirQuery, type ReaddirReply, type ReadlinkQuery, type ReadlinkReply, type StatfsReply,
} from '@tessera/protocol'
import { R_OK, X_OK, mayAccess, requireAccess, requireSearch } from './access.js'
import { checkName } from './names.js'
import { dirPrefix, type Tables } from './tables.js'
import type { Tx } from './tx.js'

export function lookup(tx: Tx, req: LookupQuery): AttrReply {
  const dir = tx.needDir(req.parent)
  requireSearch(req.cred, dir)
  checkName(req.name)
  let ino: number | undefined
  if (req.name === '.') ino = req.parent
  else if (req.name === '..') ino = dir.parent
  else ino = tx.lookup(req.parent, req.name)
  if (ino === undefined) throw new TesseraError('ENOENT', `no entry "${req.name}"`)
  return { attr: tx.need(ino).toAttr(ino) }
}

export function getattr(tx: Tx, req: GetattrQuery): AttrReply {
  return { attr: tx.need(req.ino).toAttr(req.ino) }
}

/**
 * One page of a directory in its stable order (names by UTF-16 code units), starting after the
 * name `after`. Paging survives concurrent changes: an entry added or removed behind the cursor
 * is simply seen or not, nothing is listed twice.
 *
 * `plus` adds each entry's attributes (and whether it has extended attributes) when the caller
 * could also look the names up (search permission on the directory, lookup's rule): a caller with
 * read but not search permission gets the names only, as from a plain readdir.
 */
export function readdir(tables: Tables, tx: Tx, req: ReaddirQuery): ReaddirReply {
  const dir = tx.needDir(req.ino)
  requireAccess(req.cred, dir, R_OK, 'read directory')
  if (req.limit < 1 || req.limit > MAX_READDIR_LIMIT) throw new TesseraError('EINVAL', `readdir limit must be in [1, ${MAX_READDIR_LIMIT}]`)
  const prefix = dirPrefix(req.ino)
  const start = req.after === undefined ? prefix : prefix + req.after
  const withAttrs = req.plus === true && mayAccess(req.cred, dir, X_OK)
  const entries: DirEntry[] = []
  let more = false
  for (const [key, ino] of tables.entries.entries(start)) {
    if (!key.startsWith(prefix)) break
    if (key === start) continue // the cursor itself, or the bare prefix
    if (entries.length === req.limit) {
      more = true
      break
    }
    const inode = tx.need(ino)
    const name = key.slice(prefix.length)
    entries.push(withAttrs
      ? { name, ino, type: inode.type, attr: inode.toAttr(ino), xattrs: (inode.xattrs?.length ?? 0) > 0 }
      : { name, ino, type: inode.type })
  }
  return { entries, parent: dir.parent, more }
}

export function readlink(tx: Tx, req: ReadlinkQuery): ReadlinkReply {
  const inode = tx.need(req.ino)
  if (!inode.isSymlink()) throw new TesseraError('EINVAL', `inode ${req.ino} is not a symlink`)
  return { target: inode.data as string }
}

export function statfs(tables: Tables): StatfsReply {
  const c = tables.counters
  return {
    inodes: c.inodes, files: c.files, dirs: c.dirs, symlinks: c.symlinks,
    bytes: c.bytes, blocks: c.blocks, blockBytes: c.blockBytes,
  }
}
