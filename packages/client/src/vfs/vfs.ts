/**
 * Vfs: the file system a mount serves, over a MetaClient (namespace) and a DataPath (file bytes).
 *
 * - Paths are resolved by lookups from the root through an entry cache ((parent, name) -> ino)
 *   and inodes' attributes come through an attribute cache; both keep entries `attrTtlMs` /
 *   `entryTtlMs` (default 1 s) and drop what a local change touches.
 * - Open regular files keep an OpenFile per inode (shared by its handles): writes land in memory,
 *   reads see them, and flush/fsync/release commit them (close-to-open consistency: open
 *   re-reads attributes from meta; close makes the file whole in meta). Concurrent writers on two
 *   mounts: the last commit wins.
 * - A file holding BACKGROUND_WRITEBACK_BLOCKS whole blocks of written bytes starts writing them
 *   back in the background while its writer goes on (dd's bytes travel to the chunk servers while
 *   the next ones arrive); a failure leaves the bytes buffered, and the next flush retries and
 *   reports it. Buffered bytes of all files are bounded (`maxDirtyBytes`, default 256 MiB): past
 *   it, the largest file's whole blocks are written back before the write returns.
 * - Every call takes the caller's credentials; meta checks permissions with them. Failures are
 *   TesseraErrors with a POSIX code.
 * - Round trips are kept to what the semantics need, and counted (`stats()`, CallStats): an open
 *   for reading asks meta once (getBlocks: fresh size and blocks, read access checked); an
 *   ftruncate or O_TRUNC through a handle open for writing travels with the file's commit; a
 *   utimens to now right after this Vfs created the file is already true (`touch`); a file
 *   created and closed without writes commits nothing; an extended attribute found missing is
 *   not asked for again within the attribute TTL, nor security.capability of a file this Vfs
 *   just created (the kernel asks for it before every write(2)); readdir asks for attributes
 *   with the names (plus), so the lookup, getattr and security.* getxattr that ls -l, rm -rf or
 *   find send per listed name are answered here within the TTLs.
 */
import {
  FileMode, ROOT_INO, TesseraError, UTIME_NOW, asTesseraError, hasCode, silentLogger,
  type Attr, type Credentials, type DirEntry, type Ino, type Logger, type StatfsReply, type Timespec,
} from '@tessera/protocol'
import type { MetaClient } from '../meta-client.js'
import { splitParent, splitPath } from '../paths.js'
import { mayAccess, AccessMask } from './access.js'
import { CallStats, countedNamespace, type NamespaceCalls } from './call-stats.js'
import type { DataPath } from './data-path.js'
import { OpenFile, type KnownContents } from './open-file.js'
import { OpenFlag, readsAllowed, writesAllowed } from './open-flags.js'
import { TtlCache } from './ttl-cache.js'

export interface VfsOptions {
  /** How long attributes are served from the cache (default 1000 ms; 0 disables). */
  attrTtlMs?: number
  /** How long a name -> inode entry is served from the cache (default 1000 ms; 0 disables). */
  entryTtlMs?: number
  /** Bound on written bytes held in memory across all open files (default 256 MiB). */
  maxDirtyBytes?: number
  logger?: Logger
}

/** A time for utimens: a time, the time of the change, or unchanged. */
export type TimeChange = Timespec | 'now' | 'omit'

interface Handle {
  file: OpenFile
  flags: number
  cred: Credentials
}

const READDIR_PAGE = 1024
/**
 * A utimens to "now" this soon after this Vfs created the file (nothing else changed since) needs
 * no meta write: the create's times are that "now" already (`touch` of a new file: the create
 * and the utimens are one command's two calls). libfuse 2 hands "now" over as the kernel's
 * current time, so a time between the create's request and the utimens counts as "now" too; a
 * time from before the create (cp -p, tar) does not.
 */
const FRESH_CREATE_MS = 1000
/** The kernel stamps "now" from its coarse clock, up to a few ticks behind the fine one. */
const COARSE_CLOCK_MS = 10

function msOf(t: Timespec): number {
  return t.sec * 1000 + t.nsec / 1_000_000
}
const MAX_HANDLES = 0xffff_fffe

