/**
 * SimDisk: an in-memory disk with a power-cut model, after FoundationDB's AsyncFileNonDurable
 * and TigerBeetle's testing/storage.zig.
 *
 * Every file (inode) has a durable image and a list of pending writes and truncates; every
 * directory has durable and live entry maps. `sync()` makes a file's pending operations
 * durable, `syncDir()` a directory's entries. `crash()` is a power cut: each pending write is
 * independently lost, applied whole, applied as a torn prefix, or applied with a flipped bit;
 * pending truncates are lost or applied; pending directory changes are lost; every open handle
 * and every view from before the crash rejects from then on. `restart()` brings the disk back
 * with only what was durable.
 *
 * It implements the Disk/DiskFile seam of @tessera/raft (packages/raft/src/storage/disk.ts)
 * structurally; sim must not import raft, so the shapes are repeated here. All methods are
 * async and resolve in microtasks only: no timers, no real I/O, fully deterministic.
 */
import { TesseraError, type ErrorCode } from '@tessera/protocol'
import { Prng } from './prng.js'

export interface DiskFile {
  read(position: number, length: number): Promise<Uint8Array>
  write(position: number, data: Uint8Array): Promise<void>
  truncate(size: number): Promise<void>
  size(): Promise<number>
  sync(): Promise<void>
  close(): Promise<void>
}

export type OpenMode = 'read' | 'readWrite' | 'create'

export interface Disk {
  open(path: string, mode: OpenMode): Promise<DiskFile>
  list(dir: string): Promise<string[]>
  exists(path: string): Promise<boolean>
  rename(from: string, to: string): Promise<void>
  remove(path: string): Promise<void>
  mkdirp(dir: string): Promise<void>
  syncDir(dir: string): Promise<void>
}

/** Relative weights of what a pending write becomes at a crash. */
export interface CrashFaults {
  /** Never reaches the disk. */
  lost: number
  /** Reaches the disk whole. */
  whole: number
  /** Only a prefix reaches the disk (a multiple of `tornGranularity` bytes, shorter than the write). */
  torn: number
  /** Reaches the disk whole but with one bit flipped. */
  bitFlip: number
}

export const DEFAULT_CRASH_FAULTS: Readonly<CrashFaults> = { lost: 0.4, whole: 0.4, torn: 0.2, bitFlip: 0 }

export type DiskOp = 'open' | 'read' | 'write' | 'truncate' | 'sync' | 'rename' | 'remove' | 'syncDir'

export interface SimDiskOptions {
  /** Where every fault decision comes from; the disk forks its own streams from it. */
  prng: Prng
  crashFaults?: Partial<CrashFaults>
  /** Torn writes keep a prefix that is a multiple of this many bytes (default 1). */
  tornGranularity?: number
  /** Probability that a read rejects with EIO. */
  readFaultProbability?: number
  /** Probability that a read returns its bytes with one bit flipped (the disk is unharmed). */
  readCorruptProbability?: number
  /** Probability that a write rejects with EIO (and has no effect). */
  writeFaultProbability?: number
  /** Probability that a sync rejects with EIO (the pending operations stay pending). */
  syncFaultProbability?: number
  /** Largest file size accepted (EFBIG beyond); default 1 GiB. */
  maxFileSize?: number
  /** Receives one line per crash and injected fault, for a trace buffer. */
  onEvent?: (text: string) => void
}

export interface CrashOptions {
  /** Decides each pending write's fate; defaults to the disk's own crash stream. */
  prng?: Prng
  /** Overrides the disk's crash weights for this crash only. */
  faults?: Partial<CrashFaults>
}

export interface DiskStats {
  writes: number
  syncs: number
  syncDirs: number
  crashes: number
  /** Fates of pending writes at crashes. */
  lostWrites: number
  wholeWrites: number
  tornWrites: number
  bitFlippedWrites: number
  lostTruncates: number
  /** Directories whose pending entry changes a crash threw away. */
  lostDirOps: number
  injectedFaults: number
}

const DEFAULT_MAX_FILE_SIZE = 1 << 30

/** A byte buffer that grows by doubling; bytes past `size` are always zero. */
class GrowBuf {
  private buf: Uint8Array
  size = 0

