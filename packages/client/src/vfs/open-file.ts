/**
 * The state of one open regular file in one Vfs, shared by every handle on it (two descriptors
 * of one file on one mount see each other's writes at once, as on a local disk):
 *
 * - `dirty`: written bytes held in memory (write-back); reads overlay them.
 * - writeBack: turns dirty ranges into new blocks through the DataPath, copy-on-write: the pieces
 *   a range touches are read, patched and written as new blocks, and the local block list is
 *   spliced; meta is not told yet.
 * - commit: writeBack, then one commitFile with the whole block list, size and mtime (on flush,
 *   fsync and release: close-to-open consistency), carrying where the new blocks landed, so
 *   that meta records both in one log entry. Nothing pending: no commit at all.
 * - Meta can hand out a block only where it knows copies are: before a block written here is
 *   read back ahead of its commit, or when more are pending than one commit carries, their
 *   places are recorded first (DataPath.recordWritten).
 * - Meta's GC deletes blocks no file references after its grace period: every block written
 *   here and not committed yet is in the file's lease (BlockLease), which records it again on a
 *   timer, also while the file sits idle, until the commit; the lease ends with the file. A
 *   commit whose blocks GC took anyway (renewals failed for a whole grace period) fails with
 *   EIO, and the lost local changes are dropped: the file is meta's again.
 */
import {
  MAX_BLOCK_COPIES, MAX_COMMIT_WRITTEN, silentLogger, truncateBlockRefs, usedBytes, type Attr, type BlockCopies, type BlockRef,
  type Credentials, type Ino, type Logger, type Timespec,
} from '@tessera/protocol'
import { BlockLease } from '../data/block-lease.js'
import type { NamespaceCalls } from './call-stats.js'
import type { DataPath, FileReader } from './data-path.js'
import { DirtyExtents, overlaySegments, type Segment } from './dirty-extents.js'
import { Mutex } from './mutex.js'
import { replaceRun, runsFor, type Run } from './pieces.js'

export interface OpenFileDeps {
  meta: NamespaceCalls
  data: DataPath
  /** Called with the change of this file's buffered bytes (dirty and being written). */
  onMemory(delta: number): void
  logger?: Logger
}

/** What an opener already knows of the file, so that it need not ask meta. */
export interface KnownContents {
  /** The file's block list, fresh from meta (or empty for a file just created). */
  pieces: BlockRef[]
  /** Set when the file was just created by this Vfs (Date.now() when the create was sent). */
  createdAt?: number
}

function blockIdOf(ref: { key: string; len: number }): string {
  return `${ref.key}/${ref.len}`
}

function mergeCopies(a: BlockCopies, b: BlockCopies): BlockCopies {
  const servers = [...a.servers]
  for (const s of b.servers) if (servers.length < MAX_BLOCK_COPIES && !servers.includes(s)) servers.push(s)
  return { ref: a.ref, servers }
}

function nowTimespec(): Timespec {
  const ms = Date.now()
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 }
}

export class OpenFile {
  handles = 0
  /** The file's size as this Vfs sees it (meta's, plus local writes and truncates). */
  size: number
  /** Last attributes meta returned for the file. */
  attr: Attr
  private pieces: BlockRef[] | undefined
  private readonly dirty = new DirtyExtents()
  /** Segments handed to the DataPath and not yet part of `pieces`: still read from here. */
  private flushing: Segment[] = []
  private flushingBytes = 0
  private accounted = 0
  /** Bumped by every local change; meta has the local state when committed === version. */
  private version = 0
  private committed = 0
  private mtime: Timespec | undefined
  private writerCred: Credentials | undefined
  /** Copies of blocks written here that meta has not recorded yet, by block id (key/len). */
  private readonly unrecorded = new Map<string, BlockCopies>()
  private readonly lock = new Mutex()
  /** This file's reader (its own read-ahead state when the DataPath offers one). */
  private readonly reader: FileReader
  /** Blocks written here and not committed, kept from GC (absent when the DataPath has no GC). */
  private readonly lease: BlockLease | undefined

