import { Packr } from 'msgpackr'
import type { Entry, EntryKind, HardState } from '@tessera/protocol'
import { RecordType } from './record.js'
import { entriesProblem, hardStateProblem } from './validate.js'

/**
 * What a WAL record means. One group commit writes exactly one record, so a crash can only
 * damage the last one: an entries record therefore also carries the batch's hard state.
 */
export type WalRecord =
  /** Replaces every entry at index >= firstIndex, then appends; then sets the hard state. */
  | { type: 'entries'; entries: Entry[]; hardState?: HardState }
  | { type: 'hardState'; hardState: HardState }
  /**
   * A snapshot at (index, term) is durable in snap/. `reset`: the log before it is discarded
   * (a snapshot received from the leader that the log did not match); otherwise the log
   * already held (index, term) and continues past it.
   */
  | { type: 'snapshot'; index: number; term: number; reset: boolean }

// Plain msgpack arrays (no records extension) so the format is stable and small;
// copyBuffers: entry data must not keep a whole segment's read buffer alive.
const packr = new Packr({ useRecords: false, copyBuffers: true })

type HardStateTuple = [term: number, vote: string, commit: number]
type EntryTuple = [term: number, kind: EntryKind, data: Uint8Array]

export function encodeWalRecord(record: WalRecord): { type: RecordType; payload: Uint8Array } {
  switch (record.type) {
    case 'entries': {
      const first = record.entries[0]?.index ?? 0
      const tuples: EntryTuple[] = record.entries.map((e) => [e.term, e.kind, e.data])
      const hs = record.hardState === undefined ? null : hardStateTuple(record.hardState)
      return { type: RecordType.Entries, payload: packr.pack([first, tuples, hs]) }
    }
    case 'hardState':
      return { type: RecordType.HardState, payload: packr.pack(hardStateTuple(record.hardState)) }
    case 'snapshot':
      return {
        type: RecordType.SnapshotMarker,
        payload: packr.pack([record.index, record.term, record.reset]),
      }
  }
}

/** Decodes a checksum-verified payload; throws an Error naming the problem if its shape is wrong. */
export function decodeWalRecord(type: RecordType, payload: Uint8Array): WalRecord {
  const value: unknown = packr.unpack(payload)
  switch (type) {
    case RecordType.Entries:
      return decodeEntries(value)
    case RecordType.HardState:
      return { type: 'hardState', hardState: decodeHardState(value) }
    case RecordType.SnapshotMarker: {
      if (!Array.isArray(value) || value.length !== 3) throw new Error('snapshot marker is not a 3-tuple')
      const [index, term, reset] = value as unknown[]
      if (!isIndex(index) || index === 0 || !isIndex(term) || typeof reset !== 'boolean') {
        throw new Error('bad snapshot marker fields')
      }
      return { type: 'snapshot', index, term, reset }
    }
  }
}

function decodeEntries(value: unknown): WalRecord {
  if (!Array.isArray(value) || value.length !== 3) throw new Error('entries record is not a 3-tuple')
  const [first, tuples, hs] = value as unknown[]
  if (!isIndex(first) || !Array.isArray(tuples)) throw new Error('bad entries record header')
  const entries: Entry[] = tuples.map((tuple: unknown, i) => {
    if (!Array.isArray(tuple) || tuple.length !== 3) throw new Error(`entry ${i} is not a 3-tuple`)
    const [term, kind, data] = tuple as unknown[]
    return { index: first + i, term, kind, data } as Entry
  })
  const problem = entriesProblem(entries)
  if (problem !== undefined) throw new Error(problem)
  return hs === null ? { type: 'entries', entries } : { type: 'entries', entries, hardState: decodeHardState(hs) }
}

function decodeHardState(value: unknown): HardState {
  if (!Array.isArray(value) || value.length !== 3) throw new Error('hard state is not a 3-tuple')
  const [term, vote, commit] = value as unknown[]
  const hs = { term, vote, commit } as HardState
  const problem = hardStateProblem(hs)
  if (problem !== undefined) throw new Error(problem)
  return hs
}

function hardStateTuple(hs: HardState): HardStateTuple {
  return [hs.term, hs.vote, hs.commit]
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}
