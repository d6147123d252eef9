/**
 * What a parent and a KV node process (kv-node-process.ts) say to each other over the
 * child_process IPC channel. test/bench/raft.ts speaks the same messages (it cannot import
 * from this package's test tree, so it repeats these shapes; keep them in step).
 */
import type { NodeId } from '@tessera/protocol'
import type { StageReport } from '../../src/driver/index.js'

/** argv[2] of the child, as JSON. */
export interface KvNodeConfig {
  id: NodeId
  /** Data directory (NodeDisk root). */
  dir: string
  /** 0 picks a free port; a restart passes the port it had. */
  port: number
  /** The cluster secret, hex. */
  secret: string
  /** Found a new group from the peers given in 'start' when the directory is empty. */
  bootstrap: boolean
  tickMs: number
  electionTicks: number
  snapshotEntries: number
  /** Time proposal stages (RaftNodeOptions.measureStages). */
  measureStages?: boolean
  /** pino level for stderr logs; silent when absent. */
  logLevel?: string
}

export type ParentMessage =
  | { type: 'start'; peers: Record<NodeId, string> }
  /** Closed-loop proposals of `entryBytes` each from `inflight` workers on this (leader) node. */
  | { type: 'load'; inflight: number; warmupMs: number; durationMs: number; entryBytes: number }
  | { type: 'cpu' }
  /** The stage timer's report since the last one (then cleared). */
  | { type: 'stages' }
  | { type: 'stop' }

export interface LoadResult {
  type: 'load-result'
  /** Commits in the measured window (after the warm-up). */
  commits: number
  /** Commits including the warm-up (for CPU per commit over the whole load). */
  totalCommits: number
  seconds: number
  p50Ms: number
  p99Ms: number
  errors: number
  firstError?: string
}

export type ChildMessage =
  | { type: 'listening'; port: number }
  | { type: 'started' }
  | { type: 'role'; role: string; leader: NodeId; term: number }
  | LoadResult
  | { type: 'cpu'; userMicros: number; systemMicros: number }
  | { type: 'stages'; report: StageReport | undefined }
  | { type: 'fatal'; message: string }
