/**
 * The seeded simulator end to end: hundreds of seeds with swarm weather must pass every
 * invariant, the linearizability check and the liveness phase; the same seed must replay the
 * same run; and the planted bugs must be caught within a bounded number of seeds.
 * Long explorations belong to `npm run sim -- --seeds N`, not here.
 */
import { expect } from 'chai'
import { CHURN_PROFILE, bugsFor, replayCommand, runWorld, type WorldOptions, type WorldResult } from '../src/testing/index.js'

function explain(r: WorldResult, nodes: number, bug?: string, profile?: string): string {
  const f = r.failure
  return f === undefined ? 'ok' : `seed ${r.seed} ${f.kind} at tick ${f.tick}: ${f.detail}\n  replay: ${replayCommand(r.seed, nodes, undefined, bug, profile)}`
}

/** Runs seeds [from, from + count) and returns the first failure, if any. */
async function firstFailure(from: number, count: number, options: Omit<WorldOptions, 'seed'>): Promise<{ result: WorldResult | undefined; seeds: number }> {
  for (let k = 0; k < count; k++) {
    const result = await runWorld({ ...options, seed: from + k })
    if (!result.ok) return { result, seeds: k + 1 }
  }
  return { result: undefined, seeds: count }
}

describe('simulator (seeded worlds)', function () {
  this.timeout(120_000)

  it('replays a seed exactly: same seed, same trace and stats', async () => {
    const a = await runWorld({ seed: 4242, chaosTicks: 600 })
    const b = await runWorld({ seed: 4242, chaosTicks: 600 })
    expect(a.ok, explain(a, 3)).to.equal(true)
    expect(b.trace.dump()).to.equal(a.trace.dump())
    expect(b.stats).to.deep.equal(a.stats)
    const c = await runWorld({ seed: 4243, chaosTicks: 600 })
    expect(c.trace.dump()).to.not.equal(a.trace.dump())
  })

  it('200 seeds of 3 members pass safety, linearizability and liveness', async () => {
    let ops = 0
    for (let seed = 1; seed <= 200; seed++) {
      const r = await runWorld({ seed, nodes: 3, chaosTicks: 700 })
      expect(r.ok, explain(r, 3)).to.equal(true)
      ops += r.stats.committedOps
    }
    expect(ops).to.be.greaterThan(200 * 10)
  })

  // Seed 1009 needs 708 ticks after healing: the three members whose logs cannot win keep
  // splitting the vote (election timeout 63 ticks against ~13-tick message delays). That is
  // slow convergence, not a stall; its derived liveness budget is 1140 ticks.
  it('40 seeds of 5 members pass', async () => {
    for (let seed = 1001; seed <= 1040; seed++) {
      const r = await runWorld({ seed, nodes: 5, chaosTicks: 700 })
      expect(r.ok, explain(r, 5)).to.equal(true)
    }
  })

  it('40 seeds of leader churn (the Figure 8 profile) pass without bugs', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = await runWorld({ seed, nodes: 3, weather: CHURN_PROFILE })
      expect(r.ok, explain(r, 3, undefined, 'churn')).to.equal(true)
    }
  })

  it('catches the planted bug "vote granted without the up-to-date check" within 10 seeds', async () => {
    const { result, seeds } = await firstFailure(1, 10, { nodes: 3, bugs: bugsFor('vote')! })
    expect(result, `not caught in ${seeds} seeds`).to.not.equal(undefined)
    expect(result!.failure!.kind).to.be.oneOf(['leader-completeness', 'state-machine-safety', 'log-matching', 'linearizability'])
  })

  // Figure 8 needs a long chain of coincidences; under the churn profile about 0.5-1% of
  // 5-member seeds produce it (measured with the leader persisting in parallel with its
  // followers: seeds 126 and 407 of 1..450; before that change 26, 68, 104 and 407). The
  // window is tied to the current weather and driver order: it starts where one is known.
  it('catches the planted bug "commit a previous-term entry by counting" within 40 seeds of 5-member leader churn', async () => {
    const { result, seeds } = await firstFailure(101, 40, { nodes: 5, bugs: bugsFor('commit')!, weather: CHURN_PROFILE })
    expect(result, `not caught in ${seeds} seeds`).to.not.equal(undefined)
    expect(result!.failure!.kind).to.be.oneOf(['leader-completeness', 'state-machine-safety', 'log-matching', 'linearizability'])
  })

  it('a failure names the seed and the command that replays it', async () => {
    const { result } = await firstFailure(1, 10, { nodes: 3, bugs: bugsFor('vote')! })
    const text = explain(result!, 3, 'vote')
    expect(text).to.match(new RegExp(`seed ${result!.seed} `))
    expect(text).to.contain(`npm run sim -- --seeds 1 --from ${result!.seed} --nodes 3 --bug vote --trace`)
    expect(result!.trace.dump()).to.contain('VIOLATION')
  })
})
