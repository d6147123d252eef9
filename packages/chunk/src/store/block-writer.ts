/**
 * A block arriving in pieces: written to tmp/ as it comes, hashed incrementally (the whole-block
 * xxh64 with the key's seed, and the per-64 KiB checksums of the sidecar), and made visible
 * only by commit, after both files are fsynced. See block-store.ts for what commit decides.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { TesseraError } from '@tessera/protocol'
import type { BlockKeyParts } from './block-key.js'
import { removeIfPresent, toStoreError, type TempFile, type TempFileOpener } from './fs-util.js'
import { hex64, type Hasher, type XXHash64 } from './hasher.js'
import { encodeSidecar, PieceSummer, PIECE_BYTES } from './sidecar.js'

export interface CommitResult {
  key: string
  length: number
  /** The store already held this block with the same bytes; nothing was written. */
  existed: boolean
  /** A stored copy under this key was damaged; it went to quarantine and this one replaced it. */
  replacedCorrupt: boolean
}

/** A block whose files are complete and durable in tmp/, ready to be renamed into place. */
export interface PreparedBlock {
  key: string
  parts: BlockKeyParts
  blockTemp: string
  sidecarTemp: string
}

/** What a writer needs from its store. */
export interface WriterHost {
  readonly hasher: Hasher
  readonly tmpDir: string
  /** Opens the sidecar's temp file. */
  readonly openTempFile: TempFileOpener
  /** Opens the block's temp file (written in order, then synced once). */
  readonly openBlockTempFile: TempFileOpener
  install(block: PreparedBlock): Promise<CommitResult>
  writerFinished(writer: BlockWriter): void
}

type WriterState = 'open' | 'committing' | 'done'

export class BlockWriter {
  private state: WriterState = 'open'
  private writing = false
  private received = 0
  private fileClosed = false
  private readonly wholeHash: XXHash64
  private readonly summer: PieceSummer
  private readonly blockTemp: string
  private readonly sidecarTemp: string

  private constructor(
    private readonly host: WriterHost,
    readonly key: string,
    private readonly parts: BlockKeyParts,
    /** Bytes of free space this writer holds; the store releases them when it finishes. */
    readonly reservedBytes: number,
    private readonly trustKey: boolean,
    private readonly file: TempFile,
    paths: { blockTemp: string; sidecarTemp: string },
  ) {
    this.wholeHash = host.hasher.create64(BigInt(parts.seed))
    this.summer = new PieceSummer(host.hasher, PIECE_BYTES)
    this.blockTemp = paths.blockTemp
    this.sidecarTemp = paths.sidecarTemp
  }

  static async create(
    host: WriterHost, key: string, parts: BlockKeyParts, reservedBytes: number, trustKey: boolean,
  ): Promise<BlockWriter> {
    const stem = join(host.tmpDir, `${key}.${randomBytes(6).toString('hex')}`)
    const paths = { blockTemp: `${stem}.blk`, sidecarTemp: `${stem}.sum` }
    const file = await host.openBlockTempFile(paths.blockTemp)
    return new BlockWriter(host, key, parts, reservedBytes, trustKey, file, paths)
  }

  get length(): number {
    return this.parts.length
  }

  get bytesReceived(): number {
    return this.received
  }

  /**
   * Appends the next piece. Resolves once it is handed to the file system; `chunk` must not
   * change until then, and writes must not overlap. Any failure aborts the writer.
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw new TesseraError('EINVAL', `writer for ${this.key} is no longer open`)
    if (this.writing) throw new TesseraError('EINVAL', 'a write is already in progress on this writer')
    if (this.received + chunk.byteLength > this.parts.length) {
      await this.abort()
      throw new TesseraError('EINVAL', `more than ${this.parts.length} bytes written for ${this.key}`)
    }
    this.writing = true
    try {
      this.wholeHash.update(chunk)
      this.summer.update(chunk)
      await this.file.write(chunk, this.received)
      this.received += chunk.byteLength
    } catch (err) {
      await this.abort()
      throw toStoreError(err, `writing block ${this.key}`)
    } finally {
      this.writing = false
    }
  }

  /**
   * Checks the bytes against the key, makes them durable and visible. Rejects with
   * CHECKSUM_MISMATCH (wrong length or hash), HASH_COLLISION (the key is stored with other
   * bytes), ENOSPC or EIO; in every case nothing of this writer is left behind.
   */
  async commit(): Promise<CommitResult> {
    if (this.state !== 'open' || this.writing) {
      throw new TesseraError('EINVAL', `writer for ${this.key} cannot commit now`)
    }
    this.state = 'committing'
    try {
      if (this.received !== this.parts.length) {
        throw new TesseraError('CHECKSUM_MISMATCH', `block ${this.key}: received ${this.received} of ${this.parts.length} bytes`)
      }
      const digest = hex64(this.wholeHash.digest())
      if (!this.trustKey && digest !== this.parts.hash) {
        throw new TesseraError('CHECKSUM_MISMATCH', `block bytes hash to ${digest}, key ${this.key} says ${this.parts.hash}`)
      }
      // Both files must be durable before the rename; their flushes need not wait for each other.
      const synced = await Promise.allSettled([this.writeSidecar(), this.file.sync()])
      for (const result of synced) if (result.status === 'rejected') throw result.reason
      await this.closeFile()
      return await this.host.install({
        key: this.key, parts: this.parts, blockTemp: this.blockTemp, sidecarTemp: this.sidecarTemp,
      })
    } catch (err) {
      throw toStoreError(err, `committing block ${this.key}`)
    } finally {
      await this.cleanUp()
    }
  }

  /** Drops everything written so far. Safe to call more than once; no effect after commit began. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return
    await this.cleanUp()
  }

  private async writeSidecar(): Promise<void> {
    const bytes = encodeSidecar(this.host.hasher, {
      pieceBytes: PIECE_BYTES, blockLength: this.parts.length, sums: this.summer.finish(),
    })
    const sidecar = await this.host.openTempFile(this.sidecarTemp)
    try {
      await sidecar.write(bytes, 0)
      await sidecar.sync()
    } finally {
      await sidecar.close()
    }
  }

  private async closeFile(): Promise<void> {
    if (this.fileClosed) return
    this.fileClosed = true
    await this.file.close()
  }

  /**
   * Removes whatever is still in tmp/ (after a successful install, nothing is). Never throws:
   * a temp file that cannot be removed now is removed by the next start-up scan.
   */
  private async cleanUp(): Promise<void> {
    this.state = 'done'
    await this.closeFile().catch(() => undefined)
    await removeIfPresent(this.blockTemp).catch(() => undefined)
    await removeIfPresent(this.sidecarTemp).catch(() => undefined)
    this.host.writerFinished(this)
  }
}