  constructor(initial?: Uint8Array) {
    this.buf = new Uint8Array(Math.max(64, initial?.length ?? 0))
    if (initial !== undefined) {
      this.buf.set(initial)
      this.size = initial.length
    }
  }

  write(position: number, data: Uint8Array): void {
    this.reserve(position + data.length)
    this.buf.set(data, position)
    this.size = Math.max(this.size, position + data.length)
  }

  truncate(size: number): void {
    if (size < this.size) this.buf.fill(0, size, this.size)
    else this.reserve(size)
    this.size = size
  }

  read(position: number, length: number): Uint8Array {
    if (position >= this.size) return new Uint8Array(0)
    return this.buf.slice(position, Math.min(this.size, position + length))
  }

  flipBit(position: number, bit: number): void {
    this.buf[position] = (this.buf[position] as number) ^ (1 << bit)
  }

  copy(): GrowBuf {
    return new GrowBuf(this.buf.subarray(0, this.size))
  }

  private reserve(capacity: number): void {
    if (capacity <= this.buf.length) return
    let next = this.buf.length
    while (next < capacity) next *= 2
    const grown = new Uint8Array(next)
    grown.set(this.buf.subarray(0, this.size))
    this.buf = grown
  }
}

type PendingOp = { kind: 'write'; position: number; data: Uint8Array } | { kind: 'truncate'; size: number }

interface Inode {
  id: number
  durable: GrowBuf
  live: GrowBuf
  pending: PendingOp[]
}

type Entry = { kind: 'file'; inode: Inode } | { kind: 'dir' }

interface Dir {
  durable: Map<string, Entry>
  live: Map<string, Entry>
}

function fail(code: ErrorCode, message: string): TesseraError {
  return new TesseraError(code, message)
}

/** Splits a '/'-separated path relative to the root; '' , '.' and '/' are the root. */
function components(path: string): string[] {
  if (typeof path !== 'string' || path.includes('\u0000')) throw fail('EINVAL', `invalid path: ${String(path)}`)
  const parts = path.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw fail('EINVAL', `'..' is not allowed in a disk path: ${path}`)
  return parts
}

function checkCount(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw fail('EINVAL', `${name} must be an integer in [0, ${max}], got ${value}`)
  }
}

export class SimDisk implements Disk {
  private readonly dirs = new Map<string, Dir>([['', { durable: new Map(), live: new Map() }]])
  /** Inodes with pending operations, in the order they first became dirty (deterministic). */
  private readonly dirty = new Set<Inode>()
  private readonly dirtyDirs = new Set<string>()
  private nextInode = 1
  private epoch = 0
  private down = false
  private readonly crashFaults: CrashFaults
  private readonly tornGranularity: number
  private readonly maxFileSize: number
  private readonly faultPrng: Prng
  private readonly crashPrng: Prng
  private readonly injected: Array<{ op: DiskOp; path: string; code: ErrorCode }> = []
  private readonly options: SimDiskOptions
  readonly stats: DiskStats = {
    writes: 0, syncs: 0, syncDirs: 0, crashes: 0, lostWrites: 0, wholeWrites: 0, tornWrites: 0,
    bitFlippedWrites: 0, lostTruncates: 0, lostDirOps: 0, injectedFaults: 0,
  }

  constructor(options: SimDiskOptions) {
    this.options = options
    this.crashFaults = validateCrashFaults({ ...DEFAULT_CRASH_FAULTS, ...options.crashFaults })
    this.tornGranularity = options.tornGranularity ?? 1
    if (!Number.isSafeInteger(this.tornGranularity) || this.tornGranularity < 1) {
      throw new RangeError(`SimDisk: tornGranularity must be a positive integer, got ${this.tornGranularity}`)
    }
    this.maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE
    for (const name of ['readFaultProbability', 'readCorruptProbability', 'writeFaultProbability', 'syncFaultProbability'] as const) {
      const p = options[name] ?? 0
      if (!(p >= 0 && p <= 1)) throw new RangeError(`SimDisk: ${name} ${p} not in [0, 1]`)
    }
    this.faultPrng = options.prng.fork()
    this.crashPrng = options.prng.fork()
  }

  // ---- the Disk seam (acting on whatever epoch is current) ----

  open(path: string, mode: OpenMode): Promise<DiskFile> {
    return this.run(undefined, () => this.doOpen(undefined, path, mode))
  }

