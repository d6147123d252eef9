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
import { checkFrame, type Frame, type FrameCheck } from './frames.js'

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
