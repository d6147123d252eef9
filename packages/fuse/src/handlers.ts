/**
 * fuse-native handlers over a Vfs. Each one is: the caller's credentials -> one Vfs call ->
 * a reply, or fuseErrno(err) for a failure. Nothing else happens here.
 */
import { OpenFlag, type TimeChange, type Vfs } from '@tessera/client'
import { silentLogger, asTesseraError, type Credentials, type Logger, type Timespec } from '@tessera/protocol'
import type Fuse from 'fuse-native'
import { fuseErrno } from './errno.js'
import { toStat, toStatfs } from './stat.js'

export interface HandlerContext {
  vfs: Vfs
  /** The credentials meta checks a call with (see mount.ts for why they are the mounter's). */
  credentials(): Credentials
  capacityBytes: number
  logger?: Logger
}

/**
 * utimensat's UTIME_NOW and UTIME_OMIT reach fuse-native as {sec 0, nsec 2^30 - 1 or - 2},
 * which it turns into milliseconds: both become 1073.
 */
const UTIME_SPECIAL_MS = Math.floor(((1 << 30) - 1) / 1_000_000)

function timeOf(ms: number): TimeChange {
  if (ms === UTIME_SPECIAL_MS) return 'now'
  const t: Timespec = { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 }
  return t
}

export function makeHandlers(ctx: HandlerContext): Fuse.Operations {
  const { vfs } = ctx
  const logger = ctx.logger ?? silentLogger()
  const cred = (): Credentials => ctx.credentials()

  /** Runs one Vfs call; `reply` answers its value, a failure answers its negative errno. */
  function run<T>(op: string, fail: (code: number) => void, call: () => Promise<T> | T, reply: (value: T) => void): void {
    let pending: Promise<T>
    try {
      pending = Promise.resolve(call())
    } catch (err) {
      pending = Promise.reject(err)
    }
    pending.then(reply, (err: unknown) => {
      const error = asTesseraError(err)
      if (error.code === 'EIO' || error.code === 'UNAVAILABLE' || error.code === 'PROTOCOL') {
        logger.warn({ op, code: error.code, err: error.message }, 'fuse: operation failed')
      } else {
        logger.debug({ op, code: error.code }, 'fuse: operation answered with an error')
      }
      fail(fuseErrno(error))
    })
  }

  const done = (cb: Fuse.Done) => (): void => cb(0)

  return {
    getattr: (path, cb) => run('getattr', cb, () => vfs.getattr(cred(), path), (attr) => cb(0, toStat(attr))),
    // fuse-native 2.2.6 routes fgetattr to getattr(path); this is here for a binding that does not.
    fgetattr: (path, fd, cb) => run('fgetattr', cb, () => (fd > 0 ? vfs.fgetattr(fd) : vfs.getattr(cred(), path)), (attr) => cb(0, toStat(attr))),
    access: (path, mode, cb) => run('access', cb, () => vfs.access(cred(), path, mode), done(cb)),
    statfs: (_path, cb) => run('statfs', cb, () => vfs.statfs(), (reply) => cb(0, toStatfs(reply, ctx.capacityBytes))),
    readdir: (path, cb) => run('readdir', cb, () => vfs.readdir(cred(), path), (entries) => cb(0, ['.', '..', ...entries.map((e) => e.name)])),
    readlink: (path, cb) => run('readlink', cb, () => vfs.readlink(cred(), path), (target) => cb(0, target)),
    mkdir: (path, mode, cb) => run('mkdir', cb, () => vfs.mkdir(cred(), path, mode), done(cb)),
    mknod: (path, mode, _dev, cb) => run('mknod', cb, () => vfs.mknod(cred(), path, mode), done(cb)),
    rmdir: (path, cb) => run('rmdir', cb, () => vfs.rmdir(cred(), path), done(cb)),
    unlink: (path, cb) => run('unlink', cb, () => vfs.unlink(cred(), path), done(cb)),
    rename: (src, dest, cb) => run('rename', cb, () => vfs.rename(cred(), src, dest), done(cb)),
    link: (src, dest, cb) => run('link', cb, () => vfs.link(cred(), src, dest), done(cb)),
    symlink: (target, path, cb) => run('symlink', cb, () => vfs.symlink(cred(), target, path), done(cb)),
    chmod: (path, mode, cb) => run('chmod', cb, () => vfs.chmod(cred(), path, mode), done(cb)),
    chown: (path, uid, gid, cb) => run('chown', cb, () => vfs.chown(cred(), path, uid, gid), done(cb)),
    utimens: (path, atime, mtime, cb) => run('utimens', cb, () => vfs.utimens(cred(), path, timeOf(atime), timeOf(mtime)), done(cb)),
    truncate: (path, size, cb) => run('truncate', cb, () => vfs.truncate(cred(), path, size), done(cb)),
    ftruncate: (_path, fd, size, cb) => run('ftruncate', cb, () => vfs.ftruncate(fd, size), done(cb)),
    // libfuse 2 through fuse-native does not pass create's open flags: the handle is read-write.
    create: (path, mode, cb) => run('create', cb, () => vfs.create(cred(), path, mode, OpenFlag.O_RDWR | OpenFlag.O_CREAT), (fh) => cb(0, fh)),
    open: (path, flags, cb) => run('open', cb, () => vfs.open(cred(), path, flags), (fh) => cb(0, fh)),
    read: (_path, fd, buffer, length, position, cb) => run('read', cb, () => vfs.read(fd, position, length), (bytes) => {
      bytes.copy(buffer, 0, 0, Math.min(bytes.length, length))
      cb(Math.min(bytes.length, length))
    }),
    write: (_path, fd, buffer, length, position, cb) => run('write', cb, () => vfs.write(fd, position, buffer.subarray(0, length)), (n) => cb(n)),
    flush: (_path, fd, cb) => run('flush', cb, () => vfs.flush(fd), done(cb)),
    fsync: (_path, _datasync, fd, cb) => run('fsync', cb, () => vfs.fsync(fd), done(cb)),
    release: (_path, fd, cb) => run('release', cb, () => vfs.release(fd), done(cb)),
    setxattr: (path, name, value, _position, flags, cb) => run('setxattr', cb, () => vfs.setxattr(cred(), path, name, Buffer.from(value), flags), done(cb)),
    getxattr: (path, name, _position, cb) => run('getxattr', cb, () => vfs.getxattr(cred(), path, name), (value) => cb(0, Buffer.from(value))),
    listxattr: (path, cb) => run('listxattr', cb, () => vfs.listxattr(cred(), path), (names) => cb(0, names)),
    removexattr: (path, name, cb) => run('removexattr', cb, () => vfs.removexattr(cred(), path, name), done(cb)),
  }
}
