import { type Entry, type HardState, type Logger, TesseraError } from '@tessera/protocol'
import type { Disk, DiskFile } from './disk.js'
import type { Hasher } from './hash.js'
import { frameRecord } from './record.js'
import { segmentFileName } from './segment-name.js'
import { type ScannedSegment, WAL_DIR } from './wal-reader.js'
import { encodeWalRecord, type WalRecord } from './wal-record.js'

/** Saves queued behind an in-flight write merge into one unit until it holds this much. */
const MERGE_LIMIT_BYTES = 8 * 1024 * 1024
/** Rough per-entry framing cost, for the merge limit and size checks. */
const ENTRY_OVERHEAD_BYTES = 24

interface SegmentState {
  seq: number
  name: string
  /** Bytes of records. */
  size: number
  /** The file's length: records, then zeros written ahead of them (preallocation). */
  allocated: number
  records: number
  maxIndex: number
}

interface Waiter {
  resolve(seq: number): void
  reject(err: Error): void
}

type Unit =
  | { kind: 'data'; entries: Entry[]; hardState?: HardState; bytes: number; waiters: Waiter[] }
  | { kind: 'marker'; index: number; term: number; reset: boolean; waiters: Waiter[] }

export interface WalOptions {
  /** A segment is closed and a new one started once it holds this many bytes. */
  segmentBytes: number
  /**
   * Open segments with O_DSYNC (Disk OpenOptions.durableWrites), so a group commit is one write
   * that returns durable instead of a write and then an fdatasync. Where the disk does not
   * honour it, the WAL syncs after each write as before.
   */
  durableWrites: boolean
  /**
   * Zeros written ahead of the records, this many bytes at a time (0: none). A commit then
   * overwrites bytes the file already has instead of growing it, so its durable write need
   * not also make a new file size durable. Recovery reads zeros after the last record as the
   * end of the log (wal-reader.ts), and a segment is cut to its records before the next one
   * is started.
   */
  preallocateBytes: number
}

export interface WalStart {
  segments: readonly ScannedSegment[]
  /** The hard state the records replayed to. */
  hardState: HardState
  /** The last log index after replay. */
  lastIndex: number
}

export function estimateEntryBytes(entries: readonly Entry[]): number {
  let bytes = 0
  for (const entry of entries) bytes += entry.data.length + ENTRY_OVERHEAD_BYTES
  return bytes
}

/**
 * The write side of the WAL: appends records to the last segment with group commit (one
 * durable write for everything queued while the previous one was in flight: an O_DSYNC write,
 * or a write + fdatasync where the disk cannot open files that way), rolls to
 * a new segment past `segmentBytes`, and removes old segments on request.
 *
 * Every group commit is exactly one record, so a crash can only damage the last record. The
 * first record of each segment carries the current hard state, so removing older segments
 * never loses it. After any write or sync error the WAL refuses all further writes: once an
 * fsync has failed, what the page cache holds can no longer be trusted.
 */
export class Wal {
  private readonly segments: SegmentState[]
  private active: DiskFile | undefined
  /** Whether the active segment's directory entry is known durable. */
  private activeNamed = true
  private readonly queue: Unit[] = []
  private flushing: Promise<void> | undefined
  private failure: TesseraError | undefined
  private closed = false
  private writtenHardState: HardState
  /** Only names new segments. */
  private nextIndex: number

  private constructor(
    private readonly disk: Disk,
    private readonly hasher: Hasher,
    private readonly logger: Logger,
    private readonly options: WalOptions,
    start: WalStart,
    active: DiskFile | undefined,
    activeLength: number,
  ) {
    this.segments = start.segments.map((s, i) => ({
      seq: s.seq,
      name: s.name,
      size: s.size,
      allocated: i === start.segments.length - 1 ? Math.max(s.size, activeLength) : s.size,
      records: s.records.length,
      maxIndex: s.maxIndex,
    }))
    this.active = active
    this.writtenHardState = start.hardState
    this.nextIndex = start.lastIndex + 1
  }

