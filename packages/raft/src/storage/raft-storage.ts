import {
  type Entry,
  type HardState,
  type Logger,
  type Snapshot,
  type SnapshotMeta,
  TesseraError,
  hasCode,
  silentLogger,
} from '@tessera/protocol'
import { ContiguousLog } from './contiguous-log.js'
import type { Disk } from './disk.js'
import { loadHasher } from './hash.js'
import { MAX_RECORD_PAYLOAD_BYTES } from './record.js'
import { replayWal } from './replay.js'
import { SNAP_DIR, SnapshotStore, snapshotFileName } from './snapshot-store.js'
import { entriesProblem, hardStateProblem, snapshotMetaProblem } from './validate.js'
import { Wal, estimateEntryBytes } from './wal.js'
import { type ScannedSegment, WAL_DIR, readWal } from './wal-reader.js'

export interface RaftStorageOptions {
  logger?: Logger
  /** A segment is closed and a new one started once it holds this many bytes (default 64 MiB). */
  segmentBytes?: number
  /**
   * Open WAL segments with O_DSYNC so each group commit is one durable write, not a write plus
   * an fdatasync (default true; measured faster per commit, see Wal's WalOptions).
   */
  durableWrites?: boolean
  /**
   * Zeros written ahead of the log, this many bytes at a time, so that most commits overwrite
   * bytes the segment already has instead of growing the file (default 64 KiB; 0 turns it off).
   */
  preallocateBytes?: number
}

/** What recovery found: the driver builds the Raft core from it. */
export interface RecoveredState {
  hardState: HardState
  /** The snapshot the state machine must be restored from first, if any. */
  snapshot?: SnapshotMeta
  /** The log after the snapshot, contiguous from snapshot.index + 1 (or 1). */
  entries: Entry[]
}

export interface SaveBatch {
  hardState?: HardState
  /** Contiguous entries; any stored entries at >= the first one's index are replaced. */
  entries?: Entry[]
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
/**
 * One write of zeros per 64 KiB of log: every few hundred small commits, and small enough that
 * the in-memory SimDisk the simulator runs on does not pay much for it.
 */
export const DEFAULT_PREALLOCATE_BYTES = 64 * 1024
/** One save must fit in one WAL record, with room for its framing. */
const MAX_SAVE_BYTES = MAX_RECORD_PAYLOAD_BYTES - 1024 * 1024

interface ChosenSnapshot {
  meta: SnapshotMeta
  /** The WAL segment holding the record that marks it durable: compaction keeps it. */
  markerSeq: number
}

/**
 * Durable Raft storage over a Disk: a segmented write-ahead log for entries and hard state,
 * and snapshot files beside it.
 *
 * Layout: `wal/<seq>-<firstIndex>.seg`, `snap/<index>-<term>.snap`.
 *
 * A snapshot counts only once a WAL record marks it (written after the file is durable).
 * On open, the newest marked snapshot that verifies is restored. If the newest is corrupt,
 * an older one is used only when the WAL still holds every entry from it up to and agreeing
 * with the newer one; otherwise open() rejects with EIO rather than lose entries.
 *
 * Entries saved after a snapshot received from the leader must be saved after
 * saveSnapshot() resolves: the snapshot is placed in the log when its file is durable.
 */
export class RaftStorage {
  readonly state: RecoveredState
  private snapshot: ChosenSnapshot | undefined
  /** Terms of the log after the snapshot, including saves still queued. */
  private readonly terms = new ContiguousLog<number>((term) => term)
  /** Entries at or below this index can no longer be written (the latest snapshot's index). */
  private floor: number
  private serialTail: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(
    private readonly wal: Wal,
    private readonly snapshots: SnapshotStore,
    state: RecoveredState,
    snapshot: ChosenSnapshot | undefined,
  ) {
    this.state = state
    this.snapshot = snapshot
    this.floor = snapshot?.meta.index ?? 0
    this.terms.resetTo(this.floor)
    if (state.entries.length > 0) {
      this.terms.writeAt(this.floor + 1, state.entries.map((entry) => entry.term))
    }
  }

