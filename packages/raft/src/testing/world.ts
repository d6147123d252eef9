/**
 * The seeded Raft simulator (TigerBeetle's VOPR, small): N members, each a real RaftCore over
 * the real RaftStorage on a SimDisk, talking through a SimNetwork that carries encoded frames;
 * clients with sessions issue KV operations and retry through failures. The seed picks the
 * weather (swarm testing): network faults, crash rate, Raft options, membership changes,
 * leadership transfers and snapshot frequency.
 *
 * Phase 1 (chaos): faults on; the invariants of Figure 3 are checked after every tick.
 * Phase 2 (liveness): heal the network (paths large enough for the append window: see
 * healed-network.ts), restart every member, stop faults, and require every
 * client's last operation to complete within a tick budget derived from the run's election timeout
 * and message delays (liveness-budget.ts). At the end, the client history must be linearizable.
 */
import { TesseraError, decodeValue, encodeValue, raftMessageSchema, type NodeId, type RaftMessage } from '@tessera/protocol'
import { Prng, SimDisk, SimNetwork, TraceBuffer, checkKvHistory, swarmNetworkFaults, type KvEvent, type NetworkFaults } from '@tessera/sim'
import type { PlantedBugs, RaftConfig } from '../core/index.js'
import { RaftInvariants, type Violation } from './invariants.js'
import { healedNetworkFaults } from './healed-network.js'
import { CLIENT_RETRY_JITTER_TICKS, clientRetryTicks, livenessBudget } from './liveness-budget.js'
import { encodeCommand, type KvCommand, type KvOp, type KvResult } from './kv.js'
import { SimNode, SimulatedCrash } from './sim-node.js'

export interface WorldOptions {
  seed: bigint | number
  /** Founding voters: 3 or 5. */
  nodes?: number
  /** Ticks of the chaos phase. */
  chaosTicks?: number
  /** Tick budget for the liveness phase (default: derived from the weather, see livenessBudget). */
  livenessTicks?: number
  bugs?: PlantedBugs
  /** Pins parts of the weather the seed would pick (e.g. the 'churn' profile). */
  weather?: WeatherOverrides
  traceCapacity?: number
}

/** Weather knobs a caller may pin. */
export interface WeatherOverrides {
  maxSizePerMsg?: number
  crashPerTick?: number
  maxDownTicks?: number
  leaderCrashPerTick?: number
  newLeaderCrash?: number
  confChangePerTick?: number
  transferPerTick?: number
}

/**
 * Leader churn with half-replicated logs: one entry per append and new leaders crashed a few
 * ticks into their term. Finds Figure 8 style bugs (§5.4.2) much faster than random weather.
 */
export const CHURN_PROFILE: WeatherOverrides = {
  maxSizePerMsg: 100,
  newLeaderCrash: 0.6,
  leaderCrashPerTick: 0.01,
  crashPerTick: 0.002,
  maxDownTicks: 60,
}

export type FailureKind = Violation['property'] | 'linearizability' | 'liveness' | 'crash'

export interface WorldFailure {
  kind: FailureKind
  detail: string
  tick: number
}

export interface WorldStats {
  ticks: number
  committedOps: number
  unknownOps: number
  crashes: number
  restarts: number
  elections: number
  confChanges: number
  transfers: number
  messagesSent: number
  messagesDropped: number
  /** Entries a leader applied (and answered) while its own write of them had not started. */
  appliedBeforeOwnWrite: number
  /** Crashes that struck a member whose own write of a Ready was still outstanding. */
  crashesWithWriteOutstanding: number
  /** Of those, crashes of a leader that had applied (and answered) entries it had not written. */
  leaderCrashesAfterEarlyApply: number
}

export interface WorldResult {
  seed: bigint
  ok: boolean
  failure?: WorldFailure
  stats: WorldStats
  /** A short description of the weather this seed picked. */
  weather: string
  trace: TraceBuffer
}

