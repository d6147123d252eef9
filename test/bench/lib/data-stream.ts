/**
 * Seeded, reproducible file contents of any size without holding them: AES-128-CTR over zeros,
 * keyed by the seed (fast, incompressible, the same bytes for the same seed and size), and a
 * streaming sha256 over whatever passes through.
 */
import { createCipheriv, createHash, type Hash } from 'node:crypto'

const PIECE = 1024 * 1024

/** `bytes` pseudo-random bytes from `seed`, in pieces of at most 1 MiB (each a fresh Buffer). */
export async function* seededBytes(seed: string, bytes: number, onPiece?: (piece: Buffer) => void): AsyncGenerator<Buffer> {
  const key = createHash('sha256').update(`tessera-data-seed:${seed}`).digest()
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32))
  const zeros = Buffer.alloc(PIECE)
  for (let at = 0; at < bytes; at += PIECE) {
    const piece = cipher.update(zeros.subarray(0, Math.min(PIECE, bytes - at)))
    onPiece?.(piece)
    yield piece
  }
}

/** A running sha256 with a byte count. */
export class StreamDigest {
  private readonly hash: Hash = createHash('sha256')
  bytes = 0

  update(piece: Uint8Array): void {
    this.hash.update(piece)
    this.bytes += piece.byteLength
  }

  hex(): string {
    return this.hash.digest('hex')
  }
}

/** The sha256 of the seeded stream, computed without storing it. */
export async function seededDigest(seed: string, bytes: number): Promise<string> {
  const digest = new StreamDigest()
  for await (const piece of seededBytes(seed, bytes)) digest.update(piece)
  return digest.hex()
}