function isDir(attr: Attr): boolean {
  return (attr.mode & FileMode.IFMT) === FileMode.IFDIR
}

function isFile(attr: Attr): boolean {
  return (attr.mode & FileMode.IFMT) === FileMode.IFREG
}

function timeChange(t: TimeChange): Timespec | undefined {
  if (t === 'omit') return undefined
  return t === 'now' ? { sec: 0, nsec: UTIME_NOW } : t
}

/**
 * Whole blocks of written bytes that start a background write-back (the data path writes 4 blocks
 * at once). Without it a long sequential write filled the whole memory bound before the first
 * upload and then alternated between taking bytes and uploading them: fuse bench dd of 1 GiB of
 * random bytes ran at ~71 MB/s, against ~100-120 for the same data put through the library.
 */
export const BACKGROUND_WRITEBACK_BLOCKS = 4
/** After a failed background write-back, the file's next one waits this long (its bytes stay buffered). */
const BACKGROUND_RETRY_MS = 1000

export class Vfs {
  readonly maxDirtyBytes: number
  private readonly logger: Logger
  private readonly attrs: TtlCache<Ino, Attr>
  private readonly entries: TtlCache<string, Ino>
  /**
   * Extended attributes meta said a caller's inode lacks (ENODATA), by inode, credentials and
   * name, for the attribute TTL: the kernel asks for security.capability before every write(2)
   * to a FUSE file, which would otherwise cost a meta read per write call.
   */
  private readonly missingXattrs: TtlCache<string, true>
  /**
   * Inodes a plus readdir listed without any extended attribute, for the attribute TTL: a
   * security.* read of one (ls -l asks for security.selinux per name; meta checks no permission
   * on security.*, so the answer is every caller's) is ENODATA without a round trip.
   */
  private readonly bareInodes: TtlCache<Ino, true>
  /** Bumped by every local xattr change: an answer to a getxattr sent before it is not cached. */
  private xattrChanges = 0
  private readonly files = new Map<Ino, OpenFile>()
  /** Files with a background write-back running, or resting after one failed (until the time given). */
  private readonly writingBack = new Map<OpenFile, number>()
  private readonly handles = new Map<number, Handle>()
  private nextHandle = 1
  private buffered = 0
  private readonly calls = new CallStats()
  /** `meta`'s exec and query, counted in `calls`. */
  private readonly ns: NamespaceCalls

  constructor(readonly meta: MetaClient, readonly data: DataPath, options: VfsOptions = {}) {
    this.logger = options.logger ?? silentLogger()
    this.ns = countedNamespace(meta, this.calls)
    this.attrs = new TtlCache(options.attrTtlMs ?? 1000)
    this.entries = new TtlCache(options.entryTtlMs ?? 1000)
    this.missingXattrs = new TtlCache(options.attrTtlMs ?? 1000)
    this.bareInodes = new TtlCache(options.attrTtlMs ?? 1000)
    this.maxDirtyBytes = options.maxDirtyBytes ?? 256 * 1024 * 1024
    if (!(this.maxDirtyBytes >= data.blockSize)) throw new TesseraError('EINVAL', `maxDirtyBytes must be at least one block (${data.blockSize})`)
  }

  /** Bytes written and held in memory, over all open files. */
  get bufferedBytes(): number {
    return this.buffered
  }

  /** Open handles. */
  get openHandles(): number {
    return this.handles.size
  }

  /** The calls made so far to meta and (when the DataPath counts them) to the cluster, by kind (CallStats). */
  stats(): Record<string, number> {
    return { ...this.calls.snapshot(), ...this.data.callCounts?.() }
  }

  // ---- attributes and names ----

  async getattr(cred: Credentials, path: string): Promise<Attr> {
    return this.withLocal(await this.attrOf(await this.lookupPath(cred, path)))
  }

  fgetattr(fh: number): Attr {
    const { file } = this.handle(fh)
    return this.withLocal(file.attr)
  }

  async access(cred: Credentials, path: string, mask: number): Promise<void> {
    const attr = await this.getattr(cred, path)
    if (mask !== AccessMask.F_OK && !mayAccess(cred, attr, mask)) throw new TesseraError('EACCES', `permission denied: ${path}`)
  }

