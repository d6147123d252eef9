/**
 * fuse-native's options, including libfuse options it has no field for. Its index.js joins its
 * fields into ONE `-o a,b,c` string, so options appended to the fsname value reach libfuse:
 * `fsname=tessera,big_writes,max_write=131072,use_ino`. Without big_writes libfuse 2 sends 4 KiB
 * writes (37 MB/s measured here, against 171 MB/s with it: shared/FACTS.md).
 */
import type Fuse from '@tessera/fuse-native'

export interface MountOptions {
  /** Largest FUSE write in bytes (default 131072, the most libfuse 2 allows). */
  maxWrite?: number
  /** Seconds the kernel caches attributes and names (default 1). */
  kernelCacheSeconds?: number
  /**
   * Lets other users use the mount (needs user_allow_other in /etc/fuse.conf unless root). Each
   * call carries its caller's own credentials, so meta checks every user as themself (no
   * default_permissions: the kernel's check would see only cached mode bits, meta sees the truth).
   */
  allowOther?: boolean
  /** Capacity statfs reports (default 1 TiB). */
  capacityBytes?: number
  /** libfuse debug output on stderr. */
  debug?: boolean
}

export const MAX_FUSE_WRITE = 128 * 1024

export function libfuseOptions(options: MountOptions): string[] {
  const maxWrite = options.maxWrite ?? MAX_FUSE_WRITE
  if (!Number.isInteger(maxWrite) || maxWrite < 4096 || maxWrite > MAX_FUSE_WRITE) {
    throw new RangeError(`maxWrite must be an integer in [4096, ${MAX_FUSE_WRITE}]`)
  }
  const cache = options.kernelCacheSeconds ?? 1
  if (!(cache >= 0 && cache <= 3600)) throw new RangeError('kernelCacheSeconds must be in [0, 3600]')
  const out = ['big_writes', `max_write=${maxWrite}`, 'use_ino', `attr_timeout=${cache}`, `entry_timeout=${cache}`]
  if (options.allowOther === true) out.push('allow_other')
  return out
}

export function fuseNativeOptions(options: MountOptions): Fuse.Options {
  return {
    // A Raft election or a replica fail-over may take longer than fuse-native's 15 s default.
    timeout: false,
    force: false,
    mkdir: false,
    debug: options.debug === true,
    fsname: ['tessera', ...libfuseOptions(options)].join(','),
  }
}
