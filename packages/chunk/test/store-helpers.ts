/** Helpers shared by the block store tests. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import { TesseraError, type ErrorCode } from '@tessera/protocol'
import { BlockStore, computeBlockKey, type CommitResult } from '../src/index.js'

/** Temp directories made by one test file; remove them all in `after`. */
export class TempDirs {
  private readonly dirs: string[] = []

  async make(prefix = 'tessera-store-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(dir)
    return dir
  }

  async removeAll(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  }
}

/** Deterministic pseudo-random bytes (xorshift32), so a failing size reproduces. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    bytes[i] = x & 0xff
  }
  return bytes
}

/** Writes `bytes` in pieces of `pieceBytes` (or the given sizes, cycled) and commits. */
export async function storeBytes(
  store: BlockStore, bytes: Uint8Array,
  options: { key?: string; seed?: number; pieces?: number[]; trustKeyForTesting?: boolean } = {},
): Promise<CommitResult> {
  const key = options.key ?? await computeBlockKey(bytes, options.seed ?? 0)
  const writer = await store.beginWrite(key, {
    expectedLength: bytes.byteLength, trustKeyForTesting: options.trustKeyForTesting ?? false,
  })
  const pieces = options.pieces ?? [1024 * 1024]
  for (let at = 0, i = 0; at < bytes.byteLength; i++) {
    const size = Math.max(1, pieces[i % pieces.length]!)
    await writer.write(bytes.subarray(at, at + size))
    at += size
  }
  return writer.commit()
}

export async function readAll(store: BlockStore, key: string): Promise<Uint8Array> {
  const pieces: Uint8Array[] = []
  for await (const piece of store.readStream(key)) pieces.push(piece)
  return Buffer.concat(pieces)
}

/** Asserts that `promise` rejects with a TesseraError carrying `code`. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<TesseraError> {
  let caught: unknown
  try {
    await promise
  } catch (err) {
    caught = err
  }
  expect(caught, `expected ${code}`).to.be.instanceOf(TesseraError)
  expect((caught as TesseraError).code).to.equal(code)
  return caught as TesseraError
}

export function blockFile(dir: string, key: string): string {
  return join(dir, 'blocks', key.slice(0, 2), key.slice(2, 4), key)
}

export function sidecarFile(dir: string, key: string): string {
  return blockFile(dir, key) + '.sum'
}

/** Flips one bit of the byte at `position` of a file. */
export async function flipByte(path: string, position: number): Promise<void> {
  const bytes = await readFile(path)
  bytes[position] = bytes[position]! ^ 0x01
  await writeFile(path, bytes)
}

export async function listDir(path: string): Promise<string[]> {
  return (await readdir(path)).sort()
}

/** A pino destination that keeps every line, for asserting on log output. */
export class LogLines {
  readonly lines: Array<Record<string, unknown>> = []

  write(line: string): void {
    this.lines.push(JSON.parse(line) as Record<string, unknown>)
  }

  matching(text: string): Array<Record<string, unknown>> {
    return this.lines.filter((line) => String(line.msg).includes(text))
  }
}