  /**
   * The directory's entries, asked with their attributes (readdir plus): the entry and attribute
   * caches learn every name, so the lookup or getattr the kernel sends per name next (ls -l,
   * rm -rf, find) is answered here within the TTLs, as if this Vfs had looked each one up.
   */
  async readdir(cred: Credentials, path: string): Promise<DirEntry[]> {
    const ino = await this.lookupPath(cred, path)
    const entries: DirEntry[] = []
    let after: string | undefined
    for (;;) {
      const changes = this.xattrChanges
      const page = await this.ns.query({ op: 'readdir', cred, ino, limit: READDIR_PAGE, plus: true, ...(after === undefined ? {} : { after }) })
      this.learnListed(ino, page.entries, changes)
      entries.push(...page.entries)
      if (!page.more || page.entries.length === 0) return entries
      after = page.entries[page.entries.length - 1]!.name
    }
  }

  async readlink(cred: Credentials, path: string): Promise<string> {
    const ino = await this.lookupPath(cred, path)
    return (await this.ns.query({ op: 'readlink', ino })).target
  }

  async statfs(): Promise<StatfsReply> {
    return this.ns.query({ op: 'statfs' })
  }

  // ---- namespace changes ----

  async mkdir(cred: Credentials, path: string, mode: number): Promise<Attr> {
    const { parent, name } = await this.lookupParent(cred, path)
    const { attr } = await this.ns.exec({ op: 'mkdir', cred, parent, name, mode: mode & FileMode.PERMS })
    return this.learned(parent, name, attr)
  }

  /** A regular file (mknod(2) of other types is refused by meta with EPERM). */
  async mknod(cred: Credentials, path: string, mode: number): Promise<Attr> {
    const { parent, name } = await this.lookupParent(cred, path)
    const { attr } = await this.ns.exec({ op: 'mknod', cred, parent, name, mode })
    return this.learned(parent, name, attr)
  }

  async rmdir(cred: Credentials, path: string): Promise<void> {
    const { parent, name } = await this.lookupParent(cred, path)
    await this.ns.exec({ op: 'rmdir', cred, parent, name })
    this.forget(parent, name)
  }

  async unlink(cred: Credentials, path: string): Promise<void> {
    const { parent, name } = await this.lookupParent(cred, path)
    await this.ns.exec({ op: 'unlink', cred, parent, name })
    this.forget(parent, name)
  }

  /** flags: RenameFlag bits. */
  async rename(cred: Credentials, from: string, to: string, flags = 0): Promise<void> {
    const src = await this.lookupParent(cred, from)
    const dst = await this.lookupParent(cred, to)
    await this.ns.exec({ op: 'rename', cred, parent: src.parent, name: src.name, newParent: dst.parent, newName: dst.name, flags })
    this.forget(src.parent, src.name)
    this.forget(dst.parent, dst.name)
  }

  async link(cred: Credentials, existing: string, newPath: string): Promise<Attr> {
    const ino = await this.lookupPath(cred, existing)
    const { parent, name } = await this.lookupParent(cred, newPath)
    const { attr } = await this.ns.exec({ op: 'link', cred, ino, newParent: parent, newName: name })
    return this.learned(parent, name, attr)
  }

  async symlink(cred: Credentials, target: string, path: string): Promise<Attr> {
    const { parent, name } = await this.lookupParent(cred, path)
    const { attr } = await this.ns.exec({ op: 'symlink', cred, parent, name, target })
    return this.learned(parent, name, attr)
  }

  // ---- attribute changes ----

  async chmod(cred: Credentials, path: string, mode: number): Promise<Attr> {
    return this.setattr(cred, await this.lookupPath(cred, path), { mode: mode & FileMode.PERMS })
  }

  /** uid or gid -1 (or 0xffffffff) leaves it unchanged, as chown(2). */
  async chown(cred: Credentials, path: string, uid: number, gid: number): Promise<Attr> {
    const keep = (id: number): boolean => id === -1 || id === 0xffff_ffff
    return this.setattr(cred, await this.lookupPath(cred, path), {
      ...(keep(uid) ? {} : { uid }), ...(keep(gid) ? {} : { gid }),
    })
  }

