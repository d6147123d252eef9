/**
 * The part of fuse-native 2.2.6 (CommonJS, untyped) that the adapter uses, as its index.js
 * calls the handlers. Callbacks take a return code first: 0 or a negative errno; read and
 * write return the byte count instead.
 */
declare module 'fuse-native' {
  namespace Fuse {
    type Done = (code: number) => void
    type Reply<T> = (code: number, value?: T) => void

    interface Stat {
      mode: number
      uid: number
      gid: number
      size: number
      nlink: number
      ino: number
      blksize: number
      blocks: number
      dev?: number
      rdev?: number
      /** Milliseconds since the epoch (or a Date). */
      atime: number | Date
      mtime: number | Date
      ctime: number | Date
    }

    interface Statfs {
      bsize: number
      frsize: number
      blocks: number
      bfree: number
      bavail: number
      files: number
      ffree: number
      favail: number
      fsid: number
      flag: number
      namemax: number
    }

    interface Operations {
      init?(cb: Done): void
      access?(path: string, mode: number, cb: Done): void
      statfs?(path: string, cb: Reply<Statfs>): void
      getattr?(path: string, cb: Reply<Stat>): void
      fgetattr?(path: string, fd: number, cb: Reply<Stat>): void
      flush?(path: string, fd: number, cb: Done): void
      fsync?(path: string, datasync: number, fd: number, cb: Done): void
      readdir?(path: string, cb: (code: number, names?: string[], stats?: Stat[]) => void): void
      truncate?(path: string, size: number, cb: Done): void
      ftruncate?(path: string, fd: number, size: number, cb: Done): void
      /** Times in milliseconds since the epoch. */
      utimens?(path: string, atime: number, mtime: number, cb: Done): void
      readlink?(path: string, cb: Reply<string>): void
      chown?(path: string, uid: number, gid: number, cb: Done): void
      chmod?(path: string, mode: number, cb: Done): void
      mknod?(path: string, mode: number, dev: number, cb: Done): void
      setxattr?(path: string, name: string, value: Buffer, position: number, flags: number, cb: Done): void
      getxattr?(path: string, name: string, position: number, cb: Reply<Buffer | null>): void
      listxattr?(path: string, cb: Reply<string[]>): void
      removexattr?(path: string, name: string, cb: Done): void
      open?(path: string, flags: number, cb: Reply<number>): void
      read?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Done): void
      write?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Done): void
      release?(path: string, fd: number, cb: Done): void
      create?(path: string, mode: number, cb: Reply<number>): void
      unlink?(path: string, cb: Done): void
      rename?(src: string, dest: string, cb: Done): void
      link?(src: string, dest: string, cb: Done): void
      symlink?(target: string, path: string, cb: Done): void
      mkdir?(path: string, mode: number, cb: Done): void
      rmdir?(path: string, cb: Done): void
    }

    interface Options {
      /** Milliseconds before an unanswered operation fails with ETIMEDOUT; false: never. */
      timeout?: number | false
      force?: boolean
      mkdir?: boolean
      debug?: boolean
      allowOther?: boolean
      defaultPermissions?: boolean
      /** Joined as fsname=VALUE into the one -o string (see mount-options.ts). */
      fsname?: string
    }
  }

  class Fuse {
    constructor(mountpoint: string, ops: Fuse.Operations, options?: Fuse.Options)
    mount(cb: (err: Error | null) => void): void
    unmount(cb: (err: Error | null) => void): void
    static unmount(mountpoint: string, cb: (err: Error | null) => void): void
  }

  export = Fuse
}
