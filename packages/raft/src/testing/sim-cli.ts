/**
 * The simulator's command line: `npm run sim -- --seeds N [--from S] [--nodes 5] [--ticks T]
 * [--bug vote|commit] [--profile churn] [--trace] [--quiet]`. Runs seeds S, S+1, ..., prints one line per seed
 * (the seed first), and on a failure the violated property, the git commit and the exact
 * command that replays it; --trace dumps the failing run's event trace. Exit code 1 on failure.
 */
import { execFileSync } from 'node:child_process'
import { parseSeed, randomSeed } from '@tessera/sim'
import { CHURN_PROFILE, bugsFor, replayCommand, runWorld } from './world.js'

interface Args {
  seeds: number
  from: bigint
  nodes: number
  ticks: number | undefined
  bug: string | undefined
  profile: string | undefined
  trace: boolean
  quiet: boolean
}

const USAGE = 'usage: npm run sim -- --seeds N [--from SEED] [--nodes 3|5] [--ticks T] [--bug vote|commit] [--profile churn] [--trace] [--quiet]'

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 1, from: randomSeed(), nodes: 3, ticks: undefined, bug: undefined, profile: undefined, trace: false, quiet: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    switch (a) {
      case '--seeds': args.seeds = Number.parseInt(value(), 10); break
      case '--from': {
        const s = parseSeed(value())
        if (s === undefined) throw new Error('--from takes a decimal or 0x-hex seed')
        args.from = s
        break
      }
      case '--nodes': args.nodes = Number.parseInt(value(), 10); break
      case '--ticks': args.ticks = Number.parseInt(value(), 10); break
      case '--bug': args.bug = value(); break
      case '--profile': args.profile = value(); break
      case '--trace': args.trace = true; break
      case '--quiet': args.quiet = true; break
      case '--help': case '-h':
        console.log(USAGE)
        process.exit(0)
        break
      default: throw new Error(`unknown argument ${a}`)
    }
  }
  if (!(args.seeds >= 1)) throw new Error('--seeds must be >= 1')
  if (args.nodes !== 3 && args.nodes !== 5) throw new Error('--nodes must be 3 or 5')
  if (args.bug !== undefined && args.bug !== 'vote' && args.bug !== 'commit') throw new Error('--bug is vote or commit')
  if (args.profile !== undefined && args.profile !== 'churn') throw new Error('--profile is churn')
  return args
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

async function main(): Promise<number> {
  let args: Args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const started = performance.now()
  let failed = 0
  // How often the leader's early apply and a crash with its own write outstanding came up.
  let earlyApplied = 0
  let crashesMidWrite = 0
  let leaderCrashesAfterEarlyApply = 0
  let seedsWithThose = 0
  for (let k = 0; k < args.seeds; k++) {
    const seed = args.from + BigInt(k)
    const t0 = performance.now()
    const result = await runWorld({ seed, nodes: args.nodes, ...(args.ticks !== undefined ? { chaosTicks: args.ticks } : {}), ...(args.bug !== undefined ? { bugs: bugsFor(args.bug)! } : {}), ...(args.profile === 'churn' ? { weather: CHURN_PROFILE } : {}) })
    const ms = (performance.now() - t0).toFixed(0)
    const s = result.stats
    earlyApplied += s.appliedBeforeOwnWrite
    crashesMidWrite += s.crashesWithWriteOutstanding
    leaderCrashesAfterEarlyApply += s.leaderCrashesAfterEarlyApply
    if (s.leaderCrashesAfterEarlyApply > 0) seedsWithThose++
    if (result.ok) {
      if (!args.quiet) console.log(`seed ${seed} ok ${ms}ms ops=${s.committedOps} unknown=${s.unknownOps} leaders=${s.elections} crashes=${s.crashes} conf=${s.confChanges} transfers=${s.transfers} msgs=${s.messagesSent} earlyApplied=${s.appliedBeforeOwnWrite} crashesMidWrite=${s.crashesWithWriteOutstanding} leaderCrashesAfterEarlyApply=${s.leaderCrashesAfterEarlyApply}`)
      if (args.trace) console.log(result.trace.dump())
      continue
    }
    failed++
    const f = result.failure!
    console.log(`seed ${seed} FAILED at tick ${f.tick}: ${f.kind}: ${f.detail}`)
    console.log(`  weather: ${result.weather}`)
    console.log(`  commit: ${gitCommit()}`)
    console.log(`  replay: ${replayCommand(seed, args.nodes, args.ticks, args.bug, args.profile)}`)
    if (args.trace) console.log(result.trace.dump())
  }
  const secs = ((performance.now() - started) / 1000).toFixed(1)
  console.log(
    `entries applied before the leader's own write: ${earlyApplied}; crashes with a write outstanding: ${crashesMidWrite}; ` +
      `leader crashes after applying unwritten entries: ${leaderCrashesAfterEarlyApply} (in ${seedsWithThose} seeds)`,
  )
  console.log(`${args.seeds - failed}/${args.seeds} seeds passed in ${secs}s`)
  return failed === 0 ? 0 : 1
}

process.exitCode = await main()