  list(dir: string): Promise<string[]> {
    return this.run(undefined, () => this.doList(dir))
  }

  exists(path: string): Promise<boolean> {
    return this.run(undefined, () => this.doExists(path))
  }

  rename(from: string, to: string): Promise<void> {
    return this.run(undefined, () => this.doRename(from, to))
  }

  remove(path: string): Promise<void> {
    return this.run(undefined, () => this.doRemove(path))
  }

  mkdirp(dir: string): Promise<void> {
    return this.run(undefined, () => this.doMkdirp(dir))
  }

  syncDir(dir: string): Promise<void> {
    return this.run(undefined, () => this.doSyncDir(dir))
  }

  // ---- crash model ----

  /**
   * A power cut. Pending writes become lost / whole / torn / bit-flipped by the crash weights,
   * pending truncates are lost (with the `lost` weight's share) or applied, pending directory
   * changes are lost. Every handle and view from before rejects from now on, and so does the
   * disk itself until `restart()`.
   */
  crash(options?: Prng | CrashOptions): void {
    const { prng, faults } = options instanceof Prng ? { prng: options, faults: undefined } : (options ?? {})
    const weights = validateCrashFaults({ ...this.crashFaults, ...faults })
    const rng = prng ?? this.crashPrng
    for (const inode of this.dirty) {
      for (const op of inode.pending) this.applyAtCrash(inode, op, weights, rng)
      inode.pending = []
      inode.live = inode.durable.copy()
    }
    this.dirty.clear()
    for (const name of this.dirtyDirs) {
      const dir = this.dirs.get(name)
      if (dir === undefined) continue
      if (!sameEntries(dir.live, dir.durable)) this.stats.lostDirOps++
      dir.live = new Map(dir.durable)
    }
    this.dirtyDirs.clear()
    this.epoch++
    this.down = true
    this.stats.crashes++
    this.event(`crash (epoch ${this.epoch})`)
  }

  /** Brings a crashed disk back; returns a view that (like the disk) sees only durable state. */
  restart(): Disk {
    this.down = false
    this.event(`restart (epoch ${this.epoch})`)
    return this.view()
  }

  /**
   * A Disk bound to the current epoch: it rejects with EIO after the next crash, even once the
   * disk has restarted, so a node's zombie code can never touch its successor's disk.
   */
  view(): Disk {
    const epoch = this.epoch
    return {
      open: (path, mode) => this.run(epoch, () => this.doOpen(epoch, path, mode)),
      list: (dir) => this.run(epoch, () => this.doList(dir)),
      exists: (path) => this.run(epoch, () => this.doExists(path)),
      rename: (from, to) => this.run(epoch, () => this.doRename(from, to)),
      remove: (path) => this.run(epoch, () => this.doRemove(path)),
      mkdirp: (dir) => this.run(epoch, () => this.doMkdirp(dir)),
      syncDir: (dir) => this.run(epoch, () => this.doSyncDir(dir)),
    }
  }

  isDown(): boolean {
    return this.down
  }

  // ---- fault injection and inspection ----

  /** The next `op` on `path` (a file, or a directory for syncDir) rejects with `code`, without effect. */
  failNext(op: DiskOp, path: string, code: ErrorCode): void {
    this.injected.push({ op, path: components(path).join('/'), code })
  }

  failNextWrite(path: string, code: ErrorCode = 'EIO'): void {
    this.failNext('write', path, code)
  }

  /** Bit rot: flips one bit of a file's stored bytes (durable and live). */
  corrupt(path: string, position: number, bit = 0): void {
    const inode = this.lookupFile(path)
    if (position < 0 || bit < 0 || bit > 7 || !Number.isInteger(position) || !Number.isInteger(bit)) {
      throw new RangeError(`SimDisk.corrupt: bad position ${position} or bit ${bit}`)
    }
    if (position < inode.durable.size) inode.durable.flipBit(position, bit)
    if (position < inode.live.size) inode.live.flipBit(position, bit)
    this.event(`corrupt ${path} byte ${position} bit ${bit}`)
  }

