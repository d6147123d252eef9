/**
 * @tessera/raft/testing: harnesses for driving real RaftCore instances in tests.
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
