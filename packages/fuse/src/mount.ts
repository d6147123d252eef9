/**
 * mountVfs: serves a Vfs on a local directory through @tessera/fuse-native (our fork).
 *
 * Credentials: every call reaches meta with the calling process's own uid, gid and supplementary
 * groups (libfuse's fuse_get_context and fuse_getgroups, read when the request arrives). Without
 * allow_other only the mounting user can use the mount; with it (a root mount, or
 * user_allow_other in /etc/fuse.conf) each local user acts as themself, and meta's POSIX checks
 * apply per caller. default_permissions stays off: meta checks permissions itself.
 */
import { readdir, realpath, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Vfs } from '@tessera/client'
import { TesseraError, silentLogger, type Logger } from '@tessera/protocol'
import Fuse from '@tessera/fuse-native'
import { makeHandlers } from './handlers.js'
import { fuseNativeOptions, type MountOptions } from './mount-options.js'
import { isMountPoint } from './mount-table.js'
import { releaseNativeMount } from './native-release.js'

export interface MountVfsOptions extends MountOptions {
  logger?: Logger
  /** How often to look for an unmount made by someone else (default 1000 ms). */
  watchMs?: number
}

export interface MountHandle {
  readonly mountpoint: string
  /**
   * Unmounts (lazily if busy), then commits every open file. Safe to call twice, and after
   * someone else unmounted the directory (umount, fusermount -u).
   */
  unmount(): Promise<void>
  /**
   * Resolves once the mount is gone and open files are committed: after unmount(), or within
   * about `watchMs` of someone else unmounting it. Never rejects (a commit failure is logged).
   */
  readonly closed: Promise<void>
}

const DEFAULT_CAPACITY = 2 ** 40
/** How often the kernel's mount table is checked for an unmount made by someone else. */
const DEFAULT_WATCH_MS = 1000

/** Refuses a mountpoint that is missing, not a directory, not empty, or already mounted. */
export async function checkMountpoint(path: string): Promise<string> {
  const mountpoint = resolve(path)
  let own
  try {
    own = await stat(mountpoint)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new TesseraError('ENOENT', `mountpoint ${mountpoint} does not exist`)
    if (code === 'ENOTCONN') {
      throw new TesseraError('EBUSY', `mountpoint ${mountpoint} holds a dead mount: run 'fusermount -u -z ${mountpoint}'`)
    }
    throw new TesseraError('EIO', `cannot stat mountpoint ${mountpoint}: ${(err as Error).message}`)
  }
  if (!own.isDirectory()) throw new TesseraError('ENOTDIR', `mountpoint ${mountpoint} is not a directory`)
  const parent = await stat(dirname(mountpoint))
  if (mountpoint !== '/' && parent.dev !== own.dev) throw new TesseraError('EBUSY', `mountpoint ${mountpoint} is already a mount point`)
  if ((await readdir(mountpoint)).length > 0) throw new TesseraError('ENOTEMPTY', `mountpoint ${mountpoint} is not empty`)
  return mountpoint
}

export async function mountVfs(vfs: Vfs, path: string, options: MountVfsOptions = {}): Promise<MountHandle> {
  const logger = options.logger ?? silentLogger()
  const mountpoint = await checkMountpoint(path)
  const canonicalMountpoint = await realpath(mountpoint)
  const handlers = makeHandlers({ vfs, logger, capacityBytes: options.capacityBytes ?? DEFAULT_CAPACITY })
  const fuse = new Fuse(mountpoint, handlers, fuseNativeOptions(options))
  await new Promise<void>((resolvePromise, reject) => {
    fuse.mount((err) => {
      if (err === null || err === undefined) resolvePromise()
      else reject(new TesseraError('EIO', `cannot mount ${mountpoint}: ${err.message}`))
    })
  })
  logger.info({ mountpoint }, 'mounted')
  // The kernel's table lists the canonical path (resolved before mounting: a stat now would be
  // served by this process).
  const tablePath = canonicalMountpoint
  // Watch only a mount the table shows (it does once init ran, which is when mount() returns).
  const watchable = await isMountPoint(tablePath).catch(() => false)
  if (!watchable) logger.warn({ mountpoint }, 'mount not found in /proc/self/mountinfo: an outside unmount will go unnoticed')
  let unmounting: Promise<void> | undefined
  let markClosed: () => void = () => undefined
  const closed = new Promise<void>((resolvePromise) => { markClosed = resolvePromise })

  /** The kernel mount is gone: free fuse-native's state, commit open files. */
  const finish = async (): Promise<void> => {
    clearInterval(watch)
    try {
      await vfs.close()
    } finally {
      markClosed()
    }
  }

  const unmount = (): Promise<void> => {
    unmounting ??= (async () => {
      try {
        await new Promise<void>((resolvePromise, reject) => {
          fuse.unmount((err) => {
            if (err === null || err === undefined) resolvePromise()
            else reject(new TesseraError('EBUSY', `cannot unmount ${mountpoint}: ${err.message}`))
          })
        })
      } catch (err) {
        if (await isMountPoint(tablePath)) throw err
        releaseNativeMount(fuse, mountpoint) // someone else unmounted it first
      }
      logger.info({ mountpoint }, 'unmounted')
      await finish()
    })()
    return unmounting
  }

  const watch = setInterval(() => {
    if (unmounting !== undefined || !watchable) return
    isMountPoint(tablePath).then((mounted) => {
      if (mounted || unmounting !== undefined) return
      logger.warn({ mountpoint }, 'unmounted by someone else')
      unmounting = (async () => {
        releaseNativeMount(fuse, mountpoint)
        await finish()
      })()
      unmounting.catch((err: unknown) => logger.error({ mountpoint, err: String(err) }, 'commit after an outside unmount failed'))
    }, (err: unknown) => logger.debug({ err: String(err) }, 'cannot read the mount table'))
  }, options.watchMs ?? DEFAULT_WATCH_MS)
  watch.unref()

  return { mountpoint, unmount, closed }
}
