import { type Logger, TesseraError } from '@tessera/protocol'
import type { Disk } from './disk.js'
import type { Hasher } from './hash.js'
import { scanRecords } from './record.js'
import { parseSegmentFileName, type SegmentName } from './segment-name.js'
import { decodeWalRecord, type WalRecord } from './wal-record.js'

export const WAL_DIR = 'wal'

export interface ScannedRecord {
  record: WalRecord
  offset: number
}

export interface ScannedSegment extends SegmentName {
  /** Bytes of complete records (after a torn tail was cut off). */
  size: number
  records: ScannedRecord[]
  /** The highest entry index any record in this segment wrote (0 if none). */
  maxIndex: number
}

export function walCorrupt(file: string, offset: number, reason: string): TesseraError {
  return new TesseraError('EIO', `wal corrupt at ${WAL_DIR}/${file}:${offset}: ${reason}`)
}

/**
 * Reads every segment in order. Zeros after the last record of the last segment are space the
 * writer preallocated: the log ends there, and the zeros stay for the next appends. A damaged
 * record at the very end of the last segment, with nothing valid after it, is what a crash
 * mid-write leaves: it is cut off (truncate + sync) with one warning. Any other damage
 * (zeros at the end of an earlier segment too: the writer cuts each segment to its records
 * before starting the next) rejects with EIO: acknowledged records are never dropped.
 */
export async function readWal(disk: Disk, hasher: Hasher, logger: Logger): Promise<ScannedSegment[]> {
  const names = await listSegments(disk, logger)
  const segments: ScannedSegment[] = []
  for (let i = 0; i < names.length; i++) {
    segments.push(await readSegment(disk, hasher, logger, names[i]!, i === names.length - 1))
  }
  return segments
}

async function listSegments(disk: Disk, logger: Logger): Promise<SegmentName[]> {
  const names: SegmentName[] = []
  for (const file of await disk.list(WAL_DIR)) {
    const parsed = parseSegmentFileName(file)
    if (parsed === undefined) {
      logger.warn({ file: `${WAL_DIR}/${file}` }, 'ignoring a file that is not a wal segment')
      continue
    }
    names.push(parsed)
  }
  names.sort((a, b) => a.seq - b.seq)
  for (let i = 1; i < names.length; i++) {
    const previous = names[i - 1]!
    const current = names[i]!
    if (current.seq !== previous.seq + 1) {
      throw walCorrupt(current.name, 0, `segment sequence jumps from ${previous.seq} to ${current.seq} (a segment is missing)`)
    }
  }
  return names
}

async function readSegment(
  disk: Disk,
  hasher: Hasher,
  logger: Logger,
  name: SegmentName,
  isLast: boolean,
): Promise<ScannedSegment> {
  const path = `${WAL_DIR}/${name.name}`
  const file = await disk.open(path, 'read')
  let bytes: Uint8Array
  try {
    bytes = await file.read(0, await file.size())
  } finally {
    await file.close()
  }
  const scan = scanRecords(hasher, bytes)
  let size = bytes.length
  if (scan.damage !== undefined && isLast && allZero(bytes, scan.damage.offset)) {
    size = scan.damage.offset
  } else if (scan.damage !== undefined) {
    const { offset, reason, validDataFollows } = scan.damage
    if (!isLast) throw walCorrupt(name.name, offset, `${reason} (in a segment that is not the last)`)
    if (validDataFollows) throw walCorrupt(name.name, offset, `${reason}, followed by valid records`)
    logger.warn(
      { file: path, offset, cutBytes: bytes.length - offset, reason },
      'wal ends with an incomplete record (a crash mid-write); cutting it off',
    )
    const writable = await disk.open(path, 'readWrite')
    try {
      await writable.truncate(offset)
      await writable.sync()
    } finally {
      await writable.close()
    }
    size = offset
  }
  const records: ScannedRecord[] = []
  let maxIndex = 0
  for (const framed of scan.records) {
    let record: WalRecord
    try {
      record = decodeWalRecord(framed.type, framed.payload)
    } catch (err) {
      throw walCorrupt(name.name, framed.offset, `bad record payload: ${(err as Error).message}`)
    }
    if (record.type === 'entries') maxIndex = Math.max(maxIndex, record.entries.at(-1)!.index)
    records.push({ record, offset: framed.offset })
  }
  return { ...name, size, records, maxIndex }
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}
