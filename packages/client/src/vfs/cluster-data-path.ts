/**
 * The DataPath of a real cluster: writes go through BlockWriter chains over MetaBlockPlanner
 * (the same storeBlockStream that FileStore.putFile uses; where the blocks landed goes back to
 * the VFS, whose commit tells meta); reads go through BlockReader.
 *
 * - Block locations (with their read tokens) are cached for a while (CachingPlanner), so a random
 *   read of a block read lately is one chunk round trip; a read that fails while using cached
 *   locations is tried once more with fresh ones from meta.
 * - Read-ahead memory is bounded over all open files (`maxReadAheadBytes`, ReadAheadSlots): a
 *   file reads ahead only while it holds a slot.
 * - Calls are counted in `stats` (see CallStats).
 *
 * Fail-over is the data layer's: MetaCalls follows the meta leader through elections up to its
 * deadline, BlockWriter re-places a block whose chain lost a server, BlockReader tries the next
 * replica; an error surfaces only once those bounds are spent.
 */
import { TesseraError, hasCode, silentLogger, type BlockCopies, type BlockRef, type Logger } from '@tessera/protocol'
import { BlockReader } from '../data/block-reader.js'
import { storeBlockStream } from '../data/block-stream.js'
import { BlockWriter } from '../data/block-writer.js'
import { zeroReuseMs } from '../data/zero-blocks.js'
import { ChunkConnections } from '../data/connections.js'
import { MetaBlockPlanner, type MetaCalls } from '../data/meta-planner.js'
import { CachingPlanner, UnreachableServers } from './block-locations.js'
import { CallStats } from './call-stats.js'
import type { DataPath, FileReader, RangeReader, WrittenBlocks } from './data-path.js'
import { BudgetedReader, ReadAheadSlots } from './read-ahead-budget.js'

export interface ClusterDataPathOptions {
  /** Calls on the meta leader (the caller owns and closes them). */
  calls: MetaCalls
  /** The cluster secret (chunk servers authenticate their peers with it). */
  secret: Uint8Array
  logger?: Logger
  /** Blocks written at once per stream (default 4). */
  maxParallel?: number
  /** Blocks a sequential reader fetches ahead (default: BlockReader's). */
  readAheadBlocks?: number
  /** Bound on read-ahead memory over all open files (default 256 MiB; at least one reader's worth). */
  maxReadAheadBytes?: number
  /** Longest time a block's location is reused without asking meta (default 30 s; 0: always ask). */
  locationCacheMs?: number
}

/** A ChunkConnections that counts the calls opened through it and notes servers that do not connect. */
class CountedConnections extends ChunkConnections {
  constructor(
    options: ConstructorParameters<typeof ChunkConnections>[0],
    private readonly stats: CallStats,
    private readonly unreachable: UnreachableServers,
  ) {
    super(options)
  }

  override async connect(address: string): ReturnType<ChunkConnections['connect']> {
    this.stats.add('chunk.call')
    try {
      return await super.connect(address)
    } catch (err) {
      if (hasCode(err, 'UNAVAILABLE', 'ETIMEDOUT')) this.unreachable.note(address)
      throw err
    }
  }
}

/** Codes a read with a stale cached location can fail with (a moved copy, an expired token). */
const STALE_LOCATION_CODES = ['EIO', 'BAD_TOKEN', 'ENOENT'] as const
const CACHED_LOCATIONS = 'cluster.locateBlock.cached'
/**
 * What a read-ahead reader is assumed to hold when `readAheadBlocks` is not given: BlockReader's
 * default read-ahead is at most 4 blocks, plus the block being read. Assuming more than it holds
 * keeps the bound a bound.
 */
const ASSUMED_READER_BLOCKS = 5

export class ClusterDataPath implements DataPath {
  readonly readAhead: ReadAheadSlots
  private readonly plain: RangeReader

