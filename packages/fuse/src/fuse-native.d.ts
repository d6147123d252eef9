/**
 * The part of @tessera/fuse-native (our fork of fuse-native 2.2.6: CommonJS, untyped) that the
 * adapter uses, as its index.js calls the handlers. Callbacks take a return code first: 0 or a
 * negative errno; read and write return the byte count instead. Every handler gets the calling
 * process last, after its callback.
 */
declare module '@tessera/fuse-native' {
  namespace Fuse {
    type Done = (code: number) => void
    type Reply<T> = (code: number, value?: T) => void

    /** The process that made the request, read by libfuse when the request arrived. */
    interface Caller {
      uid: number
      gid: number
      pid: number
      /**
       * Supplementary groups (libfuse's fuse_getgroups: "Groups:" of /proc/PID/task/PID/status),
       * read at most 1 s earlier for this same pid, uid and gid; empty if the caller was gone.
       */
      groups: number[]
    }

    /** A utimens time: milliseconds since the epoch, or utimensat's UTIME_NOW / UTIME_OMIT. */
    type Time = number | 'now' | 'omit'

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
      access?(path: string, mode: number, cb: Done, caller: Caller): void
      statfs?(path: string, cb: Reply<Statfs>, caller: Caller): void
      getattr?(path: string, cb: Reply<Stat>, caller: Caller): void
      fgetattr?(path: string, fd: number, cb: Reply<Stat>, caller: Caller): void
      flush?(path: string, fd: number, cb: Done, caller: Caller): void
      fsync?(path: string, datasync: number, fd: number, cb: Done, caller: Caller): void
      readdir?(path: string, cb: (code: number, names?: string[], stats?: Stat[]) => void, caller: Caller): void
      truncate?(path: string, size: number, cb: Done, caller: Caller): void
      ftruncate?(path: string, fd: number, size: number, cb: Done, caller: Caller): void
      utimens?(path: string, atime: Time, mtime: Time, cb: Done, caller: Caller): void
      readlink?(path: string, cb: Reply<string>, caller: Caller): void
      chown?(path: string, uid: number, gid: number, cb: Done, caller: Caller): void
      chmod?(path: string, mode: number, cb: Done, caller: Caller): void
      mknod?(path: string, mode: number, dev: number, cb: Done, caller: Caller): void
      setxattr?(path: string, name: string, value: Buffer, position: number, flags: number, cb: Done, caller: Caller): void
      getxattr?(path: string, name: string, position: number, cb: Reply<Buffer | null>, caller: Caller): void
      listxattr?(path: string, cb: Reply<string[]>, caller: Caller): void
      removexattr?(path: string, name: string, cb: Done, caller: Caller): void
      open?(path: string, flags: number, cb: Reply<number>, caller: Caller): void
      read?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Done, caller: Caller): void
      write?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Done, caller: Caller): void
      release?(path: string, fd: number, cb: Done, caller: Caller): void
      /** flags: open(2)'s flags (access mode, O_CREAT, O_EXCL, O_TRUNC, O_APPEND...). */
      create?(path: string, mode: number, flags: number, cb: Reply<number>, caller: Caller): void
      unlink?(path: string, cb: Done, caller: Caller): void
      rename?(src: string, dest: string, cb: Done, caller: Caller): void
      link?(src: string, dest: string, cb: Done, caller: Caller): void
      symlink?(target: string, path: string, cb: Done, caller: Caller): void
      mkdir?(path: string, mode: number, cb: Done, caller: Caller): void
      rmdir?(path: string, cb: Done, caller: Caller): void
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