  async utimens(cred: Credentials, path: string, atime: TimeChange, mtime: TimeChange): Promise<Attr> {
    const ino = await this.lookupPath(cred, path)
    const a = timeChange(atime)
    const m = timeChange(mtime)
    const file = this.files.get(ino)
    const now = Date.now()
    const createdAt = file?.freshlyCreatedAt(now, FRESH_CREATE_MS)
    const isNow = (t: TimeChange): boolean =>
      t === 'now' || t === 'omit' || (createdAt !== undefined && msOf(t) >= createdAt - COARSE_CLOCK_MS && msOf(t) <= now)
    // Setting times to now is the owner's right (or a writer's): the creator owns a new file.
    if (file !== undefined && createdAt !== undefined && file.attr.uid === cred.uid && isNow(atime) && isNow(mtime)) {
      return this.withLocal(file.attr)
    }
    // Pending writes would set mtime again at their commit: commit them first.
    await file?.commit(cred)
    return this.setattr(cred, ino, { ...(a === undefined ? {} : { atime: a }), ...(m === undefined ? {} : { mtime: m }) })
  }

  async truncate(cred: Credentials, path: string, size: number): Promise<Attr> {
    return this.truncateIno(cred, await this.lookupPath(cred, path), size)
  }

  async ftruncate(fh: number, size: number): Promise<Attr> {
    const handle = this.handle(fh)
    return this.truncateIno(handle.cred, handle.file.ino, size, handle)
  }

  // ---- extended attributes ----

  /** flags: XattrFlag bits (CREATE, REPLACE). */
  async setxattr(cred: Credentials, path: string, name: string, value: Uint8Array, flags: number): Promise<void> {
    const ino = await this.lookupPath(cred, path)
    try {
      await this.ns.exec({ op: 'setxattr', cred, ino, name, value, flags })
    } finally {
      this.xattrChanges++
      this.missingXattrs.clear()
      this.bareInodes.clear()
    }
  }

  /** The value (ENODATA when the attribute is not set). */
  async getxattr(cred: Credentials, path: string, name: string): Promise<Uint8Array> {
    const ino = await this.lookupPath(cred, path)
    const key = xattrKey(ino, cred, name)
    if (this.missingXattrs.get(key) === true || (name.startsWith('security.') && this.bareInodes.get(ino) === true)) {
      throw new TesseraError('ENODATA', `no attribute ${name}`)
    }
    const changes = this.xattrChanges
    try {
      const reply = await this.ns.query({ op: 'getxattr', cred, ino, name, size: 0xffff_ffff })
      return reply.value ?? new Uint8Array(0)
    } catch (err) {
      if (hasCode(err, 'ENODATA') && changes === this.xattrChanges) this.missingXattrs.set(key, true)
      throw err
    }
  }

  async listxattr(cred: Credentials, path: string): Promise<string[]> {
    const ino = await this.lookupPath(cred, path)
    return (await this.ns.query({ op: 'listxattr', cred, ino, size: 0xffff_ffff })).names ?? []
  }

  async removexattr(cred: Credentials, path: string, name: string): Promise<void> {
    const ino = await this.lookupPath(cred, path)
    try {
      await this.ns.exec({ op: 'removexattr', cred, ino, name })
    } finally {
      this.xattrChanges++
      this.missingXattrs.clear()
      this.bareInodes.clear()
    }
  }

  // ---- open files ----

