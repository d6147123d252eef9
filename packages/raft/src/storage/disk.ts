/**
 * The disk seam. Production uses the node:fs implementation; the simulator's SimDisk
 * (packages/sim) implements the same shape and loses, at a crash, every write, truncate,
 * create, rename and remove that was not made durable by sync()/syncDir().
 *
 * Paths are '/'-separated and relative to the disk's root.
 */
export interface DiskFile {
  /** Reads up to `length` bytes at `position`; fewer at the end of the file. */
  read(position: number, length: number): Promise<Uint8Array>
  /** Writes `data` at `position`, extending the file if needed. Not durable until sync(). */
  write(position: number, data: Uint8Array): Promise<void>
  /** Cuts (or zero-extends) the file to `size` bytes. Not durable until sync(). */
  truncate(size: number): Promise<void>
  /** The file's current size, including writes not yet synced. */
  size(): Promise<number>
  /** Makes every earlier write and truncate of this file durable (fdatasync). */
  sync(): Promise<void>
  /**
   * True when the file was opened with `durableWrites` and the disk honours it: each write()
   * is durable once it resolves (as if followed by sync()), so a writer may skip sync().
   * Absent or false: durable only after sync().
   */
  readonly durableWrites?: boolean
  close(): Promise<void>
}

export interface OpenOptions {
  /**
   * Ask that each write() be durable when it resolves (O_DSYNC): one system call instead of a
   * write and an fdatasync, each a round trip through libuv's thread pool. A disk may ignore
   * it; DiskFile.durableWrites tells whether it did.
   */
  durableWrites?: boolean
}

export type OpenMode =
  /** Read only; the file must exist (ENOENT otherwise). */
  | 'read'
  /** Read and write; the file must exist. */
  | 'readWrite'
  /** Read and write; creates an empty file if missing (the new name is durable after syncDir). */
  | 'create'

export interface Disk {
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<DiskFile>
  /** Names (not paths) of the entries of a directory, sorted; [] when it does not exist. */
  list(dir: string): Promise<string[]>
  exists(path: string): Promise<boolean>
  /** Atomically replaces `to` with `from`. Durable after syncDir of the directory. */
  rename(from: string, to: string): Promise<void>
  /** Removes a file; durable after syncDir of its directory. Missing files are not an error. */
  remove(path: string): Promise<void>
  /** Creates a directory and its parents (durable at once in this model). */
  mkdirp(dir: string): Promise<void>
  /** Makes the directory's entries (creates, renames, removes) durable. */
  syncDir(dir: string): Promise<void>
}
