/**
 * What a chunk daemon needs from meta, as a seam: the composition root (the CLI) implements it
 * over a leader-following meta connection; tests can fake it. Each call may fail (meta down,
 * an election): the daemon retries on its own schedule.
 */
import type {
  ChunkHeartbeatReply, ChunkHeartbeatRequest, ChunkRegisterRequest, MetaClusterCatalogue, RequestOf, ResponseOf,
} from '@tessera/protocol'

export interface ChunkMetaLink {
  register(request: ChunkRegisterRequest): Promise<void>
  heartbeat(request: ChunkHeartbeatRequest): Promise<ChunkHeartbeatReply>
  /** More of a block report (`replace`: a new one). */
  blockReport(request: { id: string; blocks: string[]; replace: boolean }): Promise<void>
  /** Blocks that left this server (deleted on order, or corrupt and quarantined). */
  blocksGone(request: { id: string; blocks: string[] }): Promise<void>
  close(): Promise<void>
}

type Method = keyof MetaClusterCatalogue['methods'] & string

/** A leader-following caller of meta's methods, as @tessera/client's MetaCalls is. */
export interface MetaCaller {
  call<M extends Method>(method: M, request: RequestOf<MetaClusterCatalogue, M>): Promise<ResponseOf<MetaClusterCatalogue, M>>
  close(): Promise<void>
}

/** The link over a meta caller (closing the link closes the caller). */
export function chunkMetaLinkOver(calls: MetaCaller): ChunkMetaLink {
  return {
    register: async (request) => { await calls.call('chunk.register', request) },
    heartbeat: (request) => calls.call('chunk.heartbeat', request),
    blockReport: async (request) => { await calls.call('chunk.blockReport', request) },
    blocksGone: async (request) => { await calls.call('chunk.blocksGone', request) },
    close: () => calls.close(),
  }
}
