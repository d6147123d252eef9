import { type Hasher, xxh64Of } from './hash.js'

/**
 * WAL record framing: [length u32][type u8][xxh64(type + payload) u64][payload], little
 * endian, where length counts the payload bytes only.
 */
export const RecordType = {
  Entries: 1,
  HardState: 2,
  SnapshotMarker: 3,
} as const
export type RecordType = (typeof RecordType)[keyof typeof RecordType]

export const RECORD_HEADER_BYTES = 13
/** No record is larger: a length field above it is damage, not data. */
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024

const TYPE_BYTES: readonly Uint8Array[] = [0, 1, 2, 3].map((type) => Uint8Array.of(type))

export function isRecordType(value: number): value is RecordType {
  return value === RecordType.Entries || value === RecordType.HardState || value === RecordType.SnapshotMarker
}

export function frameRecord(hasher: Hasher, type: RecordType, payload: Uint8Array): Uint8Array {
  if (payload.length === 0 || payload.length > MAX_RECORD_PAYLOAD_BYTES) {
    throw new RangeError(`record payload of ${payload.length} bytes is out of range`)
  }
  const frame = new Uint8Array(RECORD_HEADER_BYTES + payload.length)
  const view = new DataView(frame.buffer)
  view.setUint32(0, payload.length, true)
  view.setUint8(4, type)
  view.setBigUint64(5, xxh64Of(hasher, TYPE_BYTES[type]!, payload), true)
  frame.set(payload, RECORD_HEADER_BYTES)
  return frame
}

export interface FramedRecord {
  type: RecordType
  /** A view into the scanned bytes. */
  payload: Uint8Array
  /** Where the record starts in its segment. */
  offset: number
  /** Where the next record starts. */
  end: number
}

export type RecordProbe = { ok: true; record: FramedRecord } | { ok: false; reason: string }

/** Reads and verifies the record at `offset`; never throws on any input. */
export function probeRecord(hasher: Hasher, bytes: Uint8Array, offset: number): RecordProbe {
  if (bytes.length - offset < RECORD_HEADER_BYTES) {
    return { ok: false, reason: `incomplete record header (${bytes.length - offset} bytes)` }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_HEADER_BYTES)
  const length = view.getUint32(0, true)
  const type = view.getUint8(4)
  if (length === 0 || length > MAX_RECORD_PAYLOAD_BYTES) return { ok: false, reason: `bad record length ${length}` }
  if (!isRecordType(type)) return { ok: false, reason: `bad record type ${type}` }
  const end = offset + RECORD_HEADER_BYTES + length
  if (end > bytes.length) {
    return { ok: false, reason: `record of ${length} bytes runs past the end of the file` }
  }
  const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end)
  if (view.getBigUint64(5, true) !== xxh64Of(hasher, TYPE_BYTES[type]!, payload)) {
    return { ok: false, reason: 'checksum mismatch' }
  }
  return { ok: true, record: { type, payload, offset, end } }
}

/** The offset of the first valid record starting at or after `from`, or -1. */
export function findNextValidRecord(hasher: Hasher, bytes: Uint8Array, from: number): number {
  for (let offset = from; offset + RECORD_HEADER_BYTES <= bytes.length; offset++) {
    // Cheap header checks first: the checksum is computed only for plausible headers.
    if (!isRecordType(bytes[offset + 4]!)) continue
    if (probeRecord(hasher, bytes, offset).ok) return offset
  }
  return -1
}

export interface RecordScan {
  records: FramedRecord[]
  /** Set when the bytes do not end with a complete, valid record. */
  damage?: {
    offset: number
    reason: string
    /** A valid record follows the damage: the file is corrupt, not merely cut short. */
    validDataFollows: boolean
  }
}

/** Splits a segment's bytes into records, stopping at the first one that fails to verify. */
export function scanRecords(hasher: Hasher, bytes: Uint8Array): RecordScan {
  const records: FramedRecord[] = []
  let offset = 0
  while (offset < bytes.length) {
    const probe = probeRecord(hasher, bytes, offset)
    if (!probe.ok) {
      const validDataFollows = findNextValidRecord(hasher, bytes, offset + 1) !== -1
      return { records, damage: { offset, reason: probe.reason, validDataFollows } }
    }
    records.push(probe.record)
    offset = probe.record.end
  }
  return { records }
}