/** Per tick, the chance that a leader which applied entries it has not written yet crashes. */
const OWN_WRITE_CRASH_PER_TICK = 0.05

/** Everything the seed decides about a run. */
interface Weather {
  raft: Omit<RaftConfig, 'id' | 'rng' | 'logger'>
  network: NetworkFaults
  crashPerTick: number
  /** Per-tick probability of crashing whoever leads (leader churn with half-replicated entries). */
  leaderCrashPerTick: number
  /** Probability that a newly elected leader is crashed a few ticks into its term (Figure 8 churn). */
  newLeaderCrash: number
  minDownTicks: number
  maxDownTicks: number
  clients: number
  keys: number
  readIndexShare: number
  confChangePerTick: number
  transferPerTick: number
  snapshotEvery: number
  snapshotKeepEntries: number
  spares: number
  /** Probability that a member's write of a Ready's entries starts only some ticks later (a slow disk). */
  slowWriteChance: number
  slowWriteMaxTicks: number
}

function drawWeather(p: Prng, bugs: PlantedBugs | undefined): Weather {
  const network = swarmNetworkFaults(p)
  // An election timeout below a couple of round trips leaves no leader standing: scale it.
  const roundTrip = 2 * (network.minDelayTicks + network.meanExtraDelayTicks)
  const minElection = Math.max(8, Math.ceil(2 * roundTrip))
  const electionTick = p.int(minElection, minElection + 13)
  return {
    raft: {
      electionTick,
      heartbeatTick: p.int(1, Math.max(2, Math.floor(electionTick / 4)) + 1),
      preVote: p.chance(0.5),
      checkQuorum: p.chance(0.5),
      maxInflightMsgs: p.pick([1, 2, 8, 64]),
      // 100 bytes: one entry per append, so entries of one term reach followers one at a time.
      maxSizePerMsg: p.pick([100, 200, 1024, 64 * 1024]),
      snapshotChunkBytes: p.pick([64, 256, 4096]),
      ...(bugs !== undefined ? { plantedBugs: bugs } : {}),
    },
    network,
    crashPerTick: p.pick([0, 0.0005, 0.002, 0.005]),
    leaderCrashPerTick: p.pick([0, 0, 0.002, 0.01]),
    newLeaderCrash: p.pick([0, 0, 0.3, 0.6]),
    minDownTicks: 5,
    maxDownTicks: p.int(20, 300),
    clients: p.int(2, 6),
    keys: p.int(1, 5),
    readIndexShare: p.float(),
    confChangePerTick: p.pick([0, 0, 0.002, 0.01]),
    transferPerTick: p.pick([0, 0.001, 0.005]),
    snapshotEvery: p.pick([0, 5, 20, 60]),
    snapshotKeepEntries: p.pick([0, 5, 50]),
    spares: p.int(1, 3),
    // Drawn last, so the draws above (and the weather of known seeds) stay as they were.
    slowWriteChance: p.pick([0, 0.05, 0.2, 0.5]),
    // Up to about a network round trip: long enough for the followers' acks to commit an entry
    // before the leader's own write of it has started.
    slowWriteMaxTicks: p.int(1, Math.ceil(roundTrip) + 4),
  }
}

function applyOverrides(w: Weather, o: WeatherOverrides | undefined): Weather {
  if (o === undefined) return w
  const out: Weather = { ...w, raft: { ...w.raft } }
  if (o.maxSizePerMsg !== undefined) out.raft.maxSizePerMsg = o.maxSizePerMsg
  if (o.crashPerTick !== undefined) out.crashPerTick = o.crashPerTick
  if (o.maxDownTicks !== undefined) out.maxDownTicks = o.maxDownTicks
  if (o.leaderCrashPerTick !== undefined) out.leaderCrashPerTick = o.leaderCrashPerTick
  if (o.newLeaderCrash !== undefined) out.newLeaderCrash = o.newLeaderCrash
  if (o.confChangePerTick !== undefined) out.confChangePerTick = o.confChangePerTick
  if (o.transferPerTick !== undefined) out.transferPerTick = o.transferPerTick
  return out
}

