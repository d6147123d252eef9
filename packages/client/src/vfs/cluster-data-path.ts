/**
 * The DataPath of a real cluster: writes go through BlockWriter chains over MetaBlockPlanner
 * (the same storeBlockStream that FileStore.putFile uses; where the blocks landed goes back to
 * the VFS, whose commit tells meta); reads go through BlockReader, one per open file for
 * read-ahead. The block size and replication are the cluster's (meta.dataConfig).
 *
 * Fail-over is the data layer's: MetaCalls follows the meta leader through elections up to its
 * deadline, BlockWriter re-places a block whose chain lost a server, BlockReader tries the next
 * replica; an error surfaces only once those bounds are spent.
 */
import { TesseraError, silentLogger, type BlockCopies, type BlockRef, type Logger } from '@tessera/protocol'
import { BlockReader } from '../data/block-reader.js'
import { storeBlockStream } from '../data/block-stream.js'
import { BlockWriter } from '../data/block-writer.js'
import { ChunkConnections } from '../data/connections.js'
import { MetaBlockPlanner, type MetaCalls } from '../data/meta-planner.js'
import type { DataPath, WrittenBlocks } from './data-path.js'

export interface ClusterDataPathOptions {
  /** Calls on the meta leader (the caller owns and closes them). */
  calls: MetaCalls
  /** The cluster secret (chunk servers authenticate their peers with it). */
  secret: Uint8Array
  logger?: Logger
  /** Blocks written at once per stream (default 4). */
  maxParallel?: number
  /** Blocks a sequential reader fetches ahead (default 1). */
  readAheadBlocks?: number
}

export class ClusterDataPath implements DataPath {
  private readonly shared: BlockReader

  private constructor(
    readonly blockSize: number,
    private readonly blockWriter: BlockWriter,
    private readonly planner: MetaBlockPlanner,
    private readonly connections: ChunkConnections,
    private readonly options: ClusterDataPathOptions,
    private readonly logger: Logger,
  ) {
    this.shared = this.openReader()
  }

  /** Asks meta for the cluster's data configuration and builds the data path. */
  static async open(options: ClusterDataPathOptions): Promise<ClusterDataPath> {
    const logger = options.logger ?? silentLogger()
    const config = await options.calls.call('meta.dataConfig', {})
    if (!Number.isSafeInteger(config.blockSize) || config.blockSize < 1) {
      throw new TesseraError('PROTOCOL', `meta reported a bad block size ${config.blockSize}`)
    }
    const connections = new ChunkConnections({ secret: options.secret, clientId: options.calls.clientId, logger })
    const planner = new MetaBlockPlanner(options.calls, true)
    const blockWriter = new BlockWriter({ planner, connections, logger, replication: config.replication })
    return new ClusterDataPath(config.blockSize, blockWriter, planner, connections, options, logger)
  }

  async writeBlocks(bytes: AsyncIterable<Uint8Array>): Promise<WrittenBlocks> {
    const stored = await storeBlockStream({
      blockWriter: this.blockWriter, planner: this.planner, blockSize: this.blockSize, maxParallel: this.options.maxParallel ?? 4,
    }, bytes)
    return { blocks: stored.blocks, size: stored.size, written: stored.written }
  }

  async recordWritten(written: readonly BlockCopies[]): Promise<void> {
    await this.planner.blocksWritten(written)
  }

  readRange(blocks: readonly BlockRef[], offset: number, length: number): Promise<Uint8Array> {
    return this.shared.readRange(blocks, offset, length)
  }

  openReader(): BlockReader {
    return new BlockReader({
      planner: this.planner, connections: this.connections, logger: this.logger,
      ...(this.options.readAheadBlocks === undefined ? {} : { readAheadBlocks: this.options.readAheadBlocks }),
    })
  }

  /** Closes the connections to chunk servers (the meta calls are the caller's). */
  async close(): Promise<void> {
    await this.connections.close()
  }
}
