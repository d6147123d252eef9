/**
 * POSIX permission checks, done once, here, with the caller's credentials. Linux semantics:
 * the owner class, else the group class (primary or supplementary group), else other; root
 * (uid 0) passes every read/write check and an execute check when any x bit is set (or the
 * inode is a directory).
 */
import { FileMode, TesseraError, type Credentials } from '@tessera/protocol'
import type { Inode } from './inode.js'

export const R_OK = 4
export const W_OK = 2
export const X_OK = 1

export function isRoot(cred: Credentials): boolean {
  return cred.uid === 0
}

export function inGroup(cred: Credentials, gid: number): boolean {
  return cred.gid === gid || cred.groups.includes(gid)
}

export function isOwnerOrRoot(cred: Credentials, inode: Inode): boolean {
  return cred.uid === 0 || cred.uid === inode.uid
}

export function mayAccess(cred: Credentials, inode: Inode, mask: number): boolean {
  if (cred.uid === 0) {
    return (mask & X_OK) === 0 || inode.isDir() || (inode.mode & 0o111) !== 0
  }
  let bits: number
  if (cred.uid === inode.uid) bits = (inode.mode >> 6) & 7
  else if (inGroup(cred, inode.gid)) bits = (inode.mode >> 3) & 7
  else bits = inode.mode & 7
  return (bits & mask) === mask
}

export function requireAccess(cred: Credentials, inode: Inode, mask: number, what: string): void {
  if (!mayAccess(cred, inode, mask)) throw new TesseraError('EACCES', `permission denied: ${what}`)
}

/** Search permission on a directory being traversed (lookups are by parent + name). */
export function requireSearch(cred: Credentials, dir: Inode): void {
  requireAccess(cred, dir, X_OK, 'search directory')
}

/**
 * In a sticky directory only the file's owner, the directory's owner or root may remove or
 * rename an entry (EPERM).
 */
export function requireStickyAllows(cred: Credentials, dir: Inode, victim: Inode): void {
  if ((dir.mode & FileMode.ISVTX) === 0 || cred.uid === 0) return
  if (cred.uid === victim.uid || cred.uid === dir.uid) return
  throw new TesseraError('EPERM', 'sticky directory: not the owner')
}

/**
 * The mode bits Linux strips when a file's ownership changes or its data is written
 * (setuid always; setgid only together with group-execute, since setgid without it marks
 * mandatory locking, which stays).
 */
export function privilegeBitsToDrop(mode: number): number {
  let drop = mode & FileMode.ISUID
  if ((mode & FileMode.ISGID) !== 0 && (mode & 0o010) !== 0) drop |= FileMode.ISGID
  return drop
}