interface ClientOp {
  cmd: KvCommand
  event: KvEvent
  viaLog: boolean
  /** Tick after which the client gives up waiting and retries. */
  retryAt: number
  target: NodeId | undefined
}

interface SimClient {
  id: string
  seq: number
  op: ClientOp | undefined
  nextAt: number
  leaderHint: NodeId | undefined
  /** The last value it saw per key (to make plausible cas expectations). */
  seen: Map<string, string | null>
}

export class World {
  readonly seed: bigint
  readonly trace: TraceBuffer
  private readonly opts: Required<Omit<WorldOptions, 'bugs' | 'traceCapacity' | 'weather' | 'livenessTicks'>> & { bugs: PlantedBugs | undefined }
  /** Ticks the liveness phase may take: the caller's, or derived from this run's timing. */
  private readonly livenessTicks: number
  private readonly weather: Weather
  private readonly chaos: Prng
  private readonly clientPrng: Prng
  private readonly net: SimNetwork<Uint8Array>
  private readonly nodes = new Map<NodeId, SimNode>()
  private readonly founders: NodeId[]
  private readonly spares: NodeId[]
  private readonly invariants = new RaftInvariants()
  private readonly clients: SimClient[] = []
  private readonly history: KvEvent[] = []
  private readonly downUntil = new Map<NodeId, number>()
  /** Down members due for a restart at the next step. */
  private pendingRestarts: NodeId[] = []
  /** Spares that were added to the group (and so started). */
  private readonly everStarted = new Set<NodeId>()
  private readonly leaderTerms = new Set<number>()
  /** Crashes scheduled for a tick: node id -> tick. */
  private readonly crashAt = new Map<NodeId, number>()
  /** Nodes seen in the leader's applied configuration at some point. */
  private readonly wereMembers = new Set<NodeId>()
  private tickNo = 0
  private clock = 0
  private failure: WorldFailure | undefined
  private liveness = false
  private readonly stats: WorldStats = {
    ticks: 0, committedOps: 0, unknownOps: 0, crashes: 0, restarts: 0, elections: 0,
    confChanges: 0, transfers: 0, messagesSent: 0, messagesDropped: 0, appliedBeforeOwnWrite: 0, crashesWithWriteOutstanding: 0, leaderCrashesAfterEarlyApply: 0,
  }

