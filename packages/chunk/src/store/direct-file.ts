/**
 * Block files written with O_DIRECT: bytes go from a page-aligned staging buffer straight to
 * the disk, with no copy into the page cache. On these VMs that copy is the chunk server's
 * largest cost on a put: a profile during a 512 MiB put showed 35% of a server's CPU in the
 * kernel's page-cache copy (copy_folio_from_iter_atomic), and `dd bs=1M conv=fsync` of 512 MiB
 * takes 0.6-1.3 s of system CPU buffered against 0.1 s with oflag=direct.
 *
 * O_DIRECT wants the buffer address, the file offset and the length aligned to the device's
 * block size. Pieces arrive from the network at any address and length, so they are copied
 * (in user space, into memory that stays mapped) into a staging buffer that is written out
 * whenever it fills. The tail, at sync, is written padded to the alignment and the file then
 * truncated to its true length before the fsync. Writes must be sequential (a block arrives in
 * order).
 *
 * Aligned memory comes from WebAssembly.Memory: V8 maps wasm memory with its page allocator,
 * so its start is page-aligned, and Node can write from any view of it. The store checks that
 * the whole scheme works on its file system once at open (`directIoWorks`) and writes through
 * the page cache where it does not (tmpfs, for one, refuses O_DIRECT).
 */
import { constants } from 'node:fs'
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { TesseraError } from '@tessera/protocol'
import { writeFully, type TempFile } from './fs-util.js'

/** Offsets and lengths of direct writes are multiples of this (4 KiB covers 512 B and 4 KiB devices). */
export const DIRECT_ALIGN = 4096
/** One staging buffer: a write syscall per MiB, as the buffered path made. */
export const STAGE_BYTES = 1024 * 1024

/** The one part of the WebAssembly API used here (TypeScript's es2023 lib does not declare it). */
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } }

const WASM_PAGE_BYTES = 65536
const STAGES_PER_ARENA = 8

/** Reusable page-aligned staging buffers of STAGE_BYTES. Grows by arenas of eight; never shrinks. */
export class AlignedBufferPool {
  private readonly free: Buffer[] = []

  take(): Buffer {
    if (this.free.length === 0) this.grow()
    return this.free.pop()!
  }

  give(buffer: Buffer): void {
    this.free.push(buffer)
  }

  private grow(): void {
    const pages = (STAGE_BYTES * STAGES_PER_ARENA) / WASM_PAGE_BYTES
    const arena = new WebAssembly.Memory({ initial: pages, maximum: pages })
    for (let i = 0; i < STAGES_PER_ARENA; i++) this.free.push(Buffer.from(arena.buffer, i * STAGE_BYTES, STAGE_BYTES))
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN
}

class DirectTempFile implements TempFile {
  /** File offset of stage[0]; always aligned. */
  private stageStart = 0
  /** Bytes in the stage not yet written out whole (the tail may already be on disk, padded). */
  private staged = 0
  private stage: Buffer | undefined

  constructor(private readonly handle: FileHandle, private readonly pool: AlignedBufferPool) {
    this.stage = pool.take()
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    const stage = this.openStage()
    if (position !== this.stageStart + this.staged) {
      throw new TesseraError('EINVAL', `direct block files are written in order: write at ${position}, end is ${this.stageStart + this.staged}`)
    }
    let at = 0
    while (at < data.byteLength) {
      const n = Math.min(STAGE_BYTES - this.staged, data.byteLength - at)
      stage.set(data.subarray(at, at + n), this.staged)
      this.staged += n
      at += n
      if (this.staged === STAGE_BYTES) {
        await writeFully(this.handle, stage, STAGE_BYTES, this.stageStart)
        this.stageStart += STAGE_BYTES
        this.staged = 0
      }
    }
  }

  async sync(): Promise<void> {
    const stage = this.openStage()
    if (this.staged > 0) {
      const padded = roundUp(this.staged)
      stage.fill(0, this.staged, padded)
      await writeFully(this.handle, stage, padded, this.stageStart)
      // The padding goes again; the stage keeps the tail, so a later write continues it.
      await this.handle.truncate(this.stageStart + this.staged)
    }
    await this.handle.sync()
  }

  async close(): Promise<void> {
    if (this.stage !== undefined) this.pool.give(this.stage)
    this.stage = undefined
    await this.handle.close()
  }

  private openStage(): Buffer {
    if (this.stage === undefined) throw new TesseraError('EINVAL', 'direct block file is closed')
    return this.stage
  }
}

/** Creates `path` exclusively for direct writes. */
export async function openDirectTempFile(path: string, pool: AlignedBufferPool): Promise<TempFile> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644)
  return new DirectTempFile(handle, pool)
}

/**
 * Whether direct writes from the pool's buffers work in `dir`: writes an unaligned length (the
 * tail path) and syncs a probe file, then removes it. Any failure means no.
 */
export async function directIoWorks(dir: string, pool: AlignedBufferPool): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (constants.O_DIRECT === undefined) return { ok: false, reason: 'O_DIRECT is not available on this platform' }
  const path = join(dir, `direct-probe.${randomBytes(6).toString('hex')}`)
  let file: TempFile | undefined
  try {
    file = await openDirectTempFile(path, pool)
    await file.write(Buffer.alloc(DIRECT_ALIGN + 100, 1), 0)
    await file.sync()
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) }
  } finally {
    await file?.close().catch(() => undefined)
    await unlink(path).catch(() => undefined)
  }
}
