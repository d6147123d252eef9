/**
 * The chunk server's block store: immutable blocks under a data directory, named by key
 * (block-key.ts), each with a checksum sidecar (sidecar.ts), laid out as in layout.ts.
 *
 * Writing (block-writer.ts) streams into tmp/; commit checks the bytes against the key, fsyncs
 * block and sidecar, renames the sidecar then the block into place and fsyncs the directory,
 * and only then resolves. So a block that is visible is complete, and a commit that resolved
 * survives a crash (DESIGN decision 6).
 *
 * A key that is already stored (commits of one key are serialised):
 * - same bytes: the commit is a dedup (`existed: true`), nothing is overwritten;
 * - different bytes, and the stored block checks out against its key: a hash collision
 *   (DESIGN decision 5). The commit rejects with HASH_COLLISION and the stored block stays as
 *   it was. The writer must store its data under a salted key (`<hash>-<len>-s<n>`, hashed with
 *   seed n, see block-key.ts) and reference that key instead;
 * - different bytes, and the stored block is damaged: the damaged copy goes to quarantine and
 *   the new bytes (which match the key) take its place (`replacedCorrupt: true`).
 *
 * Reading verifies every 64 KiB piece it touches. A block found damaged (by read, readStream,
 * verify or the start-up scan) is moved to quarantine/ and forgotten; the read rejects with
 * CHECKSUM_MISMATCH and the caller reports the loss to meta, which re-replicates.
 *
 * Empty blocks do not exist: a key names at least one byte (a file's empty tail needs none).
 */
import { rename, stat } from 'node:fs/promises'
import { silentLogger, TesseraError, type Logger } from '@tessera/protocol'
import { parseBlockKey, type BlockKeyParts } from './block-key.js'
import {
  checkBlockFile, openBlockFile, readRawRange, readVerifiedRange, READ_BATCH_BYTES, sameFileBytes, STREAM_READ_BYTES, verifyPieces,
  type OpenBlock,
} from './block-file.js'
import { BlockWriter, type CommitResult, type PreparedBlock, type WriterHost } from './block-writer.js'
import {
  ensureDurableDir, errnoCode, fsyncDir, openTempFile, removeIfPresent, toStoreError, type TempFileOpener,
} from './fs-util.js'
import { loadHasher, type Hasher } from './hasher.js'
import { KeyLocks } from './key-locks.js'
import { StoreLayout } from './layout.js'
import { Quarantine } from './quarantine.js'
import { emptyTmp, scanBlocks, type IndexEntry } from './scan.js'
import { AlignedBufferPool, directIoWorks, openDirectTempFile } from './direct-file.js'
import { PIECE_BYTES, sidecarBytesFor } from './sidecar.js'
import { SpaceAccount, type SpaceOptions, type StoreUsage } from './space.js'

/** DESIGN decision 5: the default maximum block size, fixed at format time. */
export const DEFAULT_MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** How old a free-space sample may be before a write takes a new one. */
const SPACE_SAMPLE_MAX_AGE_MS = 1000

export interface BlockStoreOptions extends SpaceOptions {
  logger?: Logger
  /** Largest block a write may create. Default 4 MiB. */
  maxBlockBytes?: number
  /** Check every block's bytes during open (a full read of the store). Default false. */
  verifyOnOpen?: boolean
  /** How temp files are created; a seam for fault injection in tests (block files then use it too). */
  openTempFile?: TempFileOpener
  /** Write block files with O_DIRECT where the file system allows it (direct-file.ts). Default true. */
  directIo?: boolean
}

export interface BeginWriteOptions {
  /** Must equal the length the key names. */
  expectedLength: number
  /**
   * Tests only: accept the bytes under this key without checking their hash, so a test can
   * make two different blocks claim one key (a forced hash collision).
   */
  trustKeyForTesting?: boolean
}

export interface BlockStat {
  length: number
}

export type VerifyResult = { ok: true } | { ok: false; reason: string }

export interface ReadStreamOptions {
  /** First byte to read. Default 0. */
  offset?: number
  /** Bytes to read. Default: to the end of the block. */
  length?: number
  /**
   * Memory to read into (STREAM_READ_BYTES is enough for any read), instead of a new buffer per
   * read: each yielded piece is then valid only until the next one is asked for. A server that
   * streams many blocks reuses it, so it neither fills fresh memory nor makes garbage per block
   * (data bench, 512 MiB get: without it ~7-17 full GCs per chunk server, from external memory
   * pressure, and 0.9-1.6 CPU ms per MiB per server; with it at most one, and 0.4-0.7).
   */
  scratch?: Buffer
}