  private constructor(
    readonly blockSize: number,
    readonly gcGraceMs: number | undefined,
    readonly stats: CallStats,
    private readonly blockWriter: BlockWriter,
    private readonly metaPlanner: MetaBlockPlanner,
    private readonly planner: CachingPlanner,
    private readonly connections: ChunkConnections,
    private readonly options: ClusterDataPathOptions,
    private readonly logger: Logger,
  ) {
    const ahead = options.readAheadBlocks
    const perReader = (ahead === undefined ? ASSUMED_READER_BLOCKS : ahead + 1) * blockSize
    const budget = options.maxReadAheadBytes ?? 256 * 1024 * 1024
    this.readAhead = new ReadAheadSlots(ahead === 0 ? 0 : Math.max(1, Math.floor(budget / perReader)))
    this.plain = this.retrying(this.blockReader(0))
  }

  /** Asks meta for the cluster's data configuration and builds the data path. */
  static async open(options: ClusterDataPathOptions): Promise<ClusterDataPath> {
    const logger = options.logger ?? silentLogger()
    const config = await options.calls.call('meta.dataConfig', {})
    if (!Number.isSafeInteger(config.blockSize) || config.blockSize < 1) {
      throw new TesseraError('PROTOCOL', `meta reported a bad block size ${config.blockSize}`)
    }
    const stats = new CallStats()
    const unreachable = new UnreachableServers()
    const connections = new CountedConnections({ secret: options.secret, clientId: options.calls.clientId, logger }, stats, unreachable)
    const metaPlanner = new MetaBlockPlanner(options.calls, true)
    const planner = new CachingPlanner(metaPlanner, stats, {
      secret: options.secret, unreachable, ...(options.locationCacheMs === undefined ? {} : { maxAgeMs: options.locationCacheMs }),
    })
    const blockWriter = new BlockWriter({ planner, connections, logger, replication: config.replication, zeroReuseMs: zeroReuseMs(config.gcGraceMs) })
    return new ClusterDataPath(config.blockSize, config.gcGraceMs, stats, blockWriter, metaPlanner, planner, connections, options, logger)
  }

  async writeBlocks(bytes: AsyncIterable<Uint8Array>, onBlockWritten?: (copies: BlockCopies) => void): Promise<WrittenBlocks> {
    const stored = await storeBlockStream({
      blockWriter: this.blockWriter, planner: this.metaPlanner, blockSize: this.blockSize, maxParallel: this.options.maxParallel ?? 4,
      ...(onBlockWritten === undefined ? {} : { onBlockWritten }),
    }, bytes)
    return { blocks: stored.blocks, size: stored.size, written: stored.written }
  }

  async recordWritten(written: readonly BlockCopies[]): Promise<void> {
    this.stats.add('cluster.blocksWritten')
    await this.metaPlanner.blocksWritten(written)
  }

  readRange(blocks: readonly BlockRef[], offset: number, length: number): Promise<Uint8Array> {
    return this.plain.readRange(blocks, offset, length)
  }

  openReader(): FileReader {
    return new BudgetedReader(this.plain, () => this.retrying(this.blockReader(this.options.readAheadBlocks)), this.readAhead)
  }

  /** The calls made so far, by kind. */
  callCounts(): Record<string, number> {
    return this.stats.snapshot()
  }

  /** Closes the connections to chunk servers (the meta calls are the caller's). */
  async close(): Promise<void> {
    await this.connections.close()
  }

  /** `readAheadBlocks` undefined: BlockReader's default. */
  private blockReader(readAheadBlocks: number | undefined): BlockReader {
    return new BlockReader({
      planner: this.planner, connections: this.connections, logger: this.logger, ...(readAheadBlocks === undefined ? {} : { readAheadBlocks }),
    })
  }

  /** A read that failed with cached locations is tried once more with fresh ones. */
  private retrying(reader: BlockReader): RangeReader {
    return {
      readRange: async (blocks, offset, length) => {
        const cachedBefore = this.stats.get(CACHED_LOCATIONS)
        try {
          return await reader.readRange(blocks, offset, length)
        } catch (err) {
          // Only a read that may have used a cached location is worth a second try.
          if (!hasCode(err, ...STALE_LOCATION_CODES) || this.stats.get(CACHED_LOCATIONS) === cachedBefore) throw err
          this.logger.debug({ offset, length }, 'read failed: asking meta for fresh block locations')
          for (const ref of blocks) this.planner.forget(ref)
          this.stats.add('chunk.readRetried')
          return reader.readRange(blocks, offset, length)
        }
      },
    }
  }
}