  constructor(options: WorldOptions) {
    this.seed = BigInt(options.seed)
    this.opts = {
      seed: options.seed,
      nodes: options.nodes ?? 3,
      chaosTicks: options.chaosTicks ?? 1500,
      bugs: options.bugs,
    }
    this.trace = new TraceBuffer({ capacity: options.traceCapacity ?? 20_000, now: () => this.tickNo })
    const root = new Prng(this.seed)
    this.weather = applyOverrides(drawWeather(root.fork(), this.opts.bugs), options.weather)
    this.livenessTicks = options.livenessTicks ?? livenessBudget({ ...this.weather.network, electionTick: this.weather.raft.electionTick, preVote: this.weather.raft.preVote })
    this.chaos = root.fork()
    this.clientPrng = root.fork()
    const netPrng = root.fork()
    const diskPrng = root.fork()
    const nodePrng = root.fork()
    const slowDiskPrng = root.fork()
    this.founders = Array.from({ length: this.opts.nodes }, (_, k) => `n${k + 1}`)
    this.spares = Array.from({ length: this.weather.spares }, (_, k) => `n${this.opts.nodes + k + 1}`)
    this.net = new SimNetwork<Uint8Array>({
      prng: netPrng,
      endpoints: [...this.founders, ...this.spares],
      ...this.weather.network,
      onDeliver: (to, from, frame) => this.deliver(to, from, frame),
      onEvent: this.trace.sink(),
    })
    for (const id of [...this.founders, ...this.spares]) {
      const founder = this.founders.includes(id)
      const node = new SimNode({
        id,
        disk: new SimDisk({ prng: diskPrng.fork(), onEvent: (t) => this.trace.log(`${id} disk: ${t}`) }),
        prng: nodePrng.fork(),
        config: this.weather.raft,
        founders: founder ? this.founders : undefined,
        snapshotEvery: this.weather.snapshotEvery,
        snapshotKeepEntries: this.weather.snapshotKeepEntries,
        slowWrites: { chance: this.weather.slowWriteChance, maxTicks: this.weather.slowWriteMaxTicks, prng: slowDiskPrng.fork() },
        env: {
          now: () => this.tickNo,
          appliedBeforeOwnWrite: (n) => {
            this.stats.appliedBeforeOwnWrite += n
          },
          send: (m) => this.send(m),
          reply: (client, seq, result) => this.reply(client, seq, result),
          onApply: (nodeId, e) => this.invariants.onApply(nodeId, e),
          violation: (v) => this.fail(v.property, v.detail),
          trace: (line) => this.trace.log(line),
        },
      })
      this.nodes.set(id, node)
      if (!founder) this.net.crash(id)
    }
    for (let k = 0; k < this.weather.clients; k++) {
      this.clients.push({ id: `c${k + 1}`, seq: 0, op: undefined, nextAt: 0, leaderHint: undefined, seen: new Map() })
    }
  }

  describeWeather(): string {
    const w = this.weather
    const n = w.network
    return [
      `nodes=${this.opts.nodes}+${w.spares} spares`,
      `preVote=${w.raft.preVote} checkQuorum=${w.raft.checkQuorum}`,
      `election=${w.raft.electionTick} heartbeat=${w.raft.heartbeatTick} inflight=${w.raft.maxInflightMsgs} msgBytes=${w.raft.maxSizePerMsg}`,
      `drop=${n.dropProbability.toFixed(3)} dup=${n.duplicateProbability.toFixed(3)} delay=${n.minDelayTicks}+${n.meanExtraDelayTicks.toFixed(1)} pathCapacity=${n.pathCapacity}`,
      `partitions=${n.autoPartition !== undefined} clogs=${n.autoClog !== undefined}`,
      `crash/tick=${w.crashPerTick} leaderCrash/tick=${w.leaderCrashPerTick} newLeaderCrash=${w.newLeaderCrash} conf/tick=${w.confChangePerTick} transfer/tick=${w.transferPerTick} snapshotEvery=${w.snapshotEvery} keep=${w.snapshotKeepEntries} chunk=${w.raft.snapshotChunkBytes}`,
      `slowWrites=${w.slowWriteChance}x${w.slowWriteMaxTicks}`,
      `clients=${w.clients} keys=${w.keys}`,
      `liveness=${this.livenessTicks}`,
    ].join(' ')
  }

  async run(): Promise<WorldResult> {
    this.trace.log(`seed ${this.seed}: ${this.describeWeather()}`)
    for (const id of this.founders) await this.startNode(id)
    for (; this.tickNo < this.opts.chaosTicks && this.failure === undefined; ) await this.step()
    if (this.failure === undefined) await this.livenessPhase()
    if (this.failure === undefined) this.checkLinearizable()
    this.stats.ticks = this.tickNo
    this.stats.messagesSent = this.net.stats.sent
    this.stats.messagesDropped = this.net.stats.dropped
    this.stats.unknownOps = this.history.filter((e) => e.ok === 'unknown').length
    const result: WorldResult = { seed: this.seed, ok: this.failure === undefined, stats: this.stats, weather: this.describeWeather(), trace: this.trace }
    if (this.failure !== undefined) result.failure = this.failure
    return result
  }

  // ---------------------------------------------------------------- one tick

