/**
 * access(2) answered from attributes, with the same rules as the meta state machine's checks
 * (owner class, else group class, else other; root passes read and write, and execute when any
 * x bit is set or the inode is a directory). The VFS uses it for `access` and for the mode of an
 * open, which meta cannot check because it knows no file handles.
 */
import { FileMode, type Attr, type Credentials } from '@tessera/protocol'

export const AccessMask = { F_OK: 0, X_OK: 1, W_OK: 2, R_OK: 4 } as const

export function mayAccess(cred: Credentials, attr: Attr, mask: number): boolean {
  if (cred.uid === 0) {
    return (mask & AccessMask.X_OK) === 0 || (attr.mode & FileMode.IFMT) === FileMode.IFDIR || (attr.mode & 0o111) !== 0
  }
  let bits: number
  if (cred.uid === attr.uid) bits = (attr.mode >> 6) & 7
  else if (cred.gid === attr.gid || cred.groups.includes(attr.gid)) bits = (attr.mode >> 3) & 7
  else bits = attr.mode & 7
  return (bits & mask) === mask
}