  /**
   * Opens the last segment for appending. It and the directory are synced first: after a
   * process crash, what replay just read may still sit only in the page cache.
   */
  static async open(disk: Disk, hasher: Hasher, logger: Logger, options: WalOptions, start: WalStart): Promise<Wal> {
    if (!Number.isSafeInteger(options.preallocateBytes) || options.preallocateBytes < 0) {
      throw new TesseraError('EINVAL', `preallocateBytes must be a non-negative integer, not ${options.preallocateBytes}`)
    }
    let last = start.segments.at(-1)
    if (last !== undefined && last.records.length === 0) {
      // Left empty by a crash (or a torn first record). Dropped so that the next write starts
      // a segment properly, headed by the hard state.
      await disk.remove(`${WAL_DIR}/${last.name}`)
      start = { ...start, segments: start.segments.slice(0, -1) }
      last = start.segments.at(-1)
    }
    let active: DiskFile | undefined
    let activeLength = 0
    if (last !== undefined) {
      active = await disk.open(`${WAL_DIR}/${last.name}`, 'readWrite', { durableWrites: options.durableWrites })
      await active.sync()
      activeLength = await active.size()
    }
    await disk.syncDir(WAL_DIR)
    return new Wal(disk, hasher, logger, options, start, active, activeLength)
  }

  /** Appends entries (replacing any at >= their first index) and/or a hard state. */
  append(entries: Entry[], hardState: HardState | undefined): Promise<void> {
    return new Promise<number>((resolve, reject) => {
      const refusal = this.refusal()
      if (refusal !== undefined) return reject(refusal)
      const bytes = estimateEntryBytes(entries)
      const last = this.queue.at(-1)
      if (last?.kind === 'data' && last.bytes + bytes <= MERGE_LIMIT_BYTES) {
        last.entries = mergeEntries(last.entries, entries)
        if (hardState !== undefined) last.hardState = hardState
        last.bytes += bytes
        last.waiters.push({ resolve, reject })
      } else {
        const unit: Unit = { kind: 'data', entries: entries.slice(), bytes, waiters: [{ resolve, reject }] }
        if (hardState !== undefined) unit.hardState = hardState
        this.queue.push(unit)
      }
      this.schedule()
    }).then(() => undefined)
  }