  /** When this Vfs created the file (ms since the epoch); unset for a file it opened. */
  private readonly createdAt: number | undefined

  constructor(readonly ino: Ino, attr: Attr, private readonly deps: OpenFileDeps, known?: KnownContents) {
    this.attr = attr
    this.size = attr.size
    this.pieces = known?.pieces
    this.createdAt = known?.createdAt
    this.reader = deps.data.openReader?.() ?? deps.data
    const graceMs = deps.data.gcGraceMs
    this.lease = graceMs === undefined ? undefined : new BlockLease({
      record: (blocks) => deps.data.recordWritten(blocks), graceMs, label: `inode ${ino}`, logger: deps.logger ?? silentLogger(),
    })
  }

  /** Blocks written here that the lease keeps from GC until the commit (for tests and status). */
  get leasedBlocks(): number {
    return this.lease?.size ?? 0
  }

  /** Bytes held in memory for this file. */
  get bufferedBytes(): number {
    return this.dirty.bytes + this.flushingBytes
  }

  get dirtyBytes(): number {
    return this.dirty.bytes
  }

  /** Local changes meta has not seen. */
  get hasChanges(): boolean {
    return this.version !== this.committed || !this.dirty.isEmpty
  }

  /** The local modification time, when local writes are not committed yet. */
  get localMtime(): Timespec | undefined {
    return this.hasChanges ? this.mtime : undefined
  }

  /**
   * Takes fresh attributes from an open (close-to-open): when nothing local is pending, the file
   * is re-read from meta's state, so a commit by another mount is seen.
   */
  revalidate(attr: Attr): void {
    if (this.hasChanges || this.flushing.length > 0) return
    if (attr.size !== this.attr.size || attr.mtime.sec !== this.attr.mtime.sec || attr.mtime.nsec !== this.attr.mtime.nsec) {
      this.pieces = undefined
    }
    this.attr = attr
    this.size = attr.size
  }

  write(cred: Credentials, offset: number, bytes: Uint8Array): void {
    this.dirty.write(offset, bytes)
    this.size = Math.max(this.size, offset + bytes.byteLength)
    this.version++
    this.mtime = nowTimespec()
    this.writerCred = cred
    this.account()
  }

  async read(cred: Credentials, offset: number, length: number): Promise<Buffer> {
    if (offset >= this.size || length <= 0) return Buffer.alloc(0)
    const len = Math.min(length, this.size - offset)
    const out = Buffer.alloc(len)
    if (!this.dirty.covers(offset, offset + len)) {
      const pieces = await this.loadPieces(cred)
      // Pieces and the segments in flight change together: take both at the same moment.
      const flushing = this.flushing
      const stored = Math.min(len, Math.max(0, usedBytes(pieces) - offset))
      if (stored > 0) {
        await this.recordWritten()
        const bytes = await this.reader.readRange(pieces, offset, stored)
        out.set(bytes.subarray(0, Math.min(bytes.byteLength, len)))
      }
      overlaySegments(flushing, out, offset)
    }
    this.dirty.overlay(out, offset)
    return out
  }

  /** Writes dirty bytes as blocks; `holdTail` keeps a partial last block at the file's end in memory. */
  writeBack(cred: Credentials, holdTail: boolean): Promise<void> {
    return this.lock.run(() => this.writeBackLocked(cred, holdTail))
  }

  /** Makes every local change durable and visible in meta (flush, fsync, release). */
  commit(cred: Credentials): Promise<void> {
    return this.lock.run(() => this.commitLocked(cred))
  }

  /**
   * When this Vfs created the file (ms), while the file is as created within the last `withinMs`:
   * nothing written, truncated or committed since, so its times are still the create's.
   */
  freshlyCreatedAt(now: number, withinMs: number): number | undefined {
    const at = this.createdAt
    if (at === undefined || this.version !== 0 || this.committed !== 0 || this.flushing.length > 0 || now - at > withinMs) return undefined
    return at
  }