  static async open(disk: Disk, opts: RaftStorageOptions = {}): Promise<RaftStorage> {
    const logger = opts.logger ?? silentLogger()
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= 0) {
      throw new TesseraError('EINVAL', `segmentBytes must be a positive integer, not ${segmentBytes}`)
    }
    const hasher = await loadHasher()
    await disk.mkdirp(WAL_DIR)
    await disk.mkdirp(SNAP_DIR)
    const segments = await readWal(disk, hasher, logger)
    const snapshots = new SnapshotStore(disk, hasher, logger)
    await snapshots.removeTemporaries()
    const chosen = await chooseSnapshot(snapshots, segments, logger)
    const replayed = replayWal(segments, chosen?.meta)
    const wal = await Wal.open(disk, hasher, logger, {
      segmentBytes,
      durableWrites: opts.durableWrites ?? true,
      preallocateBytes: opts.preallocateBytes ?? DEFAULT_PREALLOCATE_BYTES,
    }, {
      segments,
      hardState: replayed.hardState,
      lastIndex: replayed.lastIndex,
    })
    await disk.syncDir(SNAP_DIR)
    const state: RecoveredState = { hardState: replayed.hardState, entries: replayed.entries }
    if (chosen !== undefined) state.snapshot = chosen.meta
    logger.info(
      {
        segments: segments.length,
        snapshot: chosen?.meta.index ?? 0,
        firstIndex: replayed.entries[0]?.index ?? 0,
        lastIndex: replayed.lastIndex,
        term: replayed.hardState.term,
        commit: replayed.hardState.commit,
      },
      'raft storage recovered',
    )
    return new RaftStorage(wal, snapshots, state, chosen)
  }

