/**
 * The in-memory Raft log (etcd's raftLog + unstable, folded into one): the entries after the
 * last snapshot, which of them are durable, committed and applied, and a snapshot received
 * from the leader that is not yet durable. Pure: the driver persists what `unstableEntries()`
 * and `pendingSnapshot` hand out, then acknowledges with `stableTo` / `stableSnapTo`.
 *
 * Invariants: entries[k].index === snapIndex + 1 + k; applied <= committed <= lastIndex;
 * snapIndex <= applied unless a received snapshot is pending.
 */
import type { Entry, Snapshot, SnapshotMeta } from '@tessera/protocol'

/** Bytes an entry counts for when batching (its data plus a small fixed overhead). */
export function entrySize(e: Entry): number {
  return e.data.length + 16
}

export class RaftLog {
  private snapIndex: number
  private snapTerm: number
  private entries: Entry[]
  committed: number
  applied: number
  /** The first index not yet durable; lastIndex + 1 when everything is. */
  private unstableFrom: number
  /** A snapshot received from the leader that the driver has not yet persisted. */
  pendingSnapshot: Snapshot | undefined

  constructor(snapshot: SnapshotMeta | undefined, entries: Entry[], committed: number, applied: number) {
    this.snapIndex = snapshot?.index ?? 0
    this.snapTerm = snapshot?.term ?? 0
    entries.forEach((e, k) => {
      if (e.index !== this.snapIndex + 1 + k) {
        throw new Error(`raft log: entry ${k} has index ${e.index}, expected ${this.snapIndex + 1 + k}`)
      }
      if (k > 0 && e.term < entries[k - 1]!.term) throw new Error(`raft log: term goes down at index ${e.index}`)
    })
    if (entries.length > 0 && entries[0]!.term < this.snapTerm) throw new Error('raft log: entry term below snapshot term')
    this.entries = entries.slice()
    this.unstableFrom = this.lastIndex() + 1
    this.committed = Math.max(committed, this.snapIndex)
    if (this.committed > this.lastIndex()) {
      throw new Error(`raft log: commit ${committed} beyond last index ${this.lastIndex()}`)
    }
    this.applied = Math.min(Math.max(applied, this.snapIndex), this.committed)
  }

  firstIndex(): number {
    return this.snapIndex + 1
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!
  }

