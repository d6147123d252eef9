import { Packr } from 'msgpackr'
import type { Snapshot, SnapshotMeta } from '@tessera/protocol'
import { type Hasher, xxh64Of } from './hash.js'
import { snapshotMetaProblem } from './validate.js'

/**
 * A snapshot file: a 32-byte header, the msgpack-encoded metadata, then the data.
 *   0  magic "TESSNAP1"
 *   8  metadata length u32
 *  12  reserved u32 (0)
 *  16  data length u64
 *  24  xxh64 of header bytes 0..24 + metadata + data, u64
 * All little endian. Any mismatch (size, checksum, shape) means the file is corrupt.
 */
const MAGIC = new TextEncoder().encode('TESSNAP1')
const HEADER_BYTES = 32
const MAX_META_BYTES = 64 * 1024

const packr = new Packr({ useRecords: false })

export interface EncodedSnapshot {
  /** Header and metadata, written first. */
  head: Uint8Array
  data: Uint8Array
}

export function encodeSnapshotFile(hasher: Hasher, snapshot: Snapshot): EncodedSnapshot {
  const { index, term, conf } = snapshot.meta
  const meta = packr.pack([index, term, conf.voters, conf.learners])
  const head = new Uint8Array(HEADER_BYTES + meta.length)
  const view = new DataView(head.buffer)
  head.set(MAGIC, 0)
  view.setUint32(8, meta.length, true)
  view.setBigUint64(16, BigInt(snapshot.data.length), true)
  head.set(meta, HEADER_BYTES)
  const checksum = xxh64Of(hasher, head.subarray(0, 24), head.subarray(HEADER_BYTES), snapshot.data)
  view.setBigUint64(24, checksum, true)
  return { head, data: snapshot.data }
}

/** Parses and verifies a whole snapshot file; throws an Error naming the first problem. */
export function decodeSnapshotFile(hasher: Hasher, bytes: Uint8Array): Snapshot {
  if (bytes.length < HEADER_BYTES) throw new Error(`file of ${bytes.length} bytes is shorter than the header`)
  if (!MAGIC.every((byte, i) => bytes[i] === byte)) throw new Error('bad magic')
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES)
  const metaLength = view.getUint32(8, true)
  const dataLength = view.getBigUint64(16, true)
  if (metaLength > MAX_META_BYTES) throw new Error(`metadata length ${metaLength} is too large`)
  const expected = BigInt(HEADER_BYTES + metaLength) + dataLength
  if (expected !== BigInt(bytes.length)) throw new Error(`file has ${bytes.length} bytes, header says ${expected}`)
  const meta = bytes.subarray(HEADER_BYTES, HEADER_BYTES + metaLength)
  const data = bytes.subarray(HEADER_BYTES + metaLength)
  if (view.getBigUint64(24, true) !== xxh64Of(hasher, bytes.subarray(0, 24), meta, data)) {
    throw new Error('checksum mismatch')
  }
  return { meta: decodeMeta(meta), data }
}

function decodeMeta(bytes: Uint8Array): SnapshotMeta {
  const value: unknown = packr.unpack(bytes)
  if (!Array.isArray(value) || value.length !== 4) throw new Error('metadata is not a 4-tuple')
  const [index, term, voters, learners] = value as unknown[]
  const meta = { index, term, conf: { voters, learners } } as SnapshotMeta
  const problem = snapshotMetaProblem(meta)
  if (problem !== undefined) throw new Error(problem)
  return meta
}
