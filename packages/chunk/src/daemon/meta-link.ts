/**
 * What a chunk daemon needs from meta, as a seam: the composition root (the CLI) implements it
 * over a leader-following meta connection; tests can fake it. Each call may fail (meta down,
 * an election): the daemon retries on its own schedule.
 */
import type {
  ChunkHeartbeatReply, ChunkHeartbeatRequest, ChunkRegisterRequest,
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