  /** open(2) of an existing regular file; returns a handle (> 0). */
  async open(cred: Credentials, path: string, flags: number): Promise<number> {
    const ino = await this.lookupPath(cred, path)
    if (!writesAllowed(flags) && !this.files.has(ino)) {
      const cached = this.attrs.get(ino)
      if (cached !== undefined && isFile(cached)) {
        // Close-to-open needs the file's committed size and blocks, fresh: one getBlocks brings
        // both (meta checks read access with it), instead of a getattr now and a getBlocks at
        // the first read. The other attributes stay the cached ones (at most the attr TTL old).
        const fresh = await this.ns.query({ op: 'getBlocks', cred, ino })
        return this.openHandle(cred, { ...cached, size: fresh.size }, flags, { pieces: fresh.blocks })
      }
    }
    const attr = await this.attrOf(ino, true) // close-to-open: never from the cache
    if (isDir(attr)) {
      if (writesAllowed(flags)) throw new TesseraError('EISDIR', `${path} is a directory`)
    } else if (!isFile(attr)) {
      throw new TesseraError('EINVAL', `${path} is not a regular file`)
    }
    const wanted = (readsAllowed(flags) ? AccessMask.R_OK : 0) | (writesAllowed(flags) ? AccessMask.W_OK : 0)
    if (!mayAccess(cred, attr, wanted)) throw new TesseraError('EACCES', `permission denied: open ${path}`)
    const fh = this.openHandle(cred, attr, flags)
    if ((flags & OpenFlag.O_TRUNC) !== 0 && writesAllowed(flags) && isFile(attr)) {
      try {
        await this.truncateIno(cred, ino, 0, this.handle(fh))
      } catch (err) {
        await this.release(fh).catch(() => undefined)
        throw err
      }
    }
    return fh
  }

  /** open(2) with O_CREAT: creates the file (O_EXCL: EEXIST if it exists) and opens it. */
  async create(cred: Credentials, path: string, mode: number, flags: number): Promise<number> {
    const { parent, name } = await this.lookupParent(cred, path)
    const requested = Date.now()
    const reply = await this.ns.exec({
      op: 'create', cred, parent, name, mode: FileMode.IFREG | (mode & FileMode.PERMS), exclusive: (flags & OpenFlag.O_EXCL) !== 0,
    })
    this.learned(parent, name, reply.attr)
    if (!reply.created) return this.open(cred, path, flags & ~OpenFlag.O_CREAT)
    // A new file has no extended attributes: the writes that follow need not ask meta.
    this.missingXattrs.set(xattrKey(reply.attr.ino, cred, CAPABILITY_XATTR), true)
    return this.openHandle(cred, reply.attr, flags, { pieces: [], createdAt: requested })
  }

  async read(fh: number, offset: number, length: number): Promise<Buffer> {
    const handle = this.handle(fh)
    if (!readsAllowed(handle.flags)) throw new TesseraError('EBADF', 'handle not open for reading')
    checkRange(offset, length)
    return handle.file.read(handle.cred, offset, length)
  }

  /** Buffers the bytes (O_APPEND: at the end of the file); returns how many were taken. */
  async write(fh: number, offset: number, bytes: Uint8Array): Promise<number> {
    const handle = this.handle(fh)
    if (!writesAllowed(handle.flags)) throw new TesseraError('EBADF', 'handle not open for writing')
    checkRange(offset, bytes.byteLength)
    const at = (handle.flags & OpenFlag.O_APPEND) !== 0 ? handle.file.size : offset
    handle.file.write(handle.cred, at, bytes)
    if (this.buffered > this.maxDirtyBytes) await this.relieveMemory(handle.cred)
    else this.writeBackInBackground(handle)
    return bytes.byteLength
  }

  /** close(2) of one descriptor: commits the file's pending changes. */
  async flush(fh: number): Promise<void> {
    const handle = this.handle(fh)
    await handle.file.commit(handle.cred)
  }

  /** Returns once the file's data and metadata are durable. */
  async fsync(fh: number): Promise<void> {
    await this.flush(fh)
  }

  /** The last close of a handle: commits and forgets it. */
  async release(fh: number): Promise<void> {
    const handle = this.handle(fh)
    this.handles.delete(fh)
    const file = handle.file
    file.handles--
    try {
      await file.commit(handle.cred)
    } finally {
      if (file.handles === 0 && this.files.get(file.ino) === file) {
        if (file.hasChanges) this.logger.error({ ino: file.ino }, 'vfs: released a file whose last changes could not be committed')
        this.files.delete(file.ino)
        this.writingBack.delete(file)
        file.close()
        this.attrs.set(file.ino, file.attr)
        this.buffered -= file.bufferedBytes
      }
    }
  }