  /** What a crash right now could at best leave: the durable bytes under a durable name. */
  readDurable(path: string): Uint8Array | undefined {
    const parts = components(path)
    const dir = this.dirs.get(parts.slice(0, -1).join('/'))
    const entry = dir?.durable.get(parts[parts.length - 1] ?? '')
    return entry?.kind === 'file' ? entry.inode.durable.read(0, entry.inode.durable.size) : undefined
  }

  /** Number of pending (unsynced) operations on the file currently named `path`. */
  pendingOps(path: string): number {
    return this.lookupFile(path).pending.length
  }

  // ---- internals ----

  private async run<R>(epoch: number | undefined, body: () => R): Promise<R> {
    if (epoch !== undefined && epoch !== this.epoch) throw fail('EIO', 'disk view from before a crash')
    if (this.down) throw fail('EIO', 'disk is down (crashed and not restarted)')
    return body()
  }

  private checkHandle(handle: { epoch: number; closed: boolean; path: string }): void {
    if (handle.epoch !== this.epoch) throw fail('EIO', `file handle from before a crash: ${handle.path}`)
    if (this.down) throw fail('EIO', 'disk is down (crashed and not restarted)')
    if (handle.closed) throw fail('EBADF', `file handle is closed: ${handle.path}`)
  }

  private injectFault(op: DiskOp, path: string, probability: number): void {
    const i = this.injected.findIndex((f) => f.op === op && f.path === path)
    if (i >= 0) {
      const { code } = this.injected.splice(i, 1)[0]!
      this.stats.injectedFaults++
      this.event(`injected ${code} on ${op} ${path}`)
      throw fail(code, `injected ${code} on ${op} of ${path}`)
    }
    if (probability > 0 && this.faultPrng.chance(probability)) {
      this.stats.injectedFaults++
      this.event(`random EIO on ${op} ${path}`)
      throw fail('EIO', `simulated I/O error on ${op} of ${path}`)
    }
  }

  /** The directory and leaf name of a path; the directory must exist. */
  private parent(path: string): { dir: Dir; dirPath: string; name: string; full: string } {
    const parts = components(path)
    if (parts.length === 0) throw fail('EISDIR', `not a file: the root directory`)
    const dirPath = parts.slice(0, -1).join('/')
    const dir = this.dirs.get(dirPath)
    if (dir === undefined) throw fail('ENOENT', `no such directory: ${dirPath === '' ? '/' : dirPath}`)
    return { dir, dirPath, name: parts[parts.length - 1] as string, full: parts.join('/') }
  }

  private lookupFile(path: string): Inode {
    const { dir, name, full } = this.parent(path)
    const entry = dir.live.get(name)
    if (entry === undefined) throw fail('ENOENT', `no such file: ${full}`)
    if (entry.kind !== 'file') throw fail('EISDIR', `is a directory: ${full}`)
    return entry.inode
  }

  private doOpen(viewEpoch: number | undefined, path: string, mode: OpenMode): DiskFile {
    if (mode !== 'read' && mode !== 'readWrite' && mode !== 'create') throw fail('EINVAL', `bad open mode: ${String(mode)}`)
    const { dir, dirPath, name, full } = this.parent(path)
    this.injectFault('open', full, 0)
    let entry = dir.live.get(name)
    if (entry === undefined) {
      if (mode !== 'create') throw fail('ENOENT', `no such file: ${full}`)
      const id = this.nextInode++
      entry = { kind: 'file', inode: { id, durable: new GrowBuf(), live: new GrowBuf(), pending: [] } }
      dir.live.set(name, entry)
      this.dirtyDirs.add(dirPath)
    }
    if (entry.kind !== 'file') throw fail('EISDIR', `is a directory: ${full}`)
    return this.handle(entry.inode, full, mode !== 'read', viewEpoch ?? this.epoch)
  }