  snapshotIndex(): number {
    return this.snapIndex
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or not there. */
  term(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm
    if (index < this.snapIndex || index > this.lastIndex()) return undefined
    return this.entries[index - this.snapIndex - 1]!.term
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /** The index of the first of `ents` that is new or conflicts with our log; 0 if none. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index
    }
    return 0
  }

  /**
   * The conflict hint a follower returns: the largest index <= `index` whose term is <= `term`,
   * with that term. The leader skips everything above it in one round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= 0; i--) {
      const t = this.term(i)
      if (t === undefined) return { index: i, term: 0 }
      if (t <= term) return { index: i, term: t }
    }
    return { index: 0, term: 0 }
  }

  /**
   * A follower's AppendEntries: when our log has (prevIndex, prevTerm), append `ents`,
   * truncating a conflicting suffix, and commit up to min(commit, last new index).
   * Returns the last new index, or undefined when the log does not match at prevIndex.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined
    const lastNew = prevIndex + ents.length
    const conflict = this.findConflict(ents)
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(`raft log: entry ${conflict} conflicts with committed entry (committed ${this.committed})`)
      }
      this.append(ents.slice(conflict - prevIndex - 1))
    }
    this.commitTo(Math.min(commit, lastNew))
    return lastNew
  }

  /** Appends entries, truncating any suffix of ours from ents[0].index. Returns the last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex()
    const first = ents[0]!.index
    if (first <= this.committed) throw new Error(`raft log: append at ${first} would overwrite committed ${this.committed}`)
    if (first > this.lastIndex() + 1) throw new Error(`raft log: append at ${first} leaves a gap after ${this.lastIndex()}`)
    this.entries.length = first - this.snapIndex - 1
    for (const e of ents) this.entries.push(e)
    this.unstableFrom = Math.min(this.unstableFrom, first)
    return this.lastIndex()
  }

  /**
   * Entries in [lo, hi) up to `maxBytes` and `maxCount` (always at least one if the range is
   * not empty). Undefined when `lo` is compacted away (the follower needs a snapshot).
   */
  slice(lo: number, hi: number, maxBytes: number, maxCount: number): Entry[] | undefined {
    if (lo <= this.snapIndex) return undefined
    const end = Math.min(hi, this.lastIndex() + 1)
    const out: Entry[] = []
    let bytes = 0
    for (let i = lo; i < end; i++) {
      const e = this.entries[i - this.snapIndex - 1]!
      bytes += entrySize(e)
      if (out.length > 0 && (bytes > maxBytes || out.length >= maxCount)) break
      out.push(e)
    }
    return out
  }

  entriesFrom(lo: number): Entry[] {
    return this.entries.slice(Math.max(lo - this.snapIndex - 1, 0))
  }

  commitTo(index: number): void {
    if (index <= this.committed) return
    if (index > this.lastIndex()) throw new Error(`raft log: commit ${index} beyond last index ${this.lastIndex()}`)
    this.committed = index
  }

  appliedTo(index: number): void {
    if (index === 0) return
    if (index > this.committed || index < this.applied) {
      throw new Error(`raft log: applied ${index} outside [${this.applied}, ${this.committed}]`)
    }
    this.applied = index
  }

  /** Entries the driver must persist (may start below an index it persisted earlier). */
  unstableEntries(): Entry[] {
    return this.entriesFrom(this.unstableFrom)
  }

  /** The last index of the durable prefix of the log (entries the driver reported persisted). */
  stableIndex(): number {
    return Math.min(this.unstableFrom - 1, this.lastIndex())
  }

  /** The driver persisted entries up to (index, term). Ignored if they were replaced since. */
  stableTo(index: number, term: number): void {
    if (index >= this.unstableFrom && this.matchTerm(index, term)) this.unstableFrom = index + 1
  }

  /** Committed entries not yet handed out for applying; none while a snapshot is pending. */
  nextCommittedEntries(): Entry[] {
    if (this.pendingSnapshot !== undefined || this.committed <= this.applied) return []
    return this.entries.slice(this.applied - this.snapIndex, this.committed - this.snapIndex)
  }

  hasNextCommittedEntries(): boolean {
    return this.pendingSnapshot === undefined && this.committed > this.applied
  }

  /** Replaces the whole log with a snapshot received from the leader (not yet durable). */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta
    if (index <= this.committed) throw new Error(`raft log: restore to ${index} at or below commit ${this.committed}`)
    this.snapIndex = index
    this.snapTerm = term
    this.entries = []
    this.committed = index
    this.unstableFrom = index + 1
    this.pendingSnapshot = snapshot
  }

  /** The driver persisted the pending snapshot and restored the application from it. */
  stableSnapTo(index: number): void {
    if (this.pendingSnapshot?.meta.index !== index) return
    this.pendingSnapshot = undefined
    this.applied = Math.max(this.applied, index)
  }

  /** The application took a durable snapshot at `index` (<= applied): drop the entries it covers. */
  compact(index: number, term: number): void {
    if (index <= this.snapIndex) return
    if (index > this.applied) throw new Error(`raft log: compact at ${index} beyond applied ${this.applied}`)
    const ourTerm = this.term(index)
    if (ourTerm !== term) throw new Error(`raft log: snapshot term ${term} at ${index} does not match log term ${ourTerm}`)
    this.entries = this.entries.slice(index - this.snapIndex)
    this.snapIndex = index
    this.snapTerm = term
    // The snapshot is durable and covers these entries, even if their own write (a Ready
    // still outstanding, since committed entries may be applied before it) has not finished.
    this.unstableFrom = Math.max(this.unstableFrom, index + 1)
  }
}