export class BlockStore {
  private readonly index: Map<string, IndexEntry>
  private readonly writers = new Set<BlockWriter>()
  private readonly locks = new KeyLocks()
  private readonly writerHost: WriterHost
  private closed = false

  private constructor(
    readonly dir: string,
    private readonly layout: StoreLayout,
    private readonly hasher: Hasher,
    private readonly log: Logger,
    private readonly quarantine: Quarantine,
    private readonly space: SpaceAccount,
    index: Map<string, IndexEntry>,
    private readonly maxBlockBytes: number,
    openTemp: TempFileOpener,
    openBlockTemp: TempFileOpener,
  ) {
    this.index = index
    for (const entry of index.values()) space.addBlock(onDiskBytes(entry.length))
    this.writerHost = {
      hasher,
      tmpDir: layout.tmpDir,
      openTempFile: openTemp,
      openBlockTempFile: openBlockTemp,
      install: (block) => this.install(block),
      writerFinished: (writer) => this.writerFinished(writer),
    }
  }

  /** Opens (creating if needed) the store in `dir` and rebuilds its index from disk. */
  static async open(dir: string, options: BlockStoreOptions = {}): Promise<BlockStore> {
    const maxBlockBytes = options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
    if (!Number.isSafeInteger(maxBlockBytes) || maxBlockBytes < 1) {
      throw new TesseraError('EINVAL', `maxBlockBytes must be a positive integer, got ${maxBlockBytes}`)
    }
    const log = (options.logger ?? silentLogger()).child({ store: dir })
    const space = new SpaceAccount(dir, options)
    const layout = new StoreLayout(dir)
    try {
      for (const sub of [dir, layout.blocksDir, layout.tmpDir, layout.quarantineDir]) await ensureDurableDir(sub)
      const hasher = await loadHasher()
      const quarantine = new Quarantine(layout.quarantineDir, log)
      await emptyTmp(layout, log)
      const index = await scanBlocks({ layout, hasher, log, quarantine, verifyOnOpen: options.verifyOnOpen ?? false })
      await space.refresh()
      const openBlockTemp = options.openTempFile ?? await chooseBlockTempOpener(layout.tmpDir, options.directIo ?? true, log)
      const store = new BlockStore(
        dir, layout, hasher, log, quarantine, space, index, maxBlockBytes, options.openTempFile ?? openTempFile, openBlockTemp,
      )
      log.info({ blocks: index.size }, 'block store open')
      return store
    } catch (err) {
      throw toStoreError(err, `opening block store ${dir}`)
    }
  }

  /**
   * Starts writing a block. Refuses with ENOSPC when the block (and its sidecar) would not fit
   * beside the stored blocks and the writes in progress, EINVAL for a malformed key, a length
   * that differs from the key's, or a block above the maximum size.
   */
  async beginWrite(key: string, options: BeginWriteOptions): Promise<BlockWriter> {
    this.assertOpen()
    const parts = parseBlockKey(key)
    if (options.expectedLength !== parts.length) {
      throw new TesseraError('EINVAL', `expected length ${options.expectedLength} differs from key ${key}`)
    }
    if (parts.length > this.maxBlockBytes) {
      throw new TesseraError('EINVAL', `block of ${parts.length} bytes exceeds the maximum of ${this.maxBlockBytes}`)
    }
    const need = onDiskBytes(parts.length)
    if (!(await this.reserveSpace(need))) {
      throw new TesseraError('ENOSPC', `no room for block ${key} (${need} bytes, ${this.space.usage().freeBytes} free)`)
    }
    let writer: BlockWriter
    try {
      writer = await BlockWriter.create(this.writerHost, key, parts, need, options.trustKeyForTesting === true)
    } catch (err) {
      this.space.release(need)
      throw toStoreError(err, `starting block ${key}`)
    }
    this.writers.add(writer)
    return writer
  }

  /** Reads `length` bytes at `offset`, checking only the 64 KiB pieces they touch. */
  async read(key: string, offset: number, length: number): Promise<Uint8Array> {
    const parts = this.knownBlock(key)
    checkRange(parts.length, offset, length)
    if (length === 0) return new Uint8Array(0)
    return this.withOpenBlock(key, parts, async (block) => {
      const start = offset - (offset % block.sidecar.pieceBytes)
      const end = Math.min(parts.length, roundUp(offset + length, block.sidecar.pieceBytes))
      const range = await readVerifiedRange(this.hasher, block, start, end)
      if (!range.ok) return range
      return { ok: true, value: range.bytes.subarray(offset - start, offset - start + length) }
    })
  }

