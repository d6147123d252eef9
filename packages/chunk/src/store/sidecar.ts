/**
 * The checksum sidecar `<key>.sum` kept beside every block: one xxh64 (seed 0) per 64 KiB
 * piece, so a partial read verifies only the pieces it touches.
 *
 *   offset  size  field
 *        0     4  magic "TSUM"
 *        4     2  format version (1), little-endian
 *        6     2  zero
 *        8     4  piece size in bytes
 *       12     4  piece count
 *       16     8  block length in bytes
 *       24     8  xxh64 (seed 0) of the whole sidecar with this field zeroed
 *       32   8*n  the piece checksums, in order
 *
 * The sidecar's own checksum covers the header and every piece checksum, so a damaged
 * sidecar is told apart from a damaged block.
 */
import type { Hasher } from './hasher.js'

export const PIECE_BYTES = 64 * 1024
export const SIDECAR_HEADER_BYTES = 32
const MAX_PIECE_BYTES = 16 * 1024 * 1024
const MAGIC = [0x54, 0x53, 0x55, 0x4d] // "TSUM"
const VERSION = 1
const CHECKSUM_OFFSET = 24

export interface Sidecar {
  pieceBytes: number
  blockLength: number
  /** xxh64 of each piece; the last piece may be shorter than pieceBytes. */
  sums: readonly bigint[]
}

export type SidecarDecode = { ok: true; sidecar: Sidecar } | { ok: false; reason: string }

export function pieceCountFor(blockLength: number, pieceBytes = PIECE_BYTES): number {
  return Math.ceil(blockLength / pieceBytes)
}

export function sidecarBytesFor(blockLength: number, pieceBytes = PIECE_BYTES): number {
  return SIDECAR_HEADER_BYTES + 8 * pieceCountFor(blockLength, pieceBytes)
}

export function encodeSidecar(hasher: Hasher, sidecar: Sidecar): Uint8Array {
  const bytes = new Uint8Array(SIDECAR_HEADER_BYTES + 8 * sidecar.sums.length)
  const view = new DataView(bytes.buffer)
  bytes.set(MAGIC, 0)
  view.setUint16(4, VERSION, true)
  view.setUint32(8, sidecar.pieceBytes, true)
  view.setUint32(12, sidecar.sums.length, true)
  view.setBigUint64(16, BigInt(sidecar.blockLength), true)
  sidecar.sums.forEach((sum, i) => view.setBigUint64(SIDECAR_HEADER_BYTES + 8 * i, sum, true))
  view.setBigUint64(CHECKSUM_OFFSET, hasher.h64Raw(bytes), true)
  return bytes
}

/** Decodes and checks a sidecar read from disk against the block length its key names. */
export function decodeSidecar(hasher: Hasher, bytes: Uint8Array, blockLength: number): SidecarDecode {
  if (bytes.byteLength < SIDECAR_HEADER_BYTES) return { ok: false, reason: 'sidecar shorter than its header' }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (MAGIC.some((b, i) => bytes[i] !== b)) return { ok: false, reason: 'sidecar magic wrong' }
  if (view.getUint16(4, true) !== VERSION) return { ok: false, reason: 'sidecar version unknown' }
  const stored = view.getBigUint64(CHECKSUM_OFFSET, true)
  const zeroed = Uint8Array.from(bytes)
  zeroed.fill(0, CHECKSUM_OFFSET, CHECKSUM_OFFSET + 8)
  if (hasher.h64Raw(zeroed) !== stored) return { ok: false, reason: 'sidecar checksum mismatch' }
  const pieceBytes = view.getUint32(8, true)
  const pieceCount = view.getUint32(12, true)
  const length = view.getBigUint64(16, true)
  if (length !== BigInt(blockLength)) return { ok: false, reason: `sidecar names length ${length}, key ${blockLength}` }
  if (pieceBytes === 0 || pieceBytes % 4096 !== 0 || pieceBytes > MAX_PIECE_BYTES) return { ok: false, reason: `sidecar piece size ${pieceBytes} invalid` }
  if (pieceCount !== pieceCountFor(blockLength, pieceBytes)) return { ok: false, reason: 'sidecar piece count wrong' }
  if (bytes.byteLength !== SIDECAR_HEADER_BYTES + 8 * pieceCount) return { ok: false, reason: 'sidecar size wrong' }
  const sums: bigint[] = []
  for (let i = 0; i < pieceCount; i++) sums.push(view.getBigUint64(SIDECAR_HEADER_BYTES + 8 * i, true))
  return { ok: true, sidecar: { pieceBytes, blockLength, sums } }
}

/** Computes piece checksums over bytes that arrive in pieces of any size. */
export class PieceSummer {
  private readonly partial: Uint8Array
  private filled = 0
  private readonly sums: bigint[] = []

  constructor(private readonly hasher: Hasher, private readonly pieceBytes = PIECE_BYTES) {
    this.partial = new Uint8Array(pieceBytes)
  }

  update(chunk: Uint8Array): void {
    let at = 0
    while (at < chunk.byteLength) {
      if (this.filled === 0 && chunk.byteLength - at >= this.pieceBytes) {
        this.sums.push(this.hasher.h64Raw(chunk.subarray(at, at + this.pieceBytes)))
        at += this.pieceBytes
        continue
      }
      const take = Math.min(this.pieceBytes - this.filled, chunk.byteLength - at)
      this.partial.set(chunk.subarray(at, at + take), this.filled)
      this.filled += take
      at += take
      if (this.filled === this.pieceBytes) {
        this.sums.push(this.hasher.h64Raw(this.partial))
        this.filled = 0
      }
    }
  }

  /** The checksums of every piece, including a final short one. Call once. */
  finish(): bigint[] {
    if (this.filled > 0) this.sums.push(this.hasher.h64Raw(this.partial.subarray(0, this.filled)))
    this.filled = 0
    return this.sums
  }
}