  /**
   * Shrinks the file here only (truncate or O_TRUNC on a file open for writing): the next commit
   * carries the shorter block list and size, so the truncate costs no meta write of its own.
   * False when it cannot be done locally (the block list is not loaded and `size` is not 0, or
   * `size` would grow the file): the caller asks meta instead.
   */
  truncateLocally(cred: Credentials, size: number): Promise<boolean> {
    return this.lock.run(async () => {
      if (size > this.size || (size > 0 && this.pieces === undefined)) return false
      this.pieces = size === 0 ? [] : truncateBlockRefs(this.pieces!, size)
      this.dirty.truncate(size)
      this.size = size
      this.version++
      this.mtime = nowTimespec()
      this.writerCred = cred
      this.account()
      return true
    })
  }

  /** Frees what the file's reader holds and ends its lease (its last handle was released). */
  close(): void {
    this.reader.close?.()
    this.lease?.close()
  }

  /** Commits what is pending, then truncates in meta and here. */
  truncate(cred: Credentials, size: number): Promise<Attr> {
    return this.lock.run(async () => {
      await this.commitLocked(cred)
      const { attr } = await this.deps.meta.exec({ op: 'setattr', cred, ino: this.ino, size })
      if (this.pieces !== undefined) this.pieces = truncateBlockRefs(this.pieces, size)
      this.dirty.truncate(size)
      this.size = Math.max(size, this.dirty.end)
      this.attr = attr
      this.account()
      return attr
    })
  }

  private async loadPieces(cred: Credentials): Promise<BlockRef[]> {
    if (this.pieces !== undefined) return this.pieces
    const reply = await this.deps.meta.query({ op: 'getBlocks', cred, ino: this.ino })
    if (this.pieces !== undefined) return this.pieces // loaded meanwhile by another caller
    this.pieces = reply.blocks
    this.size = this.hasChanges ? Math.max(this.size, reply.size) : reply.size
    return reply.blocks
  }

  private async commitLocked(cred: Credentials): Promise<void> {
    await this.writeBackLocked(cred, false)
    if (this.version === this.committed) return
    const version = this.version
    const pieces = await this.loadPieces(cred)
    // Blocks written and replaced again before this commit are named by no file: meta need not hear of them.
    const named = new Set(pieces.map(blockIdOf))
    if (this.unrecorded.size > MAX_COMMIT_WRITTEN) await this.recordWritten()
    const pending = [...this.unrecorded]
    const written = pending.filter(([id]) => named.has(id)).map(([, copies]) => copies)
    let attr: Attr
    try {
      this.lease?.checkHeld(pieces)
      attr = (await this.deps.meta.exec({
        op: 'commitFile', cred: this.writerCred ?? cred, ino: this.ino, blocks: pieces, size: this.size, mtime: this.mtime ?? nowTimespec(),
        ...(written.length === 0 ? {} : { written }),
      })).attr
    } catch (err) {
      throw this.lease === undefined ? err : this.dropIfLost(this.lease.commitFailure(err))
    }
    this.forgetRecorded(pending)
    // Every block written so far is now referenced by the file, or replaced and garbage.
    this.lease?.clear()
    this.attr = attr
    this.committed = version
  }

  /**
   * After GC deleted blocks this file's commit needed (EIO from the lease): the local changes
   * cannot be committed any more, so they are dropped and the file is read from meta again.
   */
  private dropIfLost(err: unknown): unknown {
    if (this.lease?.isLoss(err) !== true) return err
    this.pieces = undefined
    this.committed = this.version
    this.unrecorded.clear()
    this.lease?.clear()
    this.size = this.attr.size
    return err
  }

  /** Tells meta where every block written here and not yet committed is (so that it can be read). */
  private async recordWritten(): Promise<void> {
    if (this.unrecorded.size === 0) return
    const pending = [...this.unrecorded]
    await this.deps.data.recordWritten(pending.map(([, copies]) => copies))
    this.forgetRecorded(pending)
  }

