/**
 * @tessera/raft/testing: harnesses that drive real RaftCore instances (dev and test only).
 *
 * - Network / MemoryNode: a synchronous in-process group for scenario tests (etcd's raft_test.go
 *   network: drop, cut, isolate, ignore, recover).
 * - InteractionEnv + parseDatadriven: golden scenario files (test/testdata/*.txt, REWRITE=1).
 * - RaftInvariants: Election Safety, Log Matching, Leader Completeness, State Machine Safety.
 * - World / runWorld: the seeded simulator (real core + real RaftStorage on SimDisk, SimNetwork
 *   carrying encoded frames, crashes mid-write, membership changes, transfers, snapshots, a KV
 *   state machine with exactly-once sessions, linearizability and liveness checks).
 *   CLI: `npm run sim -- --seeds N [--from S] [--nodes 5] [--bug vote|commit] [--profile churn] [--trace]`.
 */
export { Network, type NetworkOptions } from './network.js'
export { MemoryNode, persistReady, seededRng, DEFAULT_TEST_CONFIG, type DurableState } from './memory-node.js'
export { RaftInvariants, type Property, type Violation } from './invariants.js'
export { KvStateMachine, encodeCommand, decodeCommand, type KvCommand, type KvOp, type KvResult } from './kv.js'
export { SimNode, SimulatedCrash, type SimNodeEnv, type SimNodeOptions } from './sim-node.js'
export {
  World, runWorld, bugsFor, replayCommand, CHURN_PROFILE,
  type WeatherOverrides,
  type WorldOptions, type WorldResult, type WorldFailure, type WorldStats, type FailureKind,
} from './world.js'
export {
  livenessBudget, electionRoundTicks, slowDeliveryTicks, clientRetryTicks,
  LIVENESS_FLOOR_TICKS, ELECTION_ROUNDS_WITH_PREVOTE, ELECTION_ROUNDS_WITHOUT_PREVOTE, CLIENT_RETRY_JITTER_TICKS,
  type LivenessTiming,
} from './liveness-budget.js'
export { healedNetworkFaults, healedPathCapacity } from './healed-network.js'
export { InteractionEnv, parseDatadriven, formatDatadriven, type Block } from './interaction.js'
