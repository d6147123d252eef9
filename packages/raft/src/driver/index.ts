export { RaftNode, type RaftNodeOptions, type RaftNodeStatus, type ProposeOptions } from './raft-node.js'
export type { RaftStateMachine } from './state-machine.js'
export type { RaftTransport } from './transport.js'
export { encodeSnapshotEnvelope, decodeSnapshotEnvelope, type SnapshotEnvelope } from './snapshot-envelope.js'
export { StageTimer, LEADER_STAGES, FOLLOWER_STAGES, type StageReport, type StageSummary, type LeaderStage, type FollowerStage } from './stage-timer.js'
export {
  RpcRaftTransport,
  raftStepHandler,
  registerRaftStep,
  splitBatches,
  type RpcRaftTransportOptions,
  type RaftTransportStats,
  type RaftStepTarget,
  type RaftStepCatalogue,
} from './rpc-transport.js'