  private handle(inode: Inode, path: string, writable: boolean, epoch: number): DiskFile {
    const state = { epoch, closed: false, path }
    const disk = this
    const guard = async <R>(body: () => R): Promise<R> => {
      disk.checkHandle(state)
      return body()
    }
    const checkWritable = (): void => {
      if (!writable) throw fail('EBADF', `file opened read-only: ${path}`)
    }
    return {
      read: (position, length) => guard(() => {
        checkCount('position', position, Number.MAX_SAFE_INTEGER)
        checkCount('length', length, disk.maxFileSize)
        disk.injectFault('read', path, disk.options.readFaultProbability ?? 0)
        const bytes = inode.live.read(position, length)
        if (bytes.length > 0 && disk.faultPrng.chance(disk.options.readCorruptProbability ?? 0)) {
          const at = disk.faultPrng.int(0, bytes.length)
          bytes[at] = (bytes[at] as number) ^ (1 << disk.faultPrng.int(0, 8))
          disk.event(`corrupt read of ${path} at +${position + at}`)
        }
        return bytes
      }),
      write: (position, data) => guard(() => {
        checkWritable()
        if (!(data instanceof Uint8Array)) throw fail('EINVAL', 'write data must be a Uint8Array')
        checkCount('position', position, disk.maxFileSize)
        if (position + data.length > disk.maxFileSize) throw fail('EFBIG', `file would exceed ${disk.maxFileSize} bytes: ${path}`)
        disk.injectFault('write', path, disk.options.writeFaultProbability ?? 0)
        const copy = data.slice()
        inode.live.write(position, copy)
        inode.pending.push({ kind: 'write', position, data: copy })
        disk.dirty.add(inode)
        disk.stats.writes++
      }),
      truncate: (size) => guard(() => {
        checkWritable()
        checkCount('size', size, disk.maxFileSize)
        disk.injectFault('truncate', path, 0)
        inode.live.truncate(size)
        inode.pending.push({ kind: 'truncate', size })
        disk.dirty.add(inode)
      }),
      size: () => guard(() => inode.live.size),
      sync: () => guard(() => {
        disk.injectFault('sync', path, disk.options.syncFaultProbability ?? 0)
        for (const op of inode.pending) applyOp(inode.durable, op)
        inode.pending = []
        disk.dirty.delete(inode)
        disk.stats.syncs++
      }),
      close: () => guard(() => {
        state.closed = true
      }),
    }
  }

  private doList(dir: string): string[] {
    const parts = components(dir)
    const found = this.dirs.get(parts.join('/'))
    if (found === undefined) {
      if (parts.length > 0) {
        const parentDir = this.dirs.get(parts.slice(0, -1).join('/'))
        if (parentDir?.live.get(parts[parts.length - 1] as string)?.kind === 'file') {
          throw fail('ENOTDIR', `not a directory: ${parts.join('/')}`)
        }
      }
      return []
    }
    return [...found.live.keys()].sort()
  }

  private doExists(path: string): boolean {
    const parts = components(path)
    if (parts.length === 0) return true
    const dir = this.dirs.get(parts.slice(0, -1).join('/'))
    return dir?.live.has(parts[parts.length - 1] as string) ?? false
  }

  private doRename(from: string, to: string): void {
    const src = this.parent(from)
    const dst = this.parent(to)
    this.injectFault('rename', src.full, 0)
    const entry = src.dir.live.get(src.name)
    if (entry === undefined) throw fail('ENOENT', `no such file: ${src.full}`)
    if (entry.kind !== 'file') throw fail('EISDIR', `renaming directories is not supported: ${src.full}`)
    if (src.full === dst.full) return
    if (dst.dir.live.get(dst.name)?.kind === 'dir') throw fail('EISDIR', `is a directory: ${dst.full}`)
    src.dir.live.delete(src.name)
    dst.dir.live.set(dst.name, entry)
    this.dirtyDirs.add(src.dirPath)
    this.dirtyDirs.add(dst.dirPath)
  }

  private doRemove(path: string): void {
    const parts = components(path)
    if (parts.length === 0) throw fail('EISDIR', 'cannot remove the root directory')
    const dirPath = parts.slice(0, -1).join('/')
    const dir = this.dirs.get(dirPath)
    const name = parts[parts.length - 1] as string
    const entry = dir?.live.get(name)
    if (dir === undefined || entry === undefined) return
    if (entry.kind === 'dir') throw fail('EISDIR', `is a directory: ${parts.join('/')}`)
    this.injectFault('remove', parts.join('/'), 0)
    dir.live.delete(name)
    this.dirtyDirs.add(dirPath)
  }