  private async step(): Promise<void> {
    this.tickNo++
    this.net.tick()
    for (const node of this.nodes.values()) if (node.up) node.core!.tick()
    this.clientsAct()
    if (!this.liveness) this.chaosAct()
    await this.restartDownNodes(false)
    for (const node of this.nodes.values()) {
      if (!node.up) continue
      try {
        await node.process()
      } catch (err) {
        // The storage may wrap the power cut in its own error: the disk's state tells.
        if (!(err instanceof SimulatedCrash) && !node.disk.isDown()) {
          this.fail('crash', `${node.id} threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
          return
        }
        this.nodeDown(node, 'mid-write power cut')
      }
    }
    for (const node of this.nodes.values()) if (node.up && node.isArmed()) this.nodeDown(node, 'power cut', true)
    this.checkInvariants()
  }

  private checkInvariants(): void {
    if (this.failure !== undefined) return
    const live = [...this.nodes.values()].filter((n) => n.up).map((n) => ({ id: n.id, core: n.core! }))
    const instant: NodeId[] = []
    for (const { id, core } of live) {
      const st = core.status()
      if (st.role !== 'leader' || this.leaderTerms.has(st.term)) continue
      this.leaderTerms.add(st.term)
      if (this.liveness || !this.chaos.chance(this.weather.newLeaderCrash)) continue
      if (this.chaos.chance(0.5)) {
        // At once: its no-op is durable locally, and its appends die in flight (Figure 8 (b)).
        instant.push(id)
      } else {
        // Within the first few round trips: while it re-replicates old entries (Figure 8 (c)).
        const n = this.weather.network
        const roundTrip = 2 * (n.minDelayTicks + n.meanExtraDelayTicks)
        this.crashAt.set(id, this.tickNo + this.chaos.int(1, Math.ceil(3 * roundTrip) + 3))
      }
    }
    this.stats.elections = this.leaderTerms.size
    const v = this.invariants.observe(live) ?? (this.tickNo % 5 === 0 ? this.invariants.checkLogMatching(live) : undefined)
    if (v !== undefined) this.fail(v.property, v.detail)
    for (const id of instant) this.nodeDown(this.nodes.get(id)!, 'new-leader nemesis, at once', true)
  }

  private fail(kind: FailureKind, detail: string): void {
    if (this.failure !== undefined) return
    this.failure = { kind, detail, tick: this.tickNo }
    this.trace.log(`VIOLATION ${kind}: ${detail}`)
  }

  // ---------------------------------------------------------------- network

  private send(m: RaftMessage): void {
    this.net.send(m.from, m.to, encodeValue(m))
  }

  private deliver(to: NodeId, from: NodeId, frame: Uint8Array): void {
    const node = this.nodes.get(to)
    if (node === undefined || !node.up) return
    let m: RaftMessage
    try {
      m = raftMessageSchema.parse(decodeValue(frame), 'raft message')
    } catch (err) {
      this.trace.log(`${to} dropped a bad frame from ${from}: ${(err as Error).message}`)
      return
    }
    node.core!.step(m)
  }

  // ---------------------------------------------------------------- nodes

  private async startNode(id: NodeId): Promise<void> {
    const node = this.nodes.get(id)!
    try {
      await node.start()
    } catch (err) {
      this.fail('crash', `${id} failed to restart: ${err instanceof Error ? err.message : String(err)}`)
      return
    }
    this.invariants.nodeRestarted(id)
    this.net.restart(id)
  }

  private nodeDown(node: SimNode, why: string, crashNow = false): void {
    if (node.writeOutstanding()) this.stats.crashesWithWriteOutstanding++
    if (node.leaderAppliedUnwritten()) this.stats.leaderCrashesAfterEarlyApply++
    if (crashNow) node.crash()
    else node.down()
    this.net.crash(node.id)
    this.stats.crashes++
    this.downUntil.set(node.id, this.tickNo + this.chaos.int(this.weather.minDownTicks, this.weather.maxDownTicks + 1))
    this.trace.log(`${node.id} crashed (${why})`)
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined
    let bestTerm = -1
    for (const n of this.nodes.values()) {
      if (!n.up) continue
      const st = n.core!.status()
      if (st.role === 'leader' && st.term > bestTerm) {
        best = n
        bestTerm = st.term
      }
    }
    return best
  }

  // ---------------------------------------------------------------- chaos

  private chaosAct(): void {
    const w = this.weather
    for (const node of this.nodes.values()) {
      if (node.up && !node.isArmed() && this.chaos.chance(w.crashPerTick)) {
        // Strike after 0..3 more disk operations: often in the middle of persisting a Ready.
        node.armCrash(this.chaos.int(0, 4))
        this.trace.log(`${node.id} crash armed`)
      }
    }
    for (const [id, until] of this.downUntil) {
      if (this.tickNo >= until && this.nodes.get(id)!.status === 'down') {
        this.downUntil.delete(id)
        this.stats.restarts++
        this.pendingRestarts.push(id)
      }
    }
    for (const [id, at] of this.crashAt) {
      if (at > this.tickNo) continue
      this.crashAt.delete(id)
      const node = this.nodes.get(id)!
      if (node.up && !node.isArmed()) {
        node.armCrash(this.chaos.int(0, 3))
        this.trace.log(`${id} crash armed (new-leader nemesis)`)
      }
    }
    for (const node of this.nodes.values()) {
      // As VOPR crashes replicas likelier while writes are in flight: a leader that applied and
      // answered entries its own WAL does not have yet is crashed now and then, losing that write.
      if (node.leaderAppliedUnwritten() && this.chaos.chance(OWN_WRITE_CRASH_PER_TICK)) this.nodeDown(node, 'leader with its own write outstanding', true)
    }
    const leader = this.leader()
    if (leader !== undefined && !leader.isArmed() && this.chaos.chance(w.leaderCrashPerTick)) {
      leader.armCrash(this.chaos.int(0, 4))
      this.trace.log(`${leader.id} crash armed (leader nemesis)`)
    }
    if (this.chaos.chance(w.confChangePerTick)) this.changeMembership()
    if (this.chaos.chance(w.transferPerTick)) this.transferLeadership()
    this.retireRemoved()
  }

  private changeMembership(): void {
    const leader = this.leader()
    if (leader === undefined) return
    const conf = leader.core!.status().conf
    const members = new Set([...conf.voters, ...conf.learners])
    const options: Array<() => void> = []
    const spare = this.spares.find((id) => !members.has(id) && this.nodes.get(id)!.status === 'down' && !this.everStarted.has(id))
    if (spare !== undefined) {
      options.push(() => {
        const r = leader.core!.proposeConfChange({ type: 'addLearner', node: spare })
        this.trace.log(`propose addLearner ${spare} via ${leader.id}: ${r instanceof TesseraError ? r.code : 'ok'}`)
        if (!(r instanceof TesseraError)) {
          this.stats.confChanges++
          this.everStarted.add(spare)
          this.pendingRestarts.push(spare)
        }
      })
    }
    for (const learner of conf.learners) {
      options.push(() => {
        const r = leader.core!.proposeConfChange({ type: 'promote', node: learner })
        this.trace.log(`propose promote ${learner} via ${leader.id}: ${r instanceof TesseraError ? r.code : 'ok'}`)
        if (!(r instanceof TesseraError)) this.stats.confChanges++
      })
    }
    if (conf.voters.length > 3) {
      const victim = this.chaos.pick(conf.voters)
      options.push(() => {
        const r = leader.core!.proposeConfChange({ type: 'remove', node: victim })
        this.trace.log(`propose remove ${victim} via ${leader.id}: ${r instanceof TesseraError ? r.code : 'ok'}`)
        if (!(r instanceof TesseraError)) this.stats.confChanges++
      })
    }
    if (options.length > 0) this.chaos.pick(options)()
  }

  /** Members that the current leader's configuration no longer holds are shut down for good. */
  private retireRemoved(): void {
    const leader = this.leader()
    if (leader === undefined) return
    const conf = leader.core!.status().conf
    const members = new Set([...conf.voters, ...conf.learners])
    for (const id of members) this.wereMembers.add(id)
    for (const node of this.nodes.values()) {
      if (node.status === 'retired' || members.has(node.id) || !this.wereMembers.has(node.id)) continue
      node.down('retired')
      this.net.crash(node.id)
      this.downUntil.delete(node.id)
      this.pendingRestarts = this.pendingRestarts.filter((id) => id !== node.id)
      this.trace.log(`${node.id} retired (removed from the group)`)
    }
  }

  private transferLeadership(): void {
    const leader = this.leader()
    if (leader === undefined) return
    const voters = leader.core!.status().conf.voters.filter((v) => v !== leader.id)
    if (voters.length === 0) return
    const to = this.chaos.pick(voters)
    const r = leader.core!.transferLeadership(to)
    this.stats.transfers++
    this.trace.log(`transfer leadership ${leader.id} -> ${to}: ${r === undefined ? 'started' : r.code}`)
  }

  // ---------------------------------------------------------------- clients

  private clientsAct(): void {
    for (const c of this.clients) {
      if (c.op !== undefined) {
        if (this.tickNo >= c.op.retryAt) this.attempt(c)
        continue
      }
      if (this.tickNo < c.nextAt || this.liveness) continue
      this.newOp(c)
    }
  }

  private newOp(c: SimClient): void {
    const p = this.clientPrng
    c.seq++
    const key = `k${p.int(0, this.weather.keys)}`
    const kind: KvOp = p.pick(['get', 'get', 'put', 'put', 'cas', 'delete'])
    const cmd: KvCommand = { client: c.id, seq: c.seq, op: kind, key }
    const event: KvEvent = { client: c.id, op: kind, key, invokedAt: ++this.clock, ok: 'unknown' }
    if (kind === 'put' || kind === 'cas') {
      cmd.value = `${c.id}.${c.seq}`
      event.value = cmd.value
    }
    if (kind === 'cas') {
      const seen = c.seen.get(key)
      cmd.expected = p.chance(0.7) ? (seen ?? null) : null
      event.expected = cmd.expected
    }
    this.history.push(event)
    c.op = { cmd, event, viaLog: kind !== 'get' || !p.chance(this.weather.readIndexShare), retryAt: 0, target: undefined }
    this.trace.log(`${c.id} invokes ${kind} ${key}${cmd.value !== undefined ? ` ${cmd.value}` : ''}${kind === 'cas' ? ` if ${String(cmd.expected)}` : ''} (seq ${c.seq})`)
    this.attempt(c)
  }

  /** Sends (or re-sends) the client's current operation to the node it believes leads. */
  private attempt(c: SimClient): void {
    const op = c.op!
    const candidates = [...this.nodes.values()].filter((n) => n.up)
    let target = c.leaderHint !== undefined ? this.nodes.get(c.leaderHint) : undefined
    if (target === undefined || !target.up) target = candidates.length > 0 ? this.clientPrng.pick(candidates) : undefined
    op.target = target?.id
    if (target === undefined) {
      op.retryAt = this.tickNo + 5
      return
    }
    const err = op.viaLog ? target.propose(op.cmd, encodeCommand(op.cmd)) : target.read(c.id, op.cmd.seq, op.cmd.key)
    if (err === undefined) {
      op.retryAt = this.tickNo + clientRetryTicks(this.weather.raft.electionTick) + this.clientPrng.int(0, CLIENT_RETRY_JITTER_TICKS)
      return
    }
    c.leaderHint = err.code === 'NOT_LEADER' ? err.details?.leaderId : undefined
    op.retryAt = this.tickNo + (c.leaderHint !== undefined ? 1 : 3)
  }

  private reply(client: string, seq: number, result: KvResult): void {
    const c = this.clients.find((x) => x.id === client)
    if (c === undefined || c.op === undefined || c.op.cmd.seq !== seq) return
    const { event, cmd } = c.op
    event.returnedAt = ++this.clock
    event.result = result
    event.ok = true
    if (cmd.op === 'get') c.seen.set(cmd.key, result as string | null)
    if ((cmd.op === 'put' || cmd.op === 'cas') && result === true) c.seen.set(cmd.key, cmd.value!)
    c.leaderHint = c.op.target
    c.op = undefined
    c.nextAt = this.tickNo + this.clientPrng.int(0, 5)
    this.stats.committedOps++
    this.trace.log(`${client} returns ${cmd.op} ${cmd.key} = ${JSON.stringify(result)} (seq ${seq})`)
  }

  // ---------------------------------------------------------------- phase 2 and the end

  private async livenessPhase(): Promise<void> {
    this.liveness = true
    this.trace.log('liveness phase: heal, restart, no more faults')
    this.net.setFaults(healedNetworkFaults(this.net.getFaults(), this.weather.raft.maxInflightMsgs))
    this.net.heal()
    for (const node of this.nodes.values()) node.disarm()
    this.crashAt.clear()
    // Every client finishes what it has, then issues one more operation that must complete.
    const finalSeq = new Map<string, number>()
    const deadline = this.tickNo + this.livenessTicks
    while (this.failure === undefined && this.tickNo < deadline) {
      await this.restartDownNodes(true)
      for (const c of this.clients) {
        if (c.op === undefined && !finalSeq.has(c.id)) {
          this.newOp(c)
          finalSeq.set(c.id, c.seq)
        }
      }
      const done = this.clients.every((c) => finalSeq.has(c.id) && c.op === undefined)
      if (done) return
      await this.step()
    }
    if (this.failure !== undefined) return
    const stuck = this.clients.filter((c) => c.op !== undefined).map((c) => `${c.id} seq ${c.op!.cmd.seq}`)
    const leader = this.leader()
    this.fail('liveness', `no progress within ${this.livenessTicks} ticks after healing: waiting ${stuck.join(', ')}; leader ${leader?.id ?? 'none'}`)
  }

  private async restartDownNodes(all: boolean): Promise<void> {
    const ids = all
      ? [...this.nodes.values()].filter((n) => n.status === 'down' && (this.founders.includes(n.id) || this.everStarted.has(n.id))).map((n) => n.id)
      : this.pendingRestarts
    this.pendingRestarts = []
    for (const id of ids) if (this.nodes.get(id)!.status === 'down') await this.startNode(id)
  }

  private checkLinearizable(): void {
    const result = checkKvHistory(this.history, { maxSteps: 2_000_000 })
    if (!result.ok) {
      this.fail('linearizability', result.kind === 'timeout' ? `checker timed out on key ${result.key}` : `key ${result.key}: ${result.explanation}`)
    }
  }
}

/** Runs one seed to completion. */
export async function runWorld(options: WorldOptions): Promise<WorldResult> {
  const world = new World(options)
  return world.run()
}

/** The planted-bug switches by their command-line names. */
export function bugsFor(name: string | undefined): PlantedBugs | undefined {
  if (name === 'vote') return { voteWithoutLogCheck: true }
  if (name === 'commit') return { commitPreviousTermByCounting: true }
  return undefined
}

/** The one command that replays a seed, with its event trace. */
export function replayCommand(seed: bigint, nodes: number, ticks: number | undefined, bug: string | undefined, profile?: string): string {
  return ['npm run sim -- --seeds 1', `--from ${seed}`, `--nodes ${nodes}`, ticks !== undefined ? `--ticks ${ticks}` : '', bug !== undefined ? `--bug ${bug}` : '', profile !== undefined ? `--profile ${profile}` : '', '--trace']
    .filter((s) => s !== '')
    .join(' ')
}
