/**
 * The in-memory inode: one object per file, directory or symlink, kept small (leader heap is the
 * namespace's capacity limit) and never mutated once stored in the inode table: snapshots share
 * the objects with the live state, so a change stores a modified copy (see Tx).
 *
 * Times are two small integers each (seconds, nanoseconds) so that V8 keeps them as Smis inside
 * the object instead of boxing doubles.
 */
import { FileMode, type Attr, type Ino, type Timespec } from '@tessera/protocol'

/** A sorted (by name, UTF-16 order) immutable list of extended attributes. */
export type XattrList = readonly (readonly [name: string, value: Uint8Array])[]

/**
 * What `data` holds by type:
 * - regular file: its encoded block list (see block-list.ts), '' when it has none;
 * - directory: the parent directory's inode number (the root is its own parent);
 * - symlink: the target.
 */
export type InodeData = string | number

export class Inode {
  constructor(
    public mode: number,
    public uid: number,
    public gid: number,
    public nlink: number,
    public size: number,
    public atimeSec: number,
    public atimeNsec: number,
    public mtimeSec: number,
    public mtimeNsec: number,
    public ctimeSec: number,
    public ctimeNsec: number,
    public data: InodeData,
    public xattrs: XattrList | undefined,
  ) {}

  static create(mode: number, uid: number, gid: number, nlink: number, size: number, time: Timespec, data: InodeData): Inode {
    return new Inode(mode, uid, gid, nlink, size, time.sec, time.nsec, time.sec, time.nsec, time.sec, time.nsec, data, undefined)
  }

  copy(): Inode {
    return new Inode(
      this.mode, this.uid, this.gid, this.nlink, this.size,
      this.atimeSec, this.atimeNsec, this.mtimeSec, this.mtimeNsec, this.ctimeSec, this.ctimeNsec,
      this.data, this.xattrs,
    )
  }

  get type(): number {
    return this.mode & FileMode.IFMT
  }

  isDir(): boolean {
    return (this.mode & FileMode.IFMT) === FileMode.IFDIR
  }

  isFile(): boolean {
    return (this.mode & FileMode.IFMT) === FileMode.IFREG
  }

  isSymlink(): boolean {
    return (this.mode & FileMode.IFMT) === FileMode.IFLNK
  }

  /** A directory's parent inode number. */
  get parent(): Ino {
    return this.data as number
  }

  setAtime(t: Timespec): void {
    this.atimeSec = t.sec
    this.atimeNsec = t.nsec
  }

  setMtime(t: Timespec): void {
    this.mtimeSec = t.sec
    this.mtimeNsec = t.nsec
  }

  setCtime(t: Timespec): void {
    this.ctimeSec = t.sec
    this.ctimeNsec = t.nsec
  }

  /** mtime and ctime to `t`: the mark of a change to a directory's entries or a file's data. */
  touchModified(t: Timespec): void {
    this.setMtime(t)
    this.setCtime(t)
  }

  toAttr(ino: Ino): Attr {
    return {
      ino,
      mode: this.mode,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      size: this.isDir() ? 0 : this.size,
      atime: { sec: this.atimeSec, nsec: this.atimeNsec },
      mtime: { sec: this.mtimeSec, nsec: this.mtimeNsec },
      ctime: { sec: this.ctimeSec, nsec: this.ctimeNsec },
      generation: 1,
    }
  }
}
