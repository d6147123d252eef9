export { Prng, parseSeed, randomSeed, type Seed } from './prng.js'
export {
  SimNetwork, swarmNetworkFaults, DEFAULT_NETWORK_FAULTS,
  type EndpointId, type DeliverHandler, type PartitionMode, type AutoPartitionOptions,
  type AutoClogOptions, type NetworkFaults, type SimNetworkOptions, type NetworkStats,
} from './network.js'
export {
  SimDisk, DEFAULT_CRASH_FAULTS, swarmDiskFaults,
  type Disk, type DiskFile, type OpenMode, type CrashFaults, type DiskOp, type SimDiskOptions,
  type CrashOptions, type DiskStats,
} from './disk.js'
export { diskContractTests, type CrashableDisk, type DiskLike, type DiskContractOptions } from './disk-contract.js'
export { SimClock, NodeClock, type SimClockOptions, type TimerId } from './clock.js'
export {
  checkKvHistory,
  type KvEvent, type KvOpKind, type LinearizabilityResult, type CheckOptions,
} from './linearizability.js'
export { TraceBuffer, type TraceOptions } from './trace.js'
