/**
 * One `block.write` at one hop of the replication chain:
 *
 *   upstream --pieces--> [ this server: BlockWriter + forward ] --pieces--> downstream ...
 *
 * Each piece is written locally and forwarded at the same time, and the next piece is taken
 * from upstream only when both are done; so the upstream's stream window, this server's disk
 * and the downstream window form one back-pressure path, and no hop holds a whole block.
 *
 * After the last piece: end the downstream stream, commit locally (hash check, fsync, rename),
 * then wait for the downstream answer and answer upstream with every copy's fate.
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
}

export async function serveBlockWrite(
  deps: BlockWriteDeps, request: WriteRequest, requestStream: StreamReader, signal: AbortSignal,
): Promise<BlockWriteOutcome> {
  const { key, length, chain, minCopies } = request
  if (minCopies > 1 + chain.length) {
    throw new TesseraError('EINVAL', `minCopies ${minCopies} exceeds this server plus a chain of ${chain.length}`)
  }
  const writer = await deps.store.beginWrite(key, { expectedLength: length })
  let downstream: Downstream | undefined
  const onAbort = (): void => downstream?.cancel('upstream went away')
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (chain.length > 0) {
      downstream = await Downstream.open(deps.pool, chain, {
        key, length, ...(request.token !== undefined ? { token: request.token } : {}), minCopies: Math.max(0, minCopies - 1),
      }, deps.downstreamTimeoutMs)
      if (signal.aborted) throw new TesseraError('ECANCELED', 'block.write cancelled by the caller')
    }
    await relayPieces(requestStream, writer, downstream, length)
    const ended = downstream?.finish()
    let commit: CommitResult
    try {
      commit = await writer.commit()
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
    const copies: BlockCopy[] = [{ server: deps.selfAddress, ok: true }, ...downstreamCopies]
    return {
      response: { copies, stored: copies.filter((c) => c.ok).length },
      commit,
      downstreamError: downstream?.failed ?? firstError(downstreamCopies),
    }
  } catch (err) {
    await writer.abort()
    downstream?.cancel('upstream write failed')
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Takes each piece from upstream only after the local write and the forward of the previous one. */
async function relayPieces(
  requestStream: StreamReader, writer: BlockWriter, downstream: Downstream | undefined, length: number,
): Promise<void> {
  let received = 0
  for await (const piece of requestStream) {
    received += piece.byteLength
    if (received > length) throw new TesseraError('EINVAL', `more than the ${length} bytes announced for the block`)
    if (downstream === undefined) await writer.write(piece)
    else await Promise.all([writer.write(piece), downstream.forward(piece)])
  }
}

function firstError(copies: BlockCopy[]): TesseraError | undefined {
  const bad = copies.find((c) => !c.ok)
  return bad === undefined ? undefined : new TesseraError(bad.error?.code ?? 'EIO', bad.error?.message ?? `copy on ${bad.server} failed`)
}
