/**
 * Writes one block through a replication chain (DESIGN decision 6):
 *
 *   bytes --key (xxh64)--> planner.placeBlock --> block.write to the head, chain = the rest
 *
 * The head forwards while it receives and answers once every copy in the chain is fsynced or
 * failed. The outcome:
 *   - stored >= replication: done;
 *   - minCopies <= stored < replication: done, flagged under-replicated (the caller tells meta,
 *     whose repair restores the rest);
 *   - the head failed, or stored < minCopies: a new placement without the servers that failed
 *     (copies the chain never reached because an earlier hop failed are not held against their
 *     servers), for at most `maxAttempts` placements;
 *   - HASH_COLLISION (same key, other bytes already stored): the bytes are renamed with seed
 *     1, 2, ... (a salted key) and written again; this does not use up an attempt.
 */
import {
  TesseraError, asTesseraError, hasCode, silentLogger, type BlockCopy, type BlockRef, type Logger,
} from '@tessera/protocol'
import { blockIdOf, chunkKeyOf, loadHasher, nameBytes } from './block-key.js'
import type { ChunkConnections } from './connections.js'
import type { BlockPlanner, Placement } from './planner.js'
import { RecentZeroBlocks } from './zero-blocks.js'

export interface BlockWriterOptions {
  planner: BlockPlanner
  connections: ChunkConnections
  logger?: Logger
  /** Copies a block should end with; default 3. */
  replication?: number
  /** Placements tried per block before giving up; default 3. */
  maxAttempts?: number
  /** Salted keys tried after hash collisions; default 8. */
  maxSeeds?: number
  /** Size of the pieces streamed to the head; default 1 MiB. */
  pieceBytes?: number
  /** Whole-call timeout of one block.write; default 60 s. */
  callTimeoutMs?: number
  /**
   * Zero blocks written this recently (ms) are shared instead of sent again (zero-blocks.ts;
   * zeroReuseMs(gcGraceMs) gives the safe window); default 0, never.
   */
  zeroReuseMs?: number
}

export interface WrittenBlock {
  ref: BlockRef
  /** Servers holding a durable copy, in chain order. */
  copies: string[]
  /** Fewer than `replication` copies: meta must record it so that repair adds the rest. */
  underReplicated: boolean
}

/** The copies a failed attempt left, and why it failed. */
interface Attempt {
  failed: string[]
  error: TesseraError
}

/** Refusals that another placement would not change. */
const FATAL_CODES: ReadonlySet<string> = new Set(['EINVAL', 'BAD_TOKEN', 'EFBIG'])

export const MAX_PIECE_BYTES = 1024 * 1024

/**
 * A copy the chain never tried because an earlier hop failed first. The chunk server marks these
 * only by the message it gives them (downstream.ts `allFailed`), so that is what is matched.
 */
function wasNotReached(copy: BlockCopy): boolean {
  return !copy.ok && copy.error?.message.startsWith('not reached:') === true
}

export class BlockWriter {
  private readonly logger: Logger
  private readonly replication: number
  private readonly maxAttempts: number
  private readonly maxSeeds: number
  private readonly pieceBytes: number
  private readonly callTimeoutMs: number
  private readonly zeros: RecentZeroBlocks

  constructor(private readonly options: BlockWriterOptions) {
    this.logger = options.logger ?? silentLogger()
    this.replication = options.replication ?? 3
    this.maxAttempts = options.maxAttempts ?? 3
    this.maxSeeds = options.maxSeeds ?? 8
    this.pieceBytes = Math.min(options.pieceBytes ?? MAX_PIECE_BYTES, MAX_PIECE_BYTES)
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000
    this.zeros = new RecentZeroBlocks(options.zeroReuseMs ?? 0)
    if (!Number.isInteger(this.replication) || this.replication < 1) throw new TesseraError('EINVAL', `bad replication ${this.replication}`)
    if (!Number.isInteger(this.pieceBytes) || this.pieceBytes < 1) throw new TesseraError('EINVAL', `bad piece size ${this.pieceBytes}`)
  }

  /** Writes `bytes` as one block with its copies durable (a zero block may be shared: zero-blocks.ts). */
  writeBlock(bytes: Uint8Array): Promise<WrittenBlock> {
    return this.zeros.write(bytes, () => this.writeThroughChain(bytes))
  }