  /** Records that a snapshot is durable; resolves with the sequence number of the segment holding the record. */
  appendSnapshotMarker(index: number, term: number, reset: boolean): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const refusal = this.refusal()
      if (refusal !== undefined) return reject(refusal)
      this.queue.push({ kind: 'marker', index, term, reset, waiters: [{ resolve, reject }] })
      this.schedule()
    })
  }

  /**
   * Removes the oldest segments while each is below `beforeSeq`, is not the active one, and
   * holds no entry above `throughIndex`. One at a time, oldest first, each removal made durable
   * before the next, so a crash never leaves a hole in the sequence.
   */
  async removeSegments(throughIndex: number, beforeSeq: number): Promise<number> {
    let removed = 0
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!
      if (oldest.seq >= beforeSeq || oldest.maxIndex > throughIndex) break
      this.segments.shift()
      await this.disk.remove(`${WAL_DIR}/${oldest.name}`)
      await this.disk.syncDir(WAL_DIR)
      removed++
    }
    if (removed > 0) this.logger.debug({ removed, throughIndex }, 'removed wal segments')
    return removed
  }

  /** Names of the segments, oldest first. */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name)
  }

  /** Waits for queued writes, then closes the active segment. Later appends are refused. */
  async close(): Promise<void> {
    this.closed = true
    while (this.flushing !== undefined) await this.flushing
    const active = this.active
    this.active = undefined
    if (active !== undefined) await active.close()
  }

  private refusal(): TesseraError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.closed) return new TesseraError('EBADF', 'raft storage is closed')
    return undefined
  }

  private schedule(): void {
    if (this.flushing !== undefined) return
    this.flushing = this.flush()
  }

  private async flush(): Promise<void> {
    // Let saves issued in the same turn of the event loop join the first write.
    await Promise.resolve()
    while (this.queue.length > 0 && this.failure === undefined) {
      const unit = this.queue.shift()!
      try {
        const seq = await this.write(unit)
        for (const waiter of unit.waiters) waiter.resolve(seq)
      } catch (err) {
        this.failure = new TesseraError('EIO', `wal write failed: ${(err as Error).message}; no further writes accepted`)
        this.logger.error({ err }, 'wal write failed; refusing further writes')
        for (const waiter of unit.waiters) waiter.reject(this.failure)
      }
    }
    for (const unit of this.queue.splice(0)) {
      for (const waiter of unit.waiters) waiter.reject(this.failure!)
    }
    this.flushing = undefined
  }

  private async write(unit: Unit): Promise<number> {
    if (unit.kind === 'data' && unit.entries.length === 0 && unit.hardState === undefined) {
      return this.segments.at(-1)?.seq ?? 0
    }
    const current = this.segments.at(-1)
    if (current === undefined || (unit.kind === 'data' && current.size >= this.options.segmentBytes)) {
      await this.roll(unit.kind === 'data' ? (unit.entries[0]?.index ?? this.nextIndex) : this.nextIndex)
    }
    const segment = this.segments.at(-1)!
    const record = this.recordFor(unit, segment.records === 0)
    const { type, payload } = encodeWalRecord(record)
    const frame = this.withPreallocation(segment, frameRecord(this.hasher, type, payload))
    await this.active!.write(segment.size, frame.bytes)
    if (this.active!.durableWrites !== true) await this.active!.sync()
    segment.allocated = Math.max(segment.allocated, segment.size + frame.bytes.length)
    if (!this.activeNamed) {
      await this.disk.syncDir(WAL_DIR)
      this.activeNamed = true
    }
    segment.size += frame.recordBytes
    segment.records++
    this.noteWritten(record, segment)
    return segment.seq
  }

  /**
   * The frame, followed by the next stretch of zeros when it would reach past what the file
   * holds: one write both appends and preallocates, so no record is ever left half-durable.
   */
  private withPreallocation(segment: SegmentState, frame: Uint8Array): { bytes: Uint8Array; recordBytes: number } {
    const end = segment.size + frame.length
    const step = Math.min(this.options.preallocateBytes, this.options.segmentBytes)
    if (step === 0 || end <= segment.allocated) return { bytes: frame, recordBytes: frame.length }
    const padded = new Uint8Array(frame.length + step)
    padded.set(frame, 0)
    return { bytes: padded, recordBytes: frame.length }
  }

  private recordFor(unit: Unit, firstInSegment: boolean): WalRecord {
    if (unit.kind === 'marker') return { type: 'snapshot', index: unit.index, term: unit.term, reset: unit.reset }
    const carried = firstInSegment && !isEmptyHardState(this.writtenHardState) ? this.writtenHardState : undefined
    const hardState = unit.hardState ?? carried
    if (unit.entries.length === 0) return { type: 'hardState', hardState: hardState! }
    return hardState === undefined
      ? { type: 'entries', entries: unit.entries }
      : { type: 'entries', entries: unit.entries, hardState }
  }

  private noteWritten(record: WalRecord, segment: SegmentState): void {
    switch (record.type) {
      case 'entries': {
        const last = record.entries.at(-1)!.index
        segment.maxIndex = Math.max(segment.maxIndex, last)
        this.nextIndex = last + 1
        if (record.hardState !== undefined) this.writtenHardState = record.hardState
        break
      }
      case 'hardState':
        this.writtenHardState = record.hardState
        break
      case 'snapshot':
        this.nextIndex = record.reset ? record.index + 1 : Math.max(this.nextIndex, record.index + 1)
        break
    }
  }

  private async roll(firstIndex: number): Promise<void> {
    const seq = (this.segments.at(-1)?.seq ?? 0) + 1
    const name = segmentFileName(seq, firstIndex)
    const previous = this.active
    const last = this.segments.at(-1)
    if (previous !== undefined && last !== undefined && last.allocated > last.size) {
      // Only the last segment may end in zeros: cut this one to its records, durably, before
      // its successor exists.
      await previous.truncate(last.size)
      await previous.sync()
      last.allocated = last.size
    }
    this.active = undefined
    if (previous !== undefined) await previous.close()
    const file = await this.disk.open(`${WAL_DIR}/${name}`, 'create', { durableWrites: this.options.durableWrites })
    await file.truncate(0)
    // O_DSYNC covers writes only: make the truncation durable itself (once per segment).
    if (file.durableWrites === true) await file.sync()
    this.active = file
    this.activeNamed = false
    this.segments.push({ seq, name, size: 0, allocated: 0, records: 0, maxIndex: 0 })
    this.logger.debug({ segment: name }, 'opened a new wal segment')
  }
}

/** Raft's append rule applied to two queued batches: the later one wins from its first index on. */
function mergeEntries(queued: Entry[], incoming: readonly Entry[]): Entry[] {
  if (incoming.length === 0) return queued
  if (queued.length === 0) return incoming.slice()
  const keep = incoming[0]!.index - queued[0]!.index
  if (keep <= 0) return incoming.slice()
  queued.length = Math.min(keep, queued.length)
  for (const entry of incoming) queued.push(entry)
  return queued
}

function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === '' && hs.commit === 0
}