  /** Commits every open file (best effort; the first failure is thrown after all were tried). */
  async close(): Promise<void> {
    let first: unknown
    for (const handle of [...this.handles.values()]) {
      await handle.file.commit(handle.cred).catch((err) => { first ??= err })
    }
    this.handles.clear()
    for (const file of this.files.values()) file.close()
    this.files.clear()
    this.logger.info({ calls: this.stats() }, 'vfs: calls made')
    this.attrs.clear()
    this.entries.clear()
    this.missingXattrs.clear()
    this.bareInodes.clear()
    if (first !== undefined) throw asTesseraError(first)
  }

  // ---- internals ----

  private handle(fh: number): Handle {
    const handle = this.handles.get(fh)
    if (handle === undefined) throw new TesseraError('EBADF', `no open file handle ${fh}`)
    return handle
  }

  private openHandle(cred: Credentials, attr: Attr, flags: number, known?: KnownContents): number {
    if (this.handles.size >= MAX_HANDLES) throw new TesseraError('EAGAIN', 'too many open files')
    let file = this.files.get(attr.ino)
    if (file === undefined) {
      file = new OpenFile(attr.ino, attr, {
        meta: this.ns, data: this.data, onMemory: (delta) => { this.buffered += delta }, logger: this.logger,
      }, known)
      this.files.set(attr.ino, file)
    } else {
      file.revalidate(attr)
    }
    file.handles++
    while (this.handles.has(this.nextHandle)) this.nextHandle = this.nextHandle >= MAX_HANDLES ? 1 : this.nextHandle + 1
    const fh = this.nextHandle
    this.nextHandle = fh >= MAX_HANDLES ? 1 : fh + 1
    this.handles.set(fh, { file, flags, cred })
    return fh
  }

  /** Writes back the largest files' whole blocks until the buffered bytes fit the bound. */
  /** Starts writing the file's whole blocks back when it holds enough of them (see BACKGROUND_WRITEBACK_BLOCKS). */
  private writeBackInBackground(handle: Handle): void {
    const file = handle.file
    if (file.dirtyBytes < BACKGROUND_WRITEBACK_BLOCKS * this.data.blockSize) return
    const busyUntil = this.writingBack.get(file)
    if (busyUntil !== undefined && busyUntil > Date.now()) return
    this.writingBack.set(file, Number.POSITIVE_INFINITY)
    file.writeBack(handle.cred, true).then(
      () => this.writingBack.delete(file),
      (err: unknown) => {
        this.writingBack.set(file, Date.now() + BACKGROUND_RETRY_MS)
        this.logger.debug({ ino: file.ino, err: asTesseraError(err).message }, 'vfs: background write-back failed; the bytes stay buffered for the next flush')
      },
    )
  }

  private async relieveMemory(cred: Credentials): Promise<void> {
    for (let round = 0; round < 64 && this.buffered > this.maxDirtyBytes; round++) {
      let largest: OpenFile | undefined
      for (const file of this.files.values()) if (largest === undefined || file.dirtyBytes > largest.dirtyBytes) largest = file
      if (largest === undefined || largest.dirtyBytes === 0) return // all of it is being written already
      await largest.writeBack(cred, largest.dirtyBytes >= this.data.blockSize)
    }
  }

  /** `through`: the handle of an ftruncate or O_TRUNC open (a truncate by path has none). */
  private async truncateIno(cred: Credentials, ino: Ino, size: number, through?: Handle): Promise<Attr> {
    if (!Number.isSafeInteger(size) || size < 0) throw new TesseraError('EINVAL', `bad size ${size}`)
    const file = this.files.get(ino)
    if (file !== undefined && through !== undefined && this.mayTruncateLocally(through) && await file.truncateLocally(cred, size)) {
      return this.withLocal(file.attr)
    }
    const attr = file !== undefined
      ? await file.truncate(cred, size)
      : (await this.ns.exec({ op: 'setattr', cred, ino, size })).attr
    this.attrs.set(ino, attr)
    return this.withLocal(attr)
  }

  /**
   * An ftruncate (or O_TRUNC) through a handle open for writing is applied here and sent with the
   * file's commit at flush/fsync/release (commitFile checks write access as setattr would), when
   * write access shows in the attributes meta gave at open; otherwise meta decides at once. A
   * truncate by path always goes to meta: its caller may hold no handle that will commit it.
   */
  private mayTruncateLocally(through: Handle): boolean {
    return writesAllowed(through.flags) && mayAccess(through.cred, through.file.attr, AccessMask.W_OK)
  }

