/**
 * How long the simulator's liveness phase may take before "no progress" counts as a failure,
 * derived from the run's timing instead of one fixed number.
 *
 * Raft promises progress only with high probability: with message delays a sizeable fraction
 * of the election timeout, an election can fail (split vote, a leader deposed by a member that
 * timed out before the leader's first append reached it), and each failure costs up to one more
 * randomized timeout. Without PreVote it fails more often: a member whose log cannot win still
 * bumps the term whenever its timer fires, and the higher term deposes whoever leads (etcd-io/raft
 * behaves the same; see Step's handling of lower-term appends). The weather scales the election
 * timeout with the delays (8 to 64 ticks), so a fixed budget that suits an 8-tick timeout is
 * a handful of election rounds at 61 ticks, and shorter than the simulated client's own retry
 * timer plus two elections.
 *
 * Measured over 2,200 seeds (1,300 of 5 members, 600 of 3, and 300 of 5 members with PreVote off
 * and delays near a quarter of the timeout): after the client's retry and the commit round trips,
 * the slowest election-bound run needed 1.7 election rounds (as defined below) without PreVote
 * (seed 9535325729657914016, 9 terms) and 1.1 with it (seed 1009 of sim-world.test.ts); the
 * budget allows 6 and 3. A group that never elects a leader still fails, only later.
 */

/** The parts of a run's weather the budget depends on. */
export interface LivenessTiming {
  electionTick: number
  preVote: boolean
  minDelayTicks: number
  meanExtraDelayTicks: number
  maxDelayTicks: number
}

/** The old fixed budget, kept as a floor: it covers log repair and client work that does not scale with timeouts. */
export const LIVENESS_FLOOR_TICKS = 600

/** Election rounds allowed after healing (see the module comment for the measurements). */
export const ELECTION_ROUNDS_WITH_PREVOTE = 3
export const ELECTION_ROUNDS_WITHOUT_PREVOTE = 6

/** The simulated client waits this long (plus up to CLIENT_RETRY_JITTER_TICKS - 1) for an answer before it retries. */
export function clientRetryTicks(electionTick: number): number {
  return 4 * electionTick
}
export const CLIENT_RETRY_JITTER_TICKS = 20

/** The 99th percentile of one message's delay: minimum + exponential extra, capped. */
export function slowDeliveryTicks(t: LivenessTiming): number {
  return Math.min(t.maxDelayTicks, t.minDelayTicks + Math.ceil(t.meanExtraDelayTicks * Math.log(100)))
}

/** One election round: the longest randomized timeout (2 x electionTick), then a vote request and its answer. */
export function electionRoundTicks(t: LivenessTiming): number {
  return 2 * t.electionTick + 2 * slowDeliveryTicks(t)
}

/**
 * The liveness budget: a client that was waiting on a deposed leader gives up and retries, the
 * group needs some election rounds, and the new leader's commit and read round trips (an append
 * and its ack, a heartbeat and its ack) complete. Never below LIVENESS_FLOOR_TICKS.
 */
export function livenessBudget(t: LivenessTiming): number {
  if (!(Number.isInteger(t.electionTick) && t.electionTick >= 1)) throw new RangeError(`livenessBudget: bad electionTick ${t.electionTick}`)
  const rounds = t.preVote ? ELECTION_ROUNDS_WITH_PREVOTE : ELECTION_ROUNDS_WITHOUT_PREVOTE
  const clientRetry = clientRetryTicks(t.electionTick) + CLIENT_RETRY_JITTER_TICKS
  const commit = 4 * slowDeliveryTicks(t)
  return Math.max(LIVENESS_FLOOR_TICKS, clientRetry + rounds * electionRoundTicks(t) + commit)
}