  private async writeThroughChain(bytes: Uint8Array): Promise<WrittenBlock> {
    const hasher = await loadHasher()
    let name = nameBytes(hasher, bytes, 0)
    const exclude: string[] = []
    const failures: string[] = []
    let attempts = 0
    while (attempts < this.maxAttempts) {
      const key = chunkKeyOf(name)
      const placement = await this.options.planner.placeBlock({ key, length: bytes.byteLength, exclude: [...exclude] })
      const servers = placement.servers.slice(0, this.replication)
      const minCopies = Math.min(Math.max(1, placement.minCopies), this.replication)
      if (servers.length < minCopies) {
        failures.push(`placement offered ${servers.length} server(s), ${minCopies} copies needed`)
        break
      }
      attempts++
      const outcome = await this.attempt(key, bytes, servers, placement, minCopies)
      if ('copies' in outcome) {
        const ref: BlockRef = { ...blockIdOf(name), used: bytes.byteLength }
        const underReplicated = outcome.copies.length < this.replication
        if (underReplicated) this.logger.warn({ key, copies: outcome.copies }, 'block written under-replicated')
        return { ref, copies: outcome.copies, underReplicated }
      }
      if (outcome.error.code === 'HASH_COLLISION') {
        if (name.seed >= this.maxSeeds) {
          throw new TesseraError('HASH_COLLISION', `block ${key}: still colliding after ${name.seed} salted keys`)
        }
        this.logger.warn({ key, seed: name.seed + 1 }, 'hash collision: writing under a salted key')
        name = nameBytes(hasher, bytes, name.seed + 1)
        attempts--
        continue
      }
      if (FATAL_CODES.has(outcome.error.code)) throw outcome.error
      failures.push(outcome.error.message)
      for (const server of outcome.failed) if (!exclude.includes(server)) exclude.push(server)
      this.logger.info({ key, failed: outcome.failed, err: outcome.error.message }, 'block write attempt failed; placing again')
    }
    throw new TesseraError('UNAVAILABLE',
      `block ${chunkKeyOf(name)}: not enough durable copies after ${attempts} attempt(s): ${failures.join('; ')}`)
  }

  /** One write through one chain: the durable copies, or which servers failed and why. */
  private async attempt(
    key: string, bytes: Uint8Array, servers: string[], placement: Placement, minCopies: number,
  ): Promise<{ copies: string[] } | Attempt> {
    const [head, ...chain] = servers as [string, ...string[]]
    let answer: { copies: BlockCopy[]; stored: number }
    try {
      answer = await this.stream(head, key, bytes, chain, placement.token, minCopies)
    } catch (err) {
      const error = asTesseraError(err)
      // A refusal of the bytes or the token is the block's problem, not the head's.
      const failed = hasCode(error, 'HASH_COLLISION', 'CHECKSUM_MISMATCH', 'EINVAL', 'BAD_TOKEN') ? [] : [head]
      return { failed, error }
    }
    const copies = answer.copies.filter((c) => c.ok).map((c) => c.server)
    const bad = answer.copies.filter((c) => !c.ok)
    if (bad.some((c) => c.error?.code === 'HASH_COLLISION')) {
      return { failed: [], error: new TesseraError('HASH_COLLISION', `block ${key} collides on ${bad.map((c) => c.server).join(', ')}`) }
    }
    if (copies.length >= minCopies) return { copies }
    const why = bad.map((c) => `${c.server}: ${c.error?.message ?? 'failed'}`).join('; ')
    return {
      // Servers after a failed hop were never reached: they are not to blame and may be placed again.
      failed: bad.filter((c) => !wasNotReached(c)).map((c) => c.server),
      error: new TesseraError('UNAVAILABLE', `block ${key}: ${copies.length} of ${minCopies} needed copies durable (${why})`),
    }
  }

  private async stream(
    head: string, key: string, bytes: Uint8Array, chain: string[], token: string, minCopies: number,
  ): Promise<{ copies: BlockCopy[]; stored: number }> {
    const client = await this.options.connections.connect(head)
    const call = await client.open('block.write', {
      key, length: bytes.byteLength, token, chain, minCopies,
    }, { timeoutMs: this.callTimeoutMs })
    try {
      for (let at = 0; at < bytes.byteLength; at += this.pieceBytes) {
        await call.writer.write(bytes.subarray(at, Math.min(at + this.pieceBytes, bytes.byteLength)))
      }
      await call.writer.end()
    } catch {
      // The server failed or refused the call mid-stream: its answer (awaited next) says why.
    }
    return await call.response
  }
}
