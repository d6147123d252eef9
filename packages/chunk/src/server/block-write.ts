/**
 * One `block.write` at one hop of the replication chain:
 *
 *   upstream --pieces--> [ this server: forward, queue for the local BlockWriter ] --pieces--> downstream ...
 *
 * The downstream call and the local temp file are opened at the same time, and each piece is
 * forwarded as soon as it arrives; the local writes follow behind in a bounded queue
 * (local-write-queue.ts). So the chain moves at the pace of its slowest link or disk, not the
 * sum of every hop's file creation and writes (measured before: 3 hops x (statfs + create +
 * 1 MiB write per piece) in series). Back-pressure stays bounded: the next piece is taken from
 * upstream only when the downstream window took this one and the local queue has room.
 *
 * After the last piece: end the downstream stream, drain the queue and commit locally (hash
 * check, fsync, rename), then wait for the downstream answer and answer upstream with every
 * copy's fate.
 *   - Downstream failures never cost the local copy: they are listed in the answer.
 *   - A local failure is the answer. When the bytes themselves are bad (CHECKSUM_MISMATCH) every
 *     hop refuses them on its own, so the downstream answer is awaited first (and nothing is
 *     left running); any other local failure cancels the downstream at once.
 */
import { TesseraError, type BlockCopy, type ChunkServerCatalogue, type RequestOf, type ResponseOf, type StreamReader } from '@tessera/protocol'
import type { BlockStore } from '../store/block-store.js'
import type { BlockWriter, CommitResult } from '../store/block-writer.js'
import { Downstream } from './downstream.js'
import type { DownstreamPool } from './downstream-pool.js'
import { LocalWriteQueue } from './local-write-queue.js'

/**
 * Bytes a hop's disk may lag behind its forwarding. Two 1 MiB pieces absorb a slow write or two
 * while keeping what a stalled disk holds (with the stream windows) within the bound the
 * back-pressure test checks.
 */
export const LOCAL_QUEUE_BYTES = 2 * 1024 * 1024

type WriteRequest = RequestOf<ChunkServerCatalogue, 'block.write'>
type WriteResponse = ResponseOf<ChunkServerCatalogue, 'block.write'>

export interface BlockWriteDeps {
  store: BlockStore
  pool: DownstreamPool
  /** How this server names itself in copies lists. */
  selfAddress: string
  /** Whole-call timeout of a downstream write. */
  downstreamTimeoutMs: number
}

export interface BlockWriteOutcome {
  response: WriteResponse
  commit: CommitResult
  /** The downstream failure, if one happened (already listed in the response). */
  downstreamError: TesseraError | undefined
  timeline: HopTimeline
}

/** When this hop reached each step of the write, in ms since the call began (for debug logs). */
export interface HopTimeline {
  /** The downstream call is open (or failed to open); 0 without a chain. */
  downstreamOpen: number
  firstPiece: number
  lastPiece: number
  /** The local copy is durable and visible. */
  committed: number
  downstreamAnswered: number
}

export async function serveBlockWrite(
  deps: BlockWriteDeps, request: WriteRequest, requestStream: StreamReader, signal: AbortSignal,
): Promise<BlockWriteOutcome> {
  const { key, length, chain, minCopies } = request
  if (minCopies > 1 + chain.length) {
    throw new TesseraError('EINVAL', `minCopies ${minCopies} exceeds this server plus a chain of ${chain.length}`)
  }
  const started = performance.now()
  const since = (): number => Math.round((performance.now() - started) * 10) / 10
  const timeline: HopTimeline = { downstreamOpen: 0, firstPiece: 0, lastPiece: 0, committed: 0, downstreamAnswered: 0 }
  const opening = deps.store.beginWrite(key, { expectedLength: length })
  const local = new LocalWriteQueue(opening, LOCAL_QUEUE_BYTES)
  let downstream: Downstream | undefined
  const onAbort = (): void => downstream?.cancel('upstream went away')
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (chain.length > 0) {
      downstream = await Downstream.open(deps.pool, chain, {
        key, length, ...(request.token !== undefined ? { token: request.token } : {}), minCopies: Math.max(0, minCopies - 1),
      }, deps.downstreamTimeoutMs)
      timeline.downstreamOpen = since()
      if (signal.aborted) throw new TesseraError('ECANCELED', 'block.write cancelled by the caller')
    }
    if (local.failed !== undefined) throw local.failed
    await relayPieces(requestStream, local, downstream, length, timeline, since)
    const ended = downstream?.finish()
    let commit: CommitResult
    try {
      commit = await (await local.drain()).commit()
      timeline.committed = since()
    } catch (err) {
      if (downstream !== undefined) {
        if (err instanceof TesseraError && err.code === 'CHECKSUM_MISMATCH') {
          await ended
          await downstream.copies()
        } else {
          downstream.cancel(`upstream copy failed: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
      throw err
    }
    const downstreamCopies = downstream === undefined ? [] : await downstream.copies()
    timeline.downstreamAnswered = since()
    const copies: BlockCopy[] = [{ server: deps.selfAddress, ok: true }, ...downstreamCopies]
    return {
      response: { copies, stored: copies.filter((c) => c.ok).length },
      commit,
      downstreamError: downstream?.failed ?? firstError(downstreamCopies),
      timeline,
    }
  } catch (err) {
    downstream?.cancel('upstream write failed')
    await abortLocal(local, opening)
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Forwards each piece as it arrives and queues it for the local copy; takes the next piece
 * from upstream only when the downstream took this one and the local queue has room.
 */
async function relayPieces(
  requestStream: StreamReader, local: LocalWriteQueue, downstream: Downstream | undefined, length: number,
  timeline: HopTimeline, since: () => number,
): Promise<void> {
  let received = 0
  for await (const piece of requestStream) {
    if (received === 0) timeline.firstPiece = since()
    received += piece.byteLength
    if (received > length) throw new TesseraError('EINVAL', `more than the ${length} bytes announced for the block`)
    if (downstream === undefined) await local.push(piece)
    else await Promise.all([downstream.forward(piece), local.push(piece)])
  }
  timeline.lastPiece = since()
}

/** Waits for queued local writes to stop, then drops the local copy (if its writer ever opened). */
async function abortLocal(local: LocalWriteQueue, opening: Promise<BlockWriter>): Promise<void> {
  await local.drain().catch(() => undefined)
  const writer = await opening.catch(() => undefined)
  await writer?.abort()
}

function firstError(copies: BlockCopy[]): TesseraError | undefined {
  const bad = copies.find((c) => !c.ok)
  return bad === undefined ? undefined : new TesseraError(bad.error?.code ?? 'EIO', bad.error?.message ?? `copy on ${bad.server} failed`)
}
