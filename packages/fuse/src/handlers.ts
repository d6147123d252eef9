/**
 * fuse-native handlers over a Vfs. Each one is: the caller's credentials -> one Vfs call ->
 * a reply, or fuseErrno(err) for a failure. Nothing else happens here.
 */
import type { TimeChange, Vfs } from '@tessera/client'
import { silentLogger, asTesseraError, type Credentials, type Logger } from '@tessera/protocol'
import type Fuse from '@tessera/fuse-native'
import { fuseErrno } from './errno.js'
import { toStat, toStatfs } from './stat.js'

export interface HandlerContext {
  vfs: Vfs
  /** The credentials meta checks a call with: by default the calling process's own (callerCredentials). */
  credentials?(caller: Fuse.Caller): Credentials
  capacityBytes: number
  logger?: Logger
}

/** The calling process's uid, gid and supplementary groups, as libfuse read them for the request. */
export function callerCredentials(caller: Fuse.Caller): Credentials {
  return { uid: caller.uid, gid: caller.gid, groups: caller.groups }
}

/** A utimens time as the Vfs takes it (milliseconds, floored to whole ones also before 1970). */
export function timeChange(t: Fuse.Time): TimeChange {
  if (t === 'now' || t === 'omit') return t
  const sec = Math.floor(t / 1000)
  return { sec, nsec: (t - sec * 1000) * 1_000_000 }
}

export function makeHandlers(ctx: HandlerContext): Fuse.Operations {
  const { vfs } = ctx
  const logger = ctx.logger ?? silentLogger()
  const cred = (caller: Fuse.Caller): Credentials => (ctx.credentials === undefined ? callerCredentials(caller) : ctx.credentials(caller))

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
    getattr: (path, cb, caller) => run('getattr', cb, () => vfs.getattr(cred(caller), path), (attr) => cb(0, toStat(attr))),
    // fuse-native routes fgetattr to getattr(path); this is here for a binding that does not.
    fgetattr: (path, fd, cb, caller) => run('fgetattr', cb, () => (fd > 0 ? vfs.fgetattr(fd) : vfs.getattr(cred(caller), path)), (attr) => cb(0, toStat(attr))),
    access: (path, mode, cb, caller) => run('access', cb, () => vfs.access(cred(caller), path, mode), done(cb)),
    statfs: (_path, cb) => run('statfs', cb, () => vfs.statfs(), (reply) => cb(0, toStatfs(reply, ctx.capacityBytes))),
    readdir: (path, cb, caller) => run('readdir', cb, () => vfs.readdir(cred(caller), path), (entries) => cb(0, ['.', '..', ...entries.map((e) => e.name)])),
    readlink: (path, cb, caller) => run('readlink', cb, () => vfs.readlink(cred(caller), path), (target) => cb(0, target)),
    mkdir: (path, mode, cb, caller) => run('mkdir', cb, () => vfs.mkdir(cred(caller), path, mode), done(cb)),
    mknod: (path, mode, _dev, cb, caller) => run('mknod', cb, () => vfs.mknod(cred(caller), path, mode), done(cb)),
    rmdir: (path, cb, caller) => run('rmdir', cb, () => vfs.rmdir(cred(caller), path), done(cb)),
    unlink: (path, cb, caller) => run('unlink', cb, () => vfs.unlink(cred(caller), path), done(cb)),
    rename: (src, dest, cb, caller) => run('rename', cb, () => vfs.rename(cred(caller), src, dest), done(cb)),
    link: (src, dest, cb, caller) => run('link', cb, () => vfs.link(cred(caller), src, dest), done(cb)),
    symlink: (target, path, cb, caller) => run('symlink', cb, () => vfs.symlink(cred(caller), target, path), done(cb)),
    chmod: (path, mode, cb, caller) => run('chmod', cb, () => vfs.chmod(cred(caller), path, mode), done(cb)),
    chown: (path, uid, gid, cb, caller) => run('chown', cb, () => vfs.chown(cred(caller), path, uid, gid), done(cb)),
    utimens: (path, atime, mtime, cb, caller) => run('utimens', cb, () => vfs.utimens(cred(caller), path, timeChange(atime), timeChange(mtime)), done(cb)),
    truncate: (path, size, cb, caller) => run('truncate', cb, () => vfs.truncate(cred(caller), path, size), done(cb)),
    ftruncate: (_path, fd, size, cb) => run('ftruncate', cb, () => vfs.ftruncate(fd, size), done(cb)),
    create: (path, mode, flags, cb, caller) => run('create', cb, () => vfs.create(cred(caller), path, mode, flags), (fh) => cb(0, fh)),
    open: (path, flags, cb, caller) => run('open', cb, () => vfs.open(cred(caller), path, flags), (fh) => cb(0, fh)),
    read: (_path, fd, buffer, length, position, cb) => run('read', cb, () => vfs.read(fd, position, length), (bytes) => {
      bytes.copy(buffer, 0, 0, Math.min(bytes.length, length))
      cb(Math.min(bytes.length, length))
    }),
    write: (_path, fd, buffer, length, position, cb) => run('write', cb, () => vfs.write(fd, position, buffer.subarray(0, length)), (n) => cb(n)),
    flush: (_path, fd, cb) => run('flush', cb, () => vfs.flush(fd), done(cb)),
    fsync: (_path, _datasync, fd, cb) => run('fsync', cb, () => vfs.fsync(fd), done(cb)),
    release: (_path, fd, cb) => run('release', cb, () => vfs.release(fd), done(cb)),
    setxattr: (path, name, value, _position, flags, cb, caller) => run('setxattr', cb, () => vfs.setxattr(cred(caller), path, name, Buffer.from(value), flags), done(cb)),
    getxattr: (path, name, _position, cb, caller) => run('getxattr', cb, () => vfs.getxattr(cred(caller), path, name), (value) => cb(0, Buffer.from(value))),
    listxattr: (path, cb, caller) => run('listxattr', cb, () => vfs.listxattr(cred(caller), path), (names) => cb(0, names)),
    removexattr: (path, name, cb, caller) => run('removexattr', cb, () => vfs.removexattr(cred(caller), path, name), done(cb)),
  }
}