  /**
   * Streams a block (or a range of it) in verified pieces of up to 1 MiB, read from the file up
   * to 4 MiB at a time. A damaged piece ends the stream with CHECKSUM_MISMATCH (and quarantines
   * the block); pieces already yielded were good.
   */
  async *readStream(key: string, options: ReadStreamOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const parts = this.knownBlock(key)
    const offset = options.offset ?? 0
    const length = options.length ?? parts.length - offset
    checkRange(parts.length, offset, length)
    if (length === 0) return
    const opened = await this.openOrQuarantine(key, parts)
    try {
      const { pieceBytes } = opened.sidecar
      const batch = Math.max(pieceBytes, READ_BATCH_BYTES - (READ_BATCH_BYTES % pieceBytes))
      const readBatch = Math.max(batch, STREAM_READ_BYTES - (STREAM_READ_BYTES % batch))
      const end = offset + length
      const readEnd = Math.min(parts.length, roundUp(end, pieceBytes))
      for (let readStart = offset - (offset % pieceBytes); readStart < end; readStart += readBatch) {
        const range = await readRawRange(opened, readStart, Math.min(readStart + readBatch, readEnd), options.scratch)
          .catch((err: unknown) => { throw toStoreError(err, `reading block ${key}`) })
        if (!range.ok) throw await this.quarantineBad(key, range.reason, range.ino)
        for (let at = 0; at < range.bytes.byteLength; at += batch) {
          const start = readStart + at
          const bytes = range.bytes.subarray(at, at + batch)
          const problem = verifyPieces(this.hasher, opened, bytes, start)
          if (problem !== undefined) throw await this.quarantineBad(key, problem.reason, problem.ino)
          yield bytes.subarray(Math.max(offset, start) - start, Math.min(end, start + batch) - start)
        }
      }
    } finally {
      await opened.handle.close()
    }
  }

  has(key: string): boolean {
    return this.index.has(key)
  }

  stat(key: string): BlockStat | undefined {
    const entry = this.index.get(key)
    return entry === undefined ? undefined : { length: entry.length }
  }

  /** Every stored key: the block report sent to meta. */
  list(): string[] {
    return [...this.index.keys()]
  }

  /** Removes a block durably. False when the store does not hold it. */
  async delete(key: string): Promise<boolean> {
    this.assertOpen()
    parseBlockKey(key)
    return this.locks.run(key, async () => {
      const entry = this.index.get(key)
      if (entry === undefined) return false
      try {
        // Block first: a crash in between leaves only a sidecar, which the start-up scan removes.
        await removeIfPresent(this.layout.blockPath(key))
        this.forget(key)
        await removeIfPresent(this.layout.sidecarPath(key))
        await fsyncDir(this.layout.fanOutDir(key))
      } catch (err) {
        throw toStoreError(err, `deleting block ${key}`)
      }
      return true
    })
  }

  /**
   * Checks the whole block: sidecar, every piece, and the bytes' hash against the key. A bad
   * block is quarantined and forgotten before this resolves `{ ok: false }`.
   */
  async verify(key: string): Promise<VerifyResult> {
    const parts = this.knownBlock(key)
    let checked
    try {
      checked = await checkBlockFile(this.hasher, this.layout, key, parts)
    } catch (err) {
      throw toStoreError(err, `verifying block ${key}`)
    }
    if (checked.ok) return { ok: true }
    await this.quarantineBad(key, checked.reason, checked.ino)
    return { ok: false, reason: checked.reason }
  }

  usage(): StoreUsage {
    return this.space.usage()
  }

  /** usage() after a fresh look at the file system's free space. */
  /** Reserves room for a write, from a recent free-space sample; a refusal is re-checked on a fresh one. */
  private async reserveSpace(bytes: number): Promise<boolean> {
    await this.sampleSpace(false)
    if (this.space.tryReserve(bytes)) return true
    await this.sampleSpace(true)
    return this.space.tryReserve(bytes)
  }

  private async sampleSpace(fresh: boolean): Promise<void> {
    try {
      if (fresh) await this.space.refresh()
      else await this.space.refreshIfOlderThan(SPACE_SAMPLE_MAX_AGE_MS)
    } catch (err) {
      throw toStoreError(err, 'reading free space')
    }
    this.assertOpen()
  }

  async refreshUsage(): Promise<StoreUsage> {
    await this.space.refresh()
    return this.space.usage()
  }