  private doMkdirp(path: string): void {
    const parts = components(path)
    for (let i = 1; i <= parts.length; i++) {
      const dirPath = parts.slice(0, i).join('/')
      if (this.dirs.has(dirPath)) continue
      const parentDir = this.dirs.get(parts.slice(0, i - 1).join('/')) as Dir
      const name = parts[i - 1] as string
      if (parentDir.live.has(name)) {
        throw fail(i === parts.length ? 'EEXIST' : 'ENOTDIR', `a file is in the way: ${dirPath}`)
      }
      // Directories are durable at once in this model.
      parentDir.live.set(name, { kind: 'dir' })
      parentDir.durable.set(name, { kind: 'dir' })
      this.dirs.set(dirPath, { durable: new Map(), live: new Map() })
    }
  }

  private doSyncDir(path: string): void {
    const dirPath = components(path).join('/')
    const dir = this.dirs.get(dirPath)
    if (dir === undefined) throw fail('ENOENT', `no such directory: ${dirPath === '' ? '/' : dirPath}`)
    this.injectFault('syncDir', dirPath, 0)
    dir.durable = new Map(dir.live)
    this.dirtyDirs.delete(dirPath)
    this.stats.syncDirs++
  }

  private applyAtCrash(inode: Inode, op: PendingOp, weights: CrashFaults, rng: Prng): void {
    const total = weights.lost + weights.whole + weights.torn + weights.bitFlip
    const x = rng.float() * total
    if (op.kind === 'truncate') {
      if (x < weights.lost) this.stats.lostTruncates++
      else applyOp(inode.durable, op)
      return
    }
    if (x < weights.lost) {
      this.stats.lostWrites++
    } else if (x < weights.lost + weights.whole) {
      this.stats.wholeWrites++
      applyOp(inode.durable, op)
    } else if (x < weights.lost + weights.whole + weights.torn) {
      const blocks = Math.ceil(op.data.length / this.tornGranularity)
      if (blocks <= 1) {
        this.stats.lostWrites++ // nothing shorter than the write but longer than nothing
        return
      }
      this.stats.tornWrites++
      const keep = rng.int(1, blocks) * this.tornGranularity
      inode.durable.write(op.position, op.data.subarray(0, keep))
    } else {
      this.stats.bitFlippedWrites++
      applyOp(inode.durable, op)
      if (op.data.length > 0) inode.durable.flipBit(op.position + rng.int(0, op.data.length), rng.int(0, 8))
    }
  }

  private event(text: string): void {
    this.options.onEvent?.(`disk: ${text}`)
  }
}

function applyOp(buf: GrowBuf, op: PendingOp): void {
  if (op.kind === 'write') buf.write(op.position, op.data)
  else buf.truncate(op.size)
}

function sameEntries(a: Map<string, Entry>, b: Map<string, Entry>): boolean {
  if (a.size !== b.size) return false
  for (const [name, entry] of a) {
    const other = b.get(name)
    if (other === undefined || other.kind !== entry.kind) return false
    if (entry.kind === 'file' && other.kind === 'file' && entry.inode !== other.inode) return false
  }
  return true
}

function validateCrashFaults(f: CrashFaults): CrashFaults {
  for (const [name, w] of Object.entries(f)) {
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`SimDisk: crash weight ${name} must be finite and >= 0, got ${w}`)
  }
  if (f.lost + f.whole + f.torn + f.bitFlip <= 0) throw new RangeError('SimDisk: crash weights must not all be zero')
  return f
}

/**
 * Swarm testing for disks: the seed picks how harsh power cuts are and how often I/O fails.
 * Corruption (bit flips at crash or on read) is only drawn when `corruption` is true, since a
 * system is only expected to survive it where it keeps checksums and other copies.
 */
export function swarmDiskFaults(prng: Prng, options: { corruption?: boolean } = {}): Omit<SimDiskOptions, 'prng'> {
  const corruption = options.corruption ?? false
  const rare = (max: number): number => (prng.chance(0.5) ? 0 : prng.float() * max)
  return {
    crashFaults: {
      lost: prng.float(),
      whole: prng.float(),
      torn: prng.float(),
      bitFlip: corruption ? prng.float() * 0.2 : 0,
    },
    tornGranularity: prng.pick([1, 512]),
    readFaultProbability: rare(0.01),
    writeFaultProbability: rare(0.01),
    syncFaultProbability: rare(0.01),
    readCorruptProbability: corruption ? rare(0.01) : 0,
  }
}
