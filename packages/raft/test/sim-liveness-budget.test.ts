/**
 * The simulator's liveness budget: derived from each run's election timeout and message delays
 * (testing/liveness-budget.ts) instead of a fixed 600 ticks.
 */
import { expect } from 'chai'
import {
  CLIENT_RETRY_JITTER_TICKS,
  ELECTION_ROUNDS_WITHOUT_PREVOTE,
  LIVENESS_FLOOR_TICKS,
  clientRetryTicks,
  electionRoundTicks,
  livenessBudget,
  runWorld,
  slowDeliveryTicks,
  type LivenessTiming,
} from '../src/testing/index.js'

/** The weather seed 9535325729657914016 draws for 5 members. */
const SLOW_NO_PREVOTE: LivenessTiming = { electionTick: 61, preVote: false, minDelayTicks: 3, meanExtraDelayTicks: 9.8, maxDelayTicks: 47 }
const FAST: LivenessTiming = { electionTick: 10, preVote: true, minDelayTicks: 1, meanExtraDelayTicks: 1, maxDelayTicks: 30 }

describe('simulator liveness budget', function () {
  this.timeout(60_000)

  it('allows the client retry, six election rounds and the commit round trips when PreVote is off', () => {
    // 99th percentile delay 3 + ceil(9.8 ln 100) = 49, capped at the path maximum 47.
    expect(slowDeliveryTicks(SLOW_NO_PREVOTE)).to.equal(47)
    expect(electionRoundTicks(SLOW_NO_PREVOTE)).to.equal(2 * 61 + 2 * 47)
    const expected = clientRetryTicks(61) + CLIENT_RETRY_JITTER_TICKS + ELECTION_ROUNDS_WITHOUT_PREVOTE * (2 * 61 + 2 * 47) + 4 * 47
    expect(livenessBudget(SLOW_NO_PREVOTE)).to.equal(expected).and.equal(1748)
  })

  it('grows with the election timeout and the delays, and is larger without PreVote', () => {
    const base = livenessBudget(SLOW_NO_PREVOTE)
    expect(livenessBudget({ ...SLOW_NO_PREVOTE, electionTick: 70 })).to.be.greaterThan(base)
    expect(livenessBudget({ ...SLOW_NO_PREVOTE, maxDelayTicks: 200 })).to.be.greaterThan(base)
    expect(livenessBudget({ ...SLOW_NO_PREVOTE, preVote: true })).to.be.lessThan(base)
    // Even with instant delivery, a 61-tick timeout needs more than the old fixed 600 ticks.
    expect(livenessBudget({ ...SLOW_NO_PREVOTE, minDelayTicks: 0, meanExtraDelayTicks: 0 })).to.be.greaterThan(LIVENESS_FLOOR_TICKS)
  })

  it('never drops below the old fixed budget for short timeouts', () => {
    expect(livenessBudget(FAST)).to.equal(LIVENESS_FLOOR_TICKS)
    expect(() => livenessBudget({ ...FAST, electionTick: 0 })).to.throw(RangeError)
  })

  // PreVote off, delays a fifth of the election timeout, two of five members with logs that can
  // never win: their timeouts keep deposing leaders (9 terms after healing), as etcd's raft
  // would. It converges 834 ticks after healing, past the old fixed 600-tick budget.
  it('seed 9535325729657914016 (5 members) passes within its derived budget, and would fail the old fixed one', async () => {
    const seed = 9535325729657914016n
    const derived = await runWorld({ seed, nodes: 5 })
    expect(derived.ok, derived.failure?.detail).to.equal(true)
    expect(derived.weather).to.contain('preVote=false').and.contain('liveness=1748')
    const fixed = await runWorld({ seed, nodes: 5, livenessTicks: LIVENESS_FLOOR_TICKS })
    expect(fixed.ok).to.equal(false)
    expect(fixed.failure!.kind).to.equal('liveness')
    expect(fixed.failure!.detail).to.contain(`no progress within ${LIVENESS_FLOOR_TICKS} ticks`)
  })
})
