/**
 * mountVfs: serves a Vfs on a local directory through fuse-native.
 *
 * Credentials: fuse-native 2.2.6 gives handlers no caller context (fuse_get_context is not
 * exposed), so every call reaches meta with the mounting process's uid, gid and groups. Without
 * allow_other only that user can use the mount, so these are the caller's credentials and meta's
 * permission checks hold; default_permissions stays off, as meta checks permissions itself.
 */
import { readdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { processCredentials, type Vfs } from '@tessera/client'
import { TesseraError, silentLogger, type Credentials, type Logger } from '@tessera/protocol'
import Fuse from 'fuse-native'
import { makeHandlers } from './handlers.js'
import { fuseNativeOptions, type MountOptions } from './mount-options.js'

export interface MountVfsOptions extends MountOptions {
  logger?: Logger
  /** Credentials for meta's checks (default: this process's). */
  credentials?: Credentials
}

export interface MountHandle {
  readonly mountpoint: string
  /** Unmounts (lazily if busy), then commits every open file. Safe to call twice. */
  unmount(): Promise<void>
}

const DEFAULT_CAPACITY = 2 ** 40

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
  const cred = options.credentials ?? processCredentials()
  const handlers = makeHandlers({
    vfs, logger, credentials: () => cred, capacityBytes: options.capacityBytes ?? DEFAULT_CAPACITY,
  })
  const fuse = new Fuse(mountpoint, handlers, fuseNativeOptions(options))
  await new Promise<void>((resolvePromise, reject) => {
    fuse.mount((err) => {
      if (err === null || err === undefined) resolvePromise()
      else reject(new TesseraError('EIO', `cannot mount ${mountpoint}: ${err.message}`))
    })
  })
  logger.info({ mountpoint }, 'mounted')
  let unmounting: Promise<void> | undefined
  return {
    mountpoint,
    unmount(): Promise<void> {
      unmounting ??= (async () => {
        await new Promise<void>((resolvePromise, reject) => {
          fuse.unmount((err) => {
            if (err === null || err === undefined) resolvePromise()
            else reject(new TesseraError('EBUSY', `cannot unmount ${mountpoint}: ${err.message}`))
          })
        })
        logger.info({ mountpoint }, 'unmounted')
        await vfs.close()
      })()
      return unmounting
    },
  }
}
