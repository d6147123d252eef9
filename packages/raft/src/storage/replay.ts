import { type Entry, type HardState, TesseraError } from '@tessera/protocol'
import { ContiguousLog } from './contiguous-log.js'
import { type ScannedSegment, walCorrupt } from './wal-reader.js'

export const EMPTY_HARD_STATE: Readonly<HardState> = Object.freeze({ term: 0, vote: '', commit: 0 })

export interface ReplayResult {
  hardState: HardState
  /** The entries after the snapshot, contiguous from snapshot index + 1. */
  entries: Entry[]
  /** The last index the log reaches (the snapshot's index when no entries follow it). */
  lastIndex: number
}

/**
 * Rebuilds the log from the WAL's records on top of a snapshot (index 0 = none). Entries at or
 * below the snapshot may be missing (compacted); any entry after it that is missing is an EIO.
 */
export function replayWal(segments: readonly ScannedSegment[], snapshot?: { index: number; term: number }): ReplayResult {
  const base = snapshot?.index ?? 0
  const log = new ContiguousLog<Entry>((entry) => entry.term)
  let hardState: HardState = EMPTY_HARD_STATE
  for (const segment of segments) {
    for (const { record, offset } of segment.records) {
      switch (record.type) {
        case 'entries': {
          const first = record.entries[0]!.index
          const known = Math.max(log.lastIndex, base)
          if (first > known + 1) {
            throw walCorrupt(segment.name, offset, `entries start at ${first} but the log ends at ${known}`)
          }
          log.writeAt(first, record.entries)
          if (record.hardState !== undefined) hardState = record.hardState
          break
        }
        case 'hardState':
          hardState = record.hardState
          break
        case 'snapshot':
          if (record.index > base) {
            // A later snapshot than the one restored (its file is corrupt or gone): only usable
            // if the log itself reaches it and agrees with it.
            if (record.reset || log.termAt(record.index) !== record.term) {
              throw new TesseraError(
                'EIO',
                `cannot restore: snapshot ${record.index}-${record.term} (marked at ${segment.name}:${offset}) ` +
                  `is unreadable and the wal does not hold the log up to it`,
              )
            }
          } else if (record.reset) {
            log.resetTo(record.index)
          }
          break
      }
    }
  }
  if (snapshot !== undefined) {
    const term = log.termAt(base)
    if (term !== undefined && term !== snapshot.term) {
      throw new TesseraError('EIO', `wal corrupt: entry ${base} has term ${term} but snapshot ${base} has term ${snapshot.term}`)
    }
  }
  const entries = log.itemsAfter(base)
  if (entries.length > 0 && entries[0]!.index !== base + 1) {
    throw new TesseraError('EIO', `wal corrupt: entries after snapshot ${base} start at ${entries[0]!.index}`)
  }
  const lastIndex = Math.max(log.lastIndex, base)
  if (hardState.commit > lastIndex) {
    throw new TesseraError('EIO', `wal corrupt: hard state commit ${hardState.commit} is beyond the last index ${lastIndex}`)
  }
  // A durable snapshot is committed state, even if the hard state saying so was not yet written.
  if (hardState.commit < base) hardState = { ...hardState, commit: base }
  return { hardState, entries, lastIndex }
}