  /**
   * Makes the hard state and entries durable; resolves once they are fsynced. Saves made while
   * an fsync is in flight share the next one. Entries must continue the log (first index at
   * most last index + 1) and must not reach back to the snapshot.
   */
  save(batch: SaveBatch): Promise<void> {
    const entries = batch.entries ?? []
    try {
      this.admit(entries, batch.hardState)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.wal.append(entries, batch.hardState)
  }

  /**
   * Writes the snapshot file durably, then marks it in the WAL. If the log holds the entry at
   * the snapshot's index with its term, the entries after it stay; otherwise the log is reset
   * to start after the snapshot (one received from the leader).
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.serially(async () => {
      this.checkOpen()
      const problem = snapshotMetaProblem(snapshot.meta)
      if (problem !== undefined) throw new TesseraError('EINVAL', problem)
      if (!(snapshot.data instanceof Uint8Array)) throw new TesseraError('EINVAL', 'snapshot data is not bytes')
      const { index, term } = snapshot.meta
      if (index <= this.floor) {
        throw new TesseraError('EINVAL', `snapshot at ${index} is not newer than the one at ${this.floor}`)
      }
      await this.snapshots.write(snapshot)
      const keepLog = this.terms.termAt(index) === term
      if (keepLog) this.terms.dropThrough(index)
      else this.terms.resetTo(index)
      this.floor = index
      const markerSeq = await this.wal.appendSnapshotMarker(index, term, !keepLog)
      this.snapshot = { meta: snapshot.meta, markerSeq }
    })
  }

  /**
   * Whether the log, counting saves still queued, holds the entry at `index` with `term`. A
   * snapshot at such an entry is placed behind it and keeps the log after it; one at an entry
   * the log lacks (committed and applied, but not yet handed to save) would reset the log, and
   * the save still to come of that entry would then reach back behind the snapshot.
   */
  holds(index: number, term: number): boolean {
    return this.terms.termAt(index) === term
  }

  /** The newest durable snapshot (verified again as it is read), or undefined. */
  async loadSnapshot(): Promise<Snapshot | undefined> {
    const current = this.snapshot
    if (current === undefined) return undefined
    return this.snapshots.read(current.meta.index, current.meta.term)
  }

  /**
   * Drops what the newest snapshot makes redundant: WAL segments whose entries are all at or
   * below `index` (which the durable snapshot must cover), and snapshot files other than the
   * newest and the one before it.
   */
  compact(index: number): Promise<void> {
    return this.serially(async () => {
      this.checkOpen()
      const current = this.snapshot
      if (!Number.isSafeInteger(index) || index < 0) throw new TesseraError('EINVAL', `bad compaction index ${index}`)
      if (current === undefined || current.meta.index < index) {
        throw new TesseraError(
          'EINVAL',
          `cannot compact through ${index}: the newest durable snapshot is at ${current?.meta.index ?? 0}`,
        )
      }
      await this.wal.removeSegments(index, current.markerSeq)
      const currentName = snapshotFileName(current.meta.index, current.meta.term)
      const files = await this.snapshots.list()
      const previous = files.filter((f) => f.index < current.meta.index).at(-1)
      const keep = new Set([currentName, previous?.name])
      await this.snapshots.remove(files.filter((f) => !keep.has(f.name)).map((f) => f.name))
    })
  }

  /** WAL segment file names, oldest first (for tests and admin tools). */
  walSegments(): string[] {
    return this.wal.segmentNames()
  }

  /** Waits for queued saves and snapshot work, then releases the files. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.serialTail
    await this.wal.close()
  }

  private admit(entries: Entry[], hardState: HardState | undefined): void {
    this.checkOpen()
    if (hardState !== undefined) {
      const problem = hardStateProblem(hardState)
      if (problem !== undefined) throw new TesseraError('EINVAL', problem)
    }
    if (entries.length === 0) return
    const problem = entriesProblem(entries)
    if (problem !== undefined) throw new TesseraError('EINVAL', problem)
    const first = entries[0]!.index
    if (first <= this.floor) {
      throw new TesseraError('EINVAL', `entries from ${first} would overwrite the snapshot at ${this.floor}`)
    }
    if (first > this.terms.lastIndex + 1) {
      throw new TesseraError('EINVAL', `entries start at ${first} but the log ends at ${this.terms.lastIndex}`)
    }
    if (estimateEntryBytes(entries) > MAX_SAVE_BYTES) {
      throw new TesseraError('EINVAL', `a save of ${entries.length} entries exceeds ${MAX_SAVE_BYTES} bytes`)
    }
    this.terms.writeAt(first, entries.map((entry) => entry.term))
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError('EBADF', 'raft storage is closed')
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serialTail.then(task, task)
    this.serialTail = run.catch(() => undefined)
    return run
  }
}

/**
 * The newest snapshot file that a WAL record marks durable and that verifies. Unmarked files
 * (a crash between writing the file and marking it) are ignored; corrupt ones are skipped with
 * a warning, and replay then decides whether the WAL can cover for them.
 */
async function chooseSnapshot(
  store: SnapshotStore,
  segments: readonly ScannedSegment[],
  logger: Logger,
): Promise<ChosenSnapshot | undefined> {
  const markerSeq = new Map<string, number>()
  for (const segment of segments) {
    for (const { record } of segment.records) {
      if (record.type === 'snapshot') markerSeq.set(`${record.index}-${record.term}`, segment.seq)
    }
  }
  const files = await store.list()
  for (let i = files.length - 1; i >= 0; i--) {
    const file = files[i]!
    const seq = markerSeq.get(`${file.index}-${file.term}`)
    if (seq === undefined) {
      logger.info({ file: `${SNAP_DIR}/${file.name}` }, 'ignoring a snapshot the wal never marked durable')
      continue
    }
    try {
      const snapshot = await store.read(file.index, file.term)
      return { meta: snapshot.meta, markerSeq: seq }
    } catch (err) {
      if (!hasCode(err, 'EIO')) throw err
      logger.warn({ file: `${SNAP_DIR}/${file.name}`, reason: err.message }, 'snapshot is corrupt; trying an older one')
    }
  }
  return undefined
}