  /** Aborts writes in progress; later calls fail with UNAVAILABLE. Committed blocks are durable already. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.writers].map((writer) => writer.abort()))
    this.log.info('block store closed')
  }

  private async install(block: PreparedBlock): Promise<CommitResult> {
    const { key, parts } = block
    return this.locks.run(key, async () => {
      this.assertOpen()
      let replacedCorrupt = false
      if (this.index.has(key)) {
        const blockPath = this.layout.blockPath(key)
        if (await sameFileBytes(block.blockTemp, blockPath, parts.length)) {
          return { key, length: parts.length, existed: true, replacedCorrupt: false }
        }
        const stored = await checkBlockFile(this.hasher, this.layout, key, parts)
        if (stored.ok) {
          this.log.warn({ key }, 'hash collision: a different block is stored under this key')
          throw new TesseraError('HASH_COLLISION', `block ${key} is stored with different bytes; use a salted key`)
        }
        await this.quarantineNow(key, stored.reason)
        replacedCorrupt = true
      }
      const dir = this.layout.fanOutDir(key)
      await ensureDurableDir(dir)
      await rename(block.sidecarTemp, this.layout.sidecarPath(key))
      await rename(block.blockTemp, this.layout.blockPath(key))
      await fsyncDir(dir)
      this.index.set(key, { length: parts.length })
      this.space.addBlock(onDiskBytes(parts.length))
      return { key, length: parts.length, existed: false, replacedCorrupt }
    })
  }

  private writerFinished(writer: BlockWriter): void {
    if (this.writers.delete(writer)) this.space.release(writer.reservedBytes)
  }

  /** Parses a key and finds it in the index: EINVAL for a malformed key, ENOENT for an unknown one. */
  private knownBlock(key: string): BlockKeyParts {
    this.assertOpen()
    const parts = parseBlockKey(key)
    if (!this.index.has(key)) throw new TesseraError('ENOENT', `no block ${key}`)
    return parts
  }

  private async withOpenBlock<T>(
    key: string, parts: BlockKeyParts,
    use: (block: OpenBlock) => Promise<{ ok: true; value: T } | { ok: false; reason: string; ino?: number }>,
  ): Promise<T> {
    const block = await this.openOrQuarantine(key, parts)
    try {
      const result = await use(block)
      if (!result.ok) throw await this.quarantineBad(key, result.reason, result.ino)
      return result.value
    } catch (err) {
      throw toStoreError(err, `reading block ${key}`)
    } finally {
      await block.handle.close()
    }
  }

  private async openOrQuarantine(key: string, parts: BlockKeyParts): Promise<OpenBlock> {
    let opened
    try {
      opened = await openBlockFile(this.hasher, this.layout, key, parts.length)
    } catch (err) {
      throw toStoreError(err, `opening block ${key}`)
    }
    if (!opened.ok) throw await this.quarantineBad(key, opened.reason, opened.ino)
    return opened.block
  }

  /**
   * Quarantines a block found bad and returns the error for the caller to throw. A block deleted
   * meanwhile is ENOENT; one replaced meanwhile (another inode) is left alone.
   */
  private async quarantineBad(key: string, reason: string, ino: number | undefined): Promise<TesseraError> {
    const gone = await this.locks.run(key, async () => {
      if (!this.index.has(key)) return true
      if (ino === undefined || (await currentIno(this.layout.blockPath(key))) === ino) await this.quarantineNow(key, reason)
      return false
    })
    return gone
      ? new TesseraError('ENOENT', `no block ${key}`)
      : new TesseraError('CHECKSUM_MISMATCH', `block ${key} is damaged (${reason}); quarantined`)
  }

  /** Moves a block's files to quarantine and forgets it. Call with the key's lock held. */
  private async quarantineNow(key: string, reason: string): Promise<void> {
    this.forget(key)
    await this.quarantine.move([this.layout.blockPath(key), this.layout.sidecarPath(key)], `block ${key}`, reason)
  }

  private forget(key: string): void {
    const entry = this.index.get(key)
    if (entry === undefined) return
    this.index.delete(key)
    this.space.removeBlock(onDiskBytes(entry.length))
  }

  private assertOpen(): void {
    if (this.closed) throw new TesseraError('UNAVAILABLE', `block store ${this.dir} is closed`)
  }
}

/** Bytes a block takes on disk, with its sidecar. */
function onDiskBytes(length: number): number {
  return length + sidecarBytesFor(length, PIECE_BYTES)
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple
}

function checkRange(blockLength: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0
    || offset + length > blockLength) {
    throw new TesseraError('EINVAL', `range ${offset}+${length} outside a block of ${blockLength} bytes`)
  }
}

async function currentIno(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
}

/** Direct writes for block files when wanted and working in `tmpDir`, else the page cache. */
async function chooseBlockTempOpener(tmpDir: string, wanted: boolean, log: Logger): Promise<TempFileOpener> {
  if (!wanted) return openTempFile
  const pool = new AlignedBufferPool()
  const probe = await directIoWorks(tmpDir, pool)
  if (!probe.ok) {
    log.info({ reason: probe.reason }, 'block files are written through the page cache: direct I/O does not work here')
    return openTempFile
  }
  return (path) => openDirectTempFile(path, pool)
}
