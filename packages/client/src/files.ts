/**
 * Whole files in and out of the cluster, by path: the composition of the namespace API
 * (MetaClient), the cluster map's calls (MetaBlockPlanner) and the data path (FileWriter,
 * BlockReader) that `tessera put/get/cat` and tests use.
 *
 * putFile: create (or reuse) the file, cut the stream into blocks written through replication
 * chains, then commit the block list and size together with where every block landed (one meta
 * write; under-replicated blocks are recorded for repair); the file's new contents become
 * visible at that commit (close-to-open, DESIGN decision 6), never before every block is durable.
 * While the put runs, a BlockLease keeps its written blocks from meta's GC (a put may take
 * longer than the grace period, its source may stall); it ends with the put.
 */
import { once } from 'node:events'
import {
  TesseraError, silentLogger, type Attr, type BlockCopies, type BlockRef, type Logger, type Timespec,
} from '@tessera/protocol'
import { BlockReader } from './data/block-reader.js'
import { BlockWriter } from './data/block-writer.js'
import { ChunkConnections } from './data/connections.js'
import { storeBlockStream } from './data/block-stream.js'
import { BlockLease } from './data/block-lease.js'
import { zeroReuseMs } from './data/zero-blocks.js'
import { MetaBlockPlanner, type MetaCalls } from './data/meta-planner.js'
import type { MetaClient } from './meta-client.js'

export interface FileStoreOptions {
  meta: MetaClient
  calls: MetaCalls
  /** The cluster secret (chunk servers authenticate their peers with it). */
  secret: Uint8Array
  logger?: Logger
  /** Blocks written at once per file (default 4). */
  maxParallel?: number
}

export interface TransferOptions {
  /** Called with the bytes moved so far, after each piece. */
  onProgress?: (bytes: number) => void
}

export interface PutOptions extends TransferOptions {
  /** Mode of a file that does not exist yet (default 0o644). */
  mode?: number
}

export interface PutResult {
  attr: Attr
  blocks: BlockRef[]
  /** Blocks stored with fewer copies than the replication (recorded in meta for repair). */
  underReplicated: number
}

export interface ByteRange {
  offset: number
  length: number
}

export interface DataConfig {
  blockSize: number
  replication: number
  minCopies: number
  /** GC's grace period (ms): written blocks are recorded again well within it until committed. */
  gcGraceMs?: number
}

function nowSpec(): Timespec {
  const ms = Date.now()
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 }
}

export class FileStore {
  readonly planner: MetaBlockPlanner
  private readonly connections: ChunkConnections
  private readonly logger: Logger
  private config: Promise<DataConfig> | undefined

  constructor(private readonly options: FileStoreOptions) {
    this.logger = options.logger ?? silentLogger()
    this.connections = new ChunkConnections({ secret: options.secret, clientId: options.calls.clientId, logger: this.logger })
    this.planner = new MetaBlockPlanner(options.calls, true)
  }

  /** The cluster's block size, replication and fewest copies (asked once). */
  dataConfig(): Promise<DataConfig> {
    this.config ??= this.options.calls.call('meta.dataConfig', {}).catch((err: unknown) => {
      this.config = undefined
      throw err
    })
    return this.config
  }

  /** Writes `source` as the whole contents of `path` (created when missing). */
  async putFile(path: string, source: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const meta = this.options.meta
    const { parent, name } = await meta.resolveParent(path)
    const { attr: created } = await meta.create(parent.ino, name, options.mode ?? 0o644, false)
    if ((created.mode & 0o170000) !== 0o100000) throw new TesseraError('EISDIR', `${path} is not a regular file`)
    const config = await this.dataConfig()
    const blockWriter = new BlockWriter({
      planner: this.planner, connections: this.connections, logger: this.logger, replication: config.replication,
      zeroReuseMs: zeroReuseMs(config.gcGraceMs),
    })
    const lease = config.gcGraceMs === undefined ? undefined : new BlockLease({
      record: (blocks) => this.planner.blocksWritten(blocks), graceMs: config.gcGraceMs, label: path, logger: this.logger,
    })
    try {
      const stored = await storeBlockStream({
        blockWriter, planner: this.planner, blockSize: config.blockSize, maxParallel: this.options.maxParallel ?? 4,
        ...(lease === undefined ? {} : { onBlockWritten: (copies: BlockCopies) => lease.add([copies]) }),
      }, source, options.onProgress)
      let committed: { attr: Attr; underReplicated: number }
      try {
        lease?.checkHeld(stored.blocks)
        committed = await meta.exec({
          op: 'commitFile', cred: meta.cred, ino: created.ino, blocks: stored.blocks, size: stored.size, mtime: nowSpec(),
          ...(stored.written.length === 0 ? {} : { written: stored.written }),
        })
      } catch (err) {
        throw lease === undefined ? err : lease.commitFailure(err)
      }
      return { attr: committed.attr, blocks: stored.blocks, underReplicated: stored.underReplicated + committed.underReplicated }
    } finally {
      lease?.close()
    }
  }

  /** The file's attributes and block list. */
  async fileBlocks(path: string): Promise<{ attr: Attr; size: number; blocks: BlockRef[] }> {
    const meta = this.options.meta
    const attr = await meta.resolve(path)
    const { size, blocks } = await meta.query({ op: 'getBlocks', cred: meta.cred, ino: attr.ino })
    return { attr, size, blocks }
  }

  /**
   * Writes the file's bytes (or `range` of them) to `sink`, verified block by block, with
   * back-pressure. Resolves to the number of bytes written.
   */
  async getFile(path: string, sink: NodeJS.WritableStream, range?: ByteRange, options: TransferOptions = {}): Promise<number> {
    const { size, blocks } = await this.fileBlocks(path)
    const start = Math.min(range?.offset ?? 0, size)
    const end = range === undefined ? size : Math.min(size, start + range.length)
    const config = await this.dataConfig()
    const reader = new BlockReader({ planner: this.planner, connections: this.connections, logger: this.logger })
    let at = start
    while (at < end) {
      // Pieces end on block boundaries, so each read touches one block and read-ahead fetches the next.
      const length = Math.min(end - at, config.blockSize - (at % config.blockSize))
      let piece = await reader.readRange(blocks, at, length)
      // Past the blocks' bytes the file is a hole: zeros.
      if (piece.byteLength < length) piece = Buffer.concat([piece, Buffer.alloc(length - piece.byteLength)])
      if (!sink.write(piece)) await once(sink, 'drain')
      at += length
      options.onProgress?.(at - start)
    }
    return end - start
  }

  /** Closes the connections to chunk servers (the meta client and calls are the caller's). */
  async close(): Promise<void> {
    await this.connections.close()
  }
}