  /** Drops entries meta now has (unless a newer write of the same block replaced them meanwhile). */
  private forgetRecorded(recorded: readonly (readonly [string, BlockCopies])[]): void {
    for (const [id, copies] of recorded) if (this.unrecorded.get(id) === copies) this.unrecorded.delete(id)
  }

  private noteWritten(written: readonly BlockCopies[] | undefined): void {
    for (const copies of written ?? []) {
      const id = blockIdOf(copies.ref)
      const known = this.unrecorded.get(id)
      this.unrecorded.set(id, known === undefined ? copies : mergeCopies(known, copies))
    }
  }

  private async writeBackLocked(cred: Credentials, holdTail: boolean): Promise<void> {
    if (this.dirty.isEmpty) return
    const old = await this.loadPieces(cred)
    const oldEnd = usedBytes(old)
    const runs = runsFor(old, this.dirty.ranges())
    const last = runs.at(-1)
    if (holdTail && last !== undefined && last.end === this.size) {
      const whole = last.start + Math.floor((last.end - last.start) / this.deps.data.blockSize) * this.deps.data.blockSize
      if (whole <= last.start || whole < oldEnd) runs.pop()
      else last.end = whole
    }
    if (runs.length === 0) return
    const taken = runs.map((run) => this.dirty.take(run.start, run.end))
    this.flushing = taken.flat().sort((a, b) => a.start - b.start)
    this.flushingBytes = this.flushing.reduce((n, s) => n + s.bytes.byteLength, 0)
    this.account()
    try {
      let pieces = old
      for (const [i, run] of runs.entries()) {
        const lease = this.lease
        const written = await this.deps.data.writeBlocks(this.runBytes(old, oldEnd, run, taken[i]!), lease && ((copies) => lease.add([copies])))
        this.noteWritten(written.written)
        lease?.add(written.written ?? [])
        pieces = replaceRun(pieces, run, written.blocks)
      }
      this.pieces = pieces
    } catch (err) {
      // Put the bytes back under anything written since, so a later flush can retry.
      for (const seg of this.flushing) this.dirty.underlay(seg)
      throw err
    } finally {
      this.flushing = []
      this.flushingBytes = 0
      this.account()
    }
    // One commit carries a bounded number of new blocks' places: a big file records them as it goes.
    if (this.unrecorded.size > MAX_COMMIT_WRITTEN) await this.recordWritten()
  }

  /** The new bytes of `run`, one block at a time: old bytes where not overwritten, zeros in holes. */
  private async *runBytes(old: BlockRef[], oldEnd: number, run: Run, segs: Segment[]): AsyncGenerator<Uint8Array> {
    const blockSize = this.deps.data.blockSize
    for (let at = run.start; at < run.end; at += blockSize) {
      const end = Math.min(at + blockSize, run.end)
      const block = Buffer.alloc(end - at)
      const oldPart = Math.min(end, oldEnd) - at
      if (oldPart > 0 && !segmentsCover(segs, at, at + oldPart)) {
        await this.recordWritten()
        const bytes = await this.deps.data.readRange(old, at, oldPart)
        block.set(bytes.subarray(0, Math.min(bytes.byteLength, oldPart)))
      }
      overlaySegments(segs, block, at)
      yield block
    }
  }

  private account(): void {
    const now = this.bufferedBytes
    if (now !== this.accounted) {
      this.deps.onMemory(now - this.accounted)
      this.accounted = now
    }
  }
}

/** True when sorted, disjoint `segs` hold every byte of [start, end). */
function segmentsCover(segs: readonly Segment[], start: number, end: number): boolean {
  let at = start
  for (const seg of segs) {
    const segEnd = seg.start + seg.bytes.byteLength
    if (segEnd <= at) continue
    if (seg.start > at) return false
    at = segEnd
    if (at >= end) return true
  }
  return at >= end
}
