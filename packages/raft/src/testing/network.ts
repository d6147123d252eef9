/**
 * A synchronous in-process network of real RaftCore instances for scenario tests (etcd's
 * raft_test.go `network`): messages are delivered FIFO until the group is quiet, through
 * filters that drop, cut, isolate or ignore, all deterministic.
 */
import type { NodeId, RaftMessage, RaftMessageType } from '@tessera/protocol'
import { bootstrapState, emptyState, type RaftConfig, type RaftLogger } from '../core/index.js'
import { DEFAULT_TEST_CONFIG, MemoryNode, seededRng } from './memory-node.js'

export interface NetworkOptions {
  config?: Partial<Omit<RaftConfig, 'id' | 'rng'>>
  /** Seeds each node's rng (node k gets seed + k) and the drop decisions. */
  seed?: number
  /** A logger per node (e.g. to capture the core's log lines in golden files). */
  logger?: (id: NodeId) => RaftLogger
}

/** Deliveries per send()/stabilize() before we conclude the group never quiets down. */
const MAX_DELIVERIES = 100_000

export class Network {
  readonly nodes = new Map<NodeId, MemoryNode>()
  private readonly dropRates = new Map<string, number>()
  private readonly ignored = new Set<RaftMessageType>()
  private readonly isolated = new Set<NodeId>()
  private readonly predicates: Array<(m: RaftMessage) => boolean> = []
  private readonly rng: { next(): number }
  private readonly options: NetworkOptions
  /** Every message delivered, for assertions; cleared by the test when it likes. */
  delivered: RaftMessage[] = []

  constructor(options: NetworkOptions = {}) {
    this.options = options
    this.rng = seededRng((options.seed ?? 1) ^ 0x5bd1e995)
  }

  /** A bootstrapped group whose founding voters are `ids`; nobody is leader yet. */
  static bootstrap(ids: NodeId[], options: NetworkOptions = {}): Network {
    const net = new Network(options)
    for (const id of ids) net.addNode(id, bootstrapState(ids))
    return net
  }

  /** A group whose members start with empty logs and `voters` as their configuration (indexes as in the paper). */
  static fromConf(voters: NodeId[], options: NetworkOptions = {}, learners: NodeId[] = []): Network {
    const net = new Network(options)
    for (const id of [...voters, ...learners]) {
      net.addNode(id, { hardState: { term: 0, vote: '', commit: 0 }, conf: { voters, learners }, entries: [], applied: 0 })
    }
    return net
  }

  configFor(id: NodeId): RaftConfig {
    const k = this.nodes.size
    const config: RaftConfig = { ...DEFAULT_TEST_CONFIG, ...this.options.config, id, rng: seededRng((this.options.seed ?? 1) * 7919 + k) }
    if (this.options.logger !== undefined) config.logger = this.options.logger(id)
    return config
  }

  addNode(id: NodeId, initial = emptyState(), config?: Partial<RaftConfig>): MemoryNode {
    const node = new MemoryNode({ ...this.configFor(id), ...config }, initial)
    this.nodes.set(id, node)
    node.process()
    return node
  }

  node(id: NodeId): MemoryNode {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  /** Delivers `msgs` and everything they cause, FIFO, until no message is left. */
  send(msgs: RaftMessage[]): void {
    const queue = msgs.slice()
    let deliveries = 0
    while (queue.length > 0) {
      if (++deliveries > MAX_DELIVERIES) throw new Error('network did not quiet down')
      const m = queue.shift()!
      if (!this.passes(m)) continue
      const target = this.nodes.get(m.to)
      if (target === undefined) continue
      this.delivered.push(m)
      target.core.step(m)
      queue.push(...target.process())
    }
  }

  /** Processes every node's pending Ready and delivers until quiet. */
  stabilize(): void {
    const msgs: RaftMessage[] = []
    for (const n of this.nodes.values()) msgs.push(...n.process())
    this.send(msgs)
  }

  tick(id: NodeId, times = 1): void {
    const n = this.node(id)
    for (let i = 0; i < times; i++) {
      n.core.tick()
      this.send(n.process())
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.nodes.keys()) this.node(id).core.tick()
      this.stabilize()
    }
  }

  campaign(id: NodeId): void {
    this.node(id).core.campaign()
    this.send(this.node(id).process())
  }

  propose(id: NodeId, data: string): ReturnType<MemoryNode['core']['propose']> {
    const result = this.node(id).core.propose(new TextEncoder().encode(data))
    this.send(this.node(id).process())
    return result
  }

  /** The leader with the highest term, if any node believes it leads. */
  leader(): MemoryNode | undefined {
    let best: MemoryNode | undefined
    for (const n of this.nodes.values()) {
      const st = n.core.status()
      if (st.role === 'leader' && (best === undefined || st.term > best.core.status().term)) best = n
    }
    return best
  }

  /** Drops messages from `from` to `to` with probability `rate` (1 = always). */
  drop(from: NodeId, to: NodeId, rate = 1): void {
    this.dropRates.set(`${from}>${to}`, rate)
  }

  /** Cuts the link between a and b in both directions. */
  cut(a: NodeId, b: NodeId): void {
    this.drop(a, b)
    this.drop(b, a)
  }

  isolate(id: NodeId): void {
    this.isolated.add(id)
  }

  /** Drops every message of this type. */
  ignore(type: RaftMessageType): void {
    this.ignored.add(type)
  }

  /** Drops every message for which `predicate` is true. */
  dropWhere(predicate: (m: RaftMessage) => boolean): void {
    this.predicates.push(predicate)
  }

  recover(): void {
    this.predicates.length = 0
    this.dropRates.clear()
    this.ignored.clear()
    this.isolated.clear()
  }

  private passes(m: RaftMessage): boolean {
    if (this.ignored.has(m.type)) return false
    if (this.predicates.some((p) => p(m))) return false
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return false
    const rate = this.dropRates.get(`${m.from}>${m.to}`)
    if (rate === undefined || rate <= 0) return true
    if (rate >= 1) return false
    return this.rng.next() / 2 ** 32 >= rate
  }
}