  private async setattr(cred: Credentials, ino: Ino, changes: { mode?: number; uid?: number; gid?: number; atime?: Timespec; mtime?: Timespec }): Promise<Attr> {
    const { attr } = await this.ns.exec({ op: 'setattr', cred, ino, ...changes })
    this.attrs.set(ino, attr)
    const file = this.files.get(ino)
    if (file !== undefined) file.attr = attr
    return this.withLocal(attr)
  }

  /** The attributes with an open file's local size and mtime. */
  private withLocal(attr: Attr): Attr {
    const file = this.files.get(attr.ino)
    if (file === undefined) return attr
    const mtime = file.localMtime
    return { ...attr, size: file.size, ...(mtime === undefined ? {} : { mtime }) }
  }

  private async attrOf(ino: Ino, fresh = false): Promise<Attr> {
    if (!fresh) {
      const cached = this.attrs.get(ino)
      if (cached !== undefined) return cached
    }
    const { attr } = await this.ns.query({ op: 'getattr', ino })
    this.attrs.set(ino, attr)
    return attr
  }

  private async lookupPath(cred: Credentials, path: string): Promise<Ino> {
    let ino = ROOT_INO
    for (const name of splitPath(path)) ino = await this.child(cred, ino, name)
    return ino
  }

  private async lookupParent(cred: Credentials, path: string): Promise<{ parent: Ino; name: string }> {
    const { parent, name } = splitParent(path)
    let ino = ROOT_INO
    for (const part of parent) ino = await this.child(cred, ino, part)
    return { parent: ino, name }
  }

  private async child(cred: Credentials, parent: Ino, name: string): Promise<Ino> {
    const key = `${parent}/${name}`
    const cached = this.entries.get(key)
    if (cached !== undefined) return cached
    const { attr } = await this.ns.query({ op: 'lookup', cred, parent, name })
    this.entries.set(key, attr.ino)
    this.attrs.set(attr.ino, attr)
    return attr.ino
  }

  /**
   * Caches what a plus readdir page told of each entry (meta sends attributes only to a caller
   * that may search the directory, the right a lookup needs). An inode open here keeps the
   * attributes it has: its own changes may be newer than the listing. "No extended attributes"
   * is not learned from a page asked before a local xattr change.
   */
  private learnListed(dir: Ino, listed: DirEntry[], xattrChanges: number): void {
    for (const entry of listed) {
      if (entry.attr === undefined) continue
      this.entries.set(`${dir}/${entry.name}`, entry.ino)
      if (!this.files.has(entry.ino)) this.attrs.set(entry.ino, entry.attr)
      if (entry.xattrs === false && xattrChanges === this.xattrChanges) this.bareInodes.set(entry.ino, true)
    }
  }

  /** Caches a new entry; the parent's attributes (mtime, nlink) changed. */
  private learned(parent: Ino, name: string, attr: Attr): Attr {
    this.entries.set(`${parent}/${name}`, attr.ino)
    this.attrs.set(attr.ino, attr)
    this.attrs.delete(parent)
    return attr
  }

  /** Drops an entry that went away and the attributes that changed with it. */
  private forget(parent: Ino, name: string): void {
    const key = `${parent}/${name}`
    const ino = this.entries.get(key)
    this.entries.delete(key)
    if (ino !== undefined) this.attrs.delete(ino) // nlink and ctime changed
    this.attrs.delete(parent)
  }
}

/** security.* reads are not permission-checked by meta: their answer is the same for every caller. */
function xattrKey(ino: Ino, cred: Credentials, name: string): string {
  return name.startsWith('security.') ? `${ino}//${name}` : `${ino}/${cred.uid}/${cred.gid}/${cred.groups.join(',')}/${name}`
}

/** What the kernel asks of a FUSE file before each write(2) (to drop file capabilities). */
const CAPABILITY_XATTR = 'security.capability'

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new TesseraError('EINVAL', `bad range ${offset}+${length}`)
  }
}
