/**
 * The one place msgpackr is configured. Frames are encoded with fixed options and no state
 * shared between peers.
 *
 * Choices, measured on this machine (msgpackr 2.1.4, a 4-element request frame and a raft.step
 * with 8 x 100-byte entries): records without shared structures save ~14% bytes on the Raft
 * frame but decode 10-40% slower, and shared structures would need a per-connection
 * negotiation; so `useRecords: false`.
 *
 * Byte fields of frames of 64 KiB and more are zero-copy views into the frame buffer (ws gives
 * each such message its own buffer and never reuses it); those of smaller frames are copies.
 */
import { Packr, Unpackr } from 'msgpackr'
import { TesseraError } from './errors.js'
import { LIMITS } from './limits.js'
import { checkFrame, FrameTag, type Frame, type FrameCheck } from './frames.js'

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })
/**
 * Small frames may be views into a larger socket read buffer (ws slices messages out of what one
 * read returned); their byte fields are copied so that a retained field (a Raft entry kept in
 * the log) keeps only its own bytes alive. Large frames own their buffer: zero-copy.
 */
const copyingUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', copyBuffers: true })
const COPY_BELOW_BYTES = 64 * 1024

/** Encodes a frame. The returned Buffer is not reused by later calls. */
export function encodeFrame(frame: Frame): Buffer {
  return packr.pack(frame)
}

/**
 * Encodes a stream chunk frame [Chunk, id, data] by hand, into `into` when it is large enough,
 * else into a fresh buffer of exactly its size. (msgpackr would copy the data into a fresh buffer
 * four times its size; bulk data is the one place where that shows.) Decodes like any frame.
 */
export function encodeChunkFrame(id: number, data: Uint8Array, into?: Buffer): Buffer {
  const n = data.byteLength
  const idBytes = id < 0x80 ? 1 : id < 0x100 ? 2 : id < 0x10000 ? 3 : id < 0x100000000 ? 5 : 9
  const lenBytes = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
  const size = 2 + idBytes + lenBytes + n
  const out = into !== undefined && into.byteLength >= size ? into.subarray(0, size) : Buffer.allocUnsafeSlow(size)
  out[0] = 0x93 // fixarray of 3
  out[1] = FrameTag.Chunk // positive fixint
  let at = 2
  if (idBytes === 1) out[at++] = id
  else if (idBytes === 2) { out[at++] = 0xcc; out[at++] = id }
  else if (idBytes === 3) { out[at++] = 0xcd; out.writeUInt16BE(id, at); at += 2 }
  else if (idBytes === 5) { out[at++] = 0xce; out.writeUInt32BE(id, at); at += 4 }
  else { out[at++] = 0xcf; out.writeBigUInt64BE(BigInt(id), at); at += 8 }
  if (lenBytes === 2) { out[at++] = 0xc4; out[at++] = n }
  else if (lenBytes === 3) { out[at++] = 0xc5; out.writeUInt16BE(n, at); at += 2 }
  else { out[at++] = 0xc6; out.writeUInt32BE(n, at); at += 4 }
  out.set(data, at)
  return out
}

/** Encodes any value with the frame codec's options (for state machines' own records). */
export function encodeValue(value: unknown): Buffer {
  return packr.pack(value)
}

/** Decodes bytes with the frame codec's options; throws only TesseraError('PROTOCOL'). */
export function decodeValue(bytes: Uint8Array, maxBytes: number = LIMITS.maxFrameBytes): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TesseraError('PROTOCOL', 'frame: not bytes')
  if (bytes.byteLength > maxBytes) throw new TesseraError('PROTOCOL', `frame of ${bytes.byteLength} bytes exceeds ${maxBytes}`)
  if (bytes.byteLength === 0) throw new TesseraError('PROTOCOL', 'frame: empty')
  try {
    return (bytes.byteLength < COPY_BELOW_BYTES ? copyingUnpackr : unpackr).unpack(bytes)
  } catch (err) {
    throw new TesseraError('PROTOCOL', `frame: undecodable (${err instanceof Error ? err.message.slice(0, 200) : 'unknown'})`)
  }
}

/**
 * Joins separately encoded frames into one Batch frame without re-encoding them (msgpack is
 * concatenative: an array header, the tag, then the members' bytes).
 */
export function joinBatch(encoded: readonly Buffer[], totalBytes: number): Buffer {
  const n = encoded.length + 1
  const header = n < 16 ? 1 : n < 0x10000 ? 3 : 5
  const out = Buffer.allocUnsafe(header + 1 + totalBytes)
  if (header === 1) out[0] = 0x90 | n
  else if (header === 3) { out[0] = 0xdc; out.writeUInt16BE(n, 1) }
  else { out[0] = 0xdd; out.writeUInt32BE(n, 1) }
  out[header] = FrameTag.Batch
  let at = header + 1
  for (const part of encoded) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

/** Decodes and checks a frame's envelope without throwing; see FrameCheck. */
export function checkFrameBytes(bytes: Uint8Array): FrameCheck {
  let value: unknown
  try {
    value = decodeValue(bytes)
  } catch (err) {
    return { ok: false, error: err as TesseraError }
  }
  return checkFrame(value)
}

/** Decodes a frame; throws only TesseraError('PROTOCOL'). */
export function decodeFrame(bytes: Uint8Array): Frame {
  const result = checkFrameBytes(bytes)
  if (!result.ok) throw result.error
  return result.frame
}
