/**
 * The pure Raft core (etcd-io/raft's shape): no sockets, timers, files, clock or ambient
 * randomness. Create one with RaftCore.create(config, initialState) and drive it:
 *
 *   on every tick of the driver's timer:        core.tick()
 *   on every message received from a peer:      core.step(message)
 *   on client requests (leader only):           core.propose(data) / proposeConfChange(cc) /
 *                                               readIndex(ctx) / transferLeadership(to)
 *   then, while core.hasReady():
 *     const rd = core.ready()
 *     1. persist rd.hardState, rd.entries (truncating the stored suffix from entries[0].index)
 *        and rd.snapshot durably (fsync when rd.mustSync); restore the application from
 *        rd.snapshot if present;
 *     2. THEN send rd.messages (vote grants and append acks promise durable state);
 *     3. THEN apply rd.committedEntries in order and serve rd.readStates once applied >= index;
 *     4. THEN core.advance(rd) (this also applies membership changes from ConfChange entries).
 *
 * Because the driver persists before sending, the leader counts its own new entries toward
 * commit at once. A proposal is done when an entry with its {index, term} is applied; if an
 * entry with that index but another term is applied (or the node loses leadership, visible in
 * rd.softState) the proposal was lost and may be retried. Pending reads are likewise dropped
 * when leadership changes. The core keeps the log since the last snapshot in memory: the
 * driver reads its WAL at start and passes it in InitialState.entries.
 *
 * A new group is bootstrapped with bootstrapState(voters) on every founding member; a member
 * that joins later starts from emptyState() and learns the log (or a snapshot) from the leader.
 */
export { RaftCore, MAX_READ_CONTEXT_BYTES } from './raft.js'
export { bootstrapState, emptyState } from './bootstrap.js'
export { encodeConfChange, decodeConfChange, applyConfChange, checkConfChange } from './confchange.js'
export { committedIndex, voteResult, majority, type VoteResult } from './quorum.js'
export type { ProgressState } from './progress.js'
export type {
  InitialState,
  PeerStatus,
  PlantedBugs,
  Proposed,
  RaftConfig,
  RaftLogger,
  RaftRng,
  ReadState,
  Ready,
  Role,
  SoftState,
  Status,
} from './types.js'
