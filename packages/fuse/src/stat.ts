/** Tessera attributes and statistics in the shapes fuse-native passes to libfuse. */
import type { Attr, StatfsReply, Timespec } from '@tessera/protocol'
import type Fuse from '@tessera/fuse-native'

/** st_blksize: the I/O size programs such as cp use for their buffers (one FUSE write). */
export const PREFERRED_IO_BYTES = 128 * 1024

function ms(t: Timespec): number {
  return t.sec * 1000 + Math.floor(t.nsec / 1_000_000)
}

export function toStat(attr: Attr): Fuse.Stat {
  return {
    mode: attr.mode,
    uid: attr.uid,
    gid: attr.gid,
    size: attr.size,
    nlink: attr.nlink,
    ino: attr.ino,
    blksize: PREFERRED_IO_BYTES,
    blocks: Math.ceil(attr.size / 512),
    atime: ms(attr.atime),
    mtime: ms(attr.mtime),
    ctime: ms(attr.ctime),
  }
}

/** Statistics block size: 1 MiB, so that the 32-bit block counts reach 4 PiB. */
const STATFS_BLOCK = 1024 * 1024
const U32_MAX = 0xffff_ffff
const NAME_MAX = 255

/**
 * statfs(2): used bytes and files from meta; the capacity is the mount's `capacityBytes`
 * (meta's statfs does not know the chunk servers' free space).
 */
export function toStatfs(reply: StatfsReply, capacityBytes: number): Fuse.Statfs {
  const total = Math.min(U32_MAX, Math.ceil(Math.max(capacityBytes, reply.blockBytes) / STATFS_BLOCK))
  const used = Math.min(total, Math.ceil(reply.blockBytes / STATFS_BLOCK))
  const files = Math.min(U32_MAX, reply.inodes)
  return {
    bsize: STATFS_BLOCK,
    frsize: STATFS_BLOCK,
    blocks: total,
    bfree: total - used,
    bavail: total - used,
    files: U32_MAX,
    ffree: U32_MAX - files,
    favail: U32_MAX - files,
    fsid: 0,
    flag: 0,
    namemax: NAME_MAX,
  }
}
