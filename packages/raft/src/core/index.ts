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
 *     1. send rd.messages at once: the leader's appends, heartbeats and snapshot chunks, and
 *        heartbeat answers. None promises durable state, so the leader's disk write runs in
 *        parallel with the followers' (Raft thesis §10.2.1);
 *     2. persist rd.hardState, rd.entries (truncating the stored suffix from entries[0].index)
 *        and rd.snapshot durably (fsync when rd.mustSync); restore the application from
 *        rd.snapshot if present;
 *     3. THEN send rd.messagesAfterPersist (append and snapshot acks, vote requests and answers:
 *        they promise that this Ready's state is durable);
 *     4. THEN core.advance(rd): this reports rd.entries persisted (only now do the leader's own
 *        entries count toward the commit quorum, as etcd's self-acks after async storage writes).
 *   Apply rd.committedEntries (in order) and serve rd.readStates once applied >= index at any
 *   point of the cycle: before the persist, or after it (a follower keeping its apply off the
 *   path of its ack). They are committed, i.e. durable on a quorum, so they never wait for this
 *   node's own write; the core counts them applied, and applies their membership changes, when
 *   it hands them out.
 *
 * While a Ready is outstanding the driver may also, at any time:
 *   - send core.takeMessages() (the same kind of messages as rd.messages: appends for
 *     proposals made during the disk write);
 *   - take core.takeCommitted(): entries that became committed meanwhile (a leader's entry
 *     acked by a quorum of followers while its own write is still running) and read states, to
 *     apply and serve at once, after the outstanding Ready's committedEntries.
 * A crash between 1 and 3 is safe: the leader's entries reached followers without being durable
 * here, exactly as if the leader's write had been lost, and it never counted itself for them;
 * what it applied and answered meanwhile was committed by a quorum without it, so the next
 * leader has it (Leader Completeness).
 * A snapshot the application takes must cover only entries this node has handed to its storage
 * (the snapshot is placed in the log behind them); compact() then counts them durable.
 * A proposal is done when an entry with its {index, term} is applied; if an
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
  CommittedBatch,
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
