/**
 * A seeded simulated network between endpoint ids, after TigerBeetle's packet simulator:
 * one queue per directed path ordered by delivery tick, packet loss, duplication,
 * exponential delay (reordering falls out of it), a per-path capacity that drops a random
 * queued packet when full, clogged paths, partitions (manual or automatic, symmetric or
 * asymmetric) and crashed endpoints. Time is the network's own tick counter.
 *
 * Messages are usually encoded frames (Uint8Array) so that the real codec runs on both
 * ends; Uint8Arrays are copied on send, as a socket would, unless `copy` says otherwise.
 */
import { Prng } from './prng.js'

export type EndpointId = string

export type DeliverHandler<T> = (to: EndpointId, from: EndpointId, msg: T) => void

export type PartitionMode =
  /** Pick a side size uniformly in [1, n-1], then the members at random. */
  | 'uniform-size'
  /** Put each endpoint on a side by a coin flip (both sides non-empty). */
  | 'uniform-partition'
  /** Cut one random endpoint off from all the others. */
  | 'isolate-single'

export interface AutoPartitionOptions {
  /** Per-tick probability of starting a partition while none is active. */
  probability: number
  /** Per-tick probability of healing it once `stabilityTicks` have passed. */
  healProbability: number
  /** Minimum ticks a partition (and the healed state after it) lasts. */
  stabilityTicks: number
  /** Probability that a new partition cuts only one direction (side A cannot reach side B). */
  asymmetricProbability: number
  modes: readonly PartitionMode[]
}

export interface AutoClogOptions {
  /** Per-tick, per-path probability of clogging an unclogged path. */
  probability: number
  /** Mean duration of a clog in ticks (exponential, at least 1). */
  meanTicks: number
}

export interface NetworkFaults {
  /** Probability that a sent message is lost. */
  dropProbability: number
  /** Probability that a sent message is delivered twice (each copy with its own delay). */
  duplicateProbability: number
  /** Every message takes at least this many ticks (>= 1). */
  minDelayTicks: number
  /** Mean of the exponential delay added on top of the minimum. */
  meanExtraDelayTicks: number
  /** Upper bound on the total delay. */
  maxDelayTicks: number
  /** Queued messages per directed path; when full, a random queued one is dropped. */
  pathCapacity: number
  autoPartition: AutoPartitionOptions | undefined
  autoClog: AutoClogOptions | undefined
}

export interface SimNetworkOptions<T> extends Partial<NetworkFaults> {
  /** Where every fault decision comes from; the network forks its own streams from it. */
  prng: Prng
  /** Endpoints known up front (partitions and isolation act on the known set). */
  endpoints?: readonly EndpointId[]
  onDeliver?: DeliverHandler<T>
  /** Copies a message on send and for duplicates; by default Uint8Arrays are copied. */
  copy?: (msg: T) => T
  /** Receives one line per notable event (partition, heal, crash), for a trace buffer. */
  onEvent?: (text: string) => void
}

export interface NetworkStats {
  sent: number
  delivered: number
  /** Every message that was sent (or duplicated) and will never be delivered. */
  dropped: number
  duplicated: number
  droppedByFault: number
  droppedByPartition: number
  droppedByCrash: number
  droppedByCapacity: number
}

export const DEFAULT_NETWORK_FAULTS: Readonly<NetworkFaults> = {
  dropProbability: 0,
  duplicateProbability: 0,
  minDelayTicks: 1,
  meanExtraDelayTicks: 0,
  maxDelayTicks: 1000,
  pathCapacity: 1024,
  autoPartition: undefined,
  autoClog: undefined,
}

interface Packet<T> {
  deliverAt: number
  seq: number
  msg: T
}

interface Path<T> {
  from: EndpointId
  to: EndpointId
  /** Sorted by (deliverAt, seq). Short (bounded by pathCapacity), so sorted insert is fine. */
  queue: Packet<T>[]
  /** The path holds its packets until this tick. */
  cloggedUntil: number
}

interface ActivePartition {
  sideA: Set<EndpointId>
  sideB: Set<EndpointId>
  asymmetric: boolean
}

export class SimNetwork<T> {
  private faults: NetworkFaults
  private readonly faultPrng: Prng
  private readonly delayPrng: Prng
  private readonly capacityPrng: Prng
  private readonly partitionPrng: Prng
  private readonly clogPrng: Prng
  private readonly copy: (msg: T) => T
  private readonly onEvent: ((text: string) => void) | undefined
  private handler: DeliverHandler<T> | undefined
  private readonly endpointSet = new Set<EndpointId>()
  private readonly paths = new Map<string, Path<T>>()
  private readonly crashed = new Set<EndpointId>()
  private manualPartitions: ActivePartition[] = []
  private autoPartition: ActivePartition | undefined
  /** Tick at which the automatic partition state last changed. */
  private autoPartitionChangedAt = 0
  private seq = 0
  private ticks = 0
  readonly stats: NetworkStats = {
    sent: 0, delivered: 0, dropped: 0, duplicated: 0,
    droppedByFault: 0, droppedByPartition: 0, droppedByCrash: 0, droppedByCapacity: 0,
  }

  constructor(options: SimNetworkOptions<T>) {
    this.faults = validateFaults({ ...DEFAULT_NETWORK_FAULTS, ...definedOnly(options) })
    this.faultPrng = options.prng.fork()
    this.delayPrng = options.prng.fork()
    this.capacityPrng = options.prng.fork()
    this.partitionPrng = options.prng.fork()
    this.clogPrng = options.prng.fork()
    this.copy = options.copy ?? defaultCopy
    this.onEvent = options.onEvent
    this.handler = options.onDeliver
    for (const id of options.endpoints ?? []) this.addEndpoint(id)
  }

  /** The network's tick counter. */
  now(): number {
    return this.ticks
  }

  endpoints(): EndpointId[] {
    return [...this.endpointSet]
  }

  addEndpoint(id: EndpointId): void {
    this.endpointSet.add(id)
  }

  setHandler(handler: DeliverHandler<T>): void {
    this.handler = handler
  }

  /** Changes fault settings mid-run (e.g. turn faults off for a liveness phase). */
  setFaults(changes: Partial<NetworkFaults>): void {
    this.faults = validateFaults({ ...this.faults, ...changes })
  }

  getFaults(): Readonly<NetworkFaults> {
    return this.faults
  }

  send(from: EndpointId, to: EndpointId, msg: T): void {
    this.addEndpoint(from)
    this.addEndpoint(to)
    this.stats.sent++
    if (this.crashed.has(from) || this.crashed.has(to)) {
      this.countDrop('crash')
      return
    }
    if (this.isBlocked(from, to)) {
      this.countDrop('partition')
      return
    }
    if (this.faultPrng.chance(this.faults.dropProbability)) {
      this.countDrop('fault')
      return
    }
    const duplicate = this.faultPrng.chance(this.faults.duplicateProbability)
    this.enqueue(from, to, this.copy(msg))
    if (duplicate) {
      this.stats.duplicated++
      this.enqueue(from, to, this.copy(msg))
    }
  }

  /**
   * Advances one tick: updates automatic partitions and clogs, then delivers every message
   * that is due, in (deliverAt, send order) across all paths. Messages sent by the handler
   * during delivery are due at a later tick.
   */
  tick(): void {
    this.ticks++
    this.tickAutoPartition()
    this.tickAutoClog()
    const due: Array<{ path: Path<T>; packet: Packet<T> }> = []
    for (const path of this.paths.values()) {
      if (path.cloggedUntil > this.ticks) continue
      let n = 0
      while (n < path.queue.length && (path.queue[n] as Packet<T>).deliverAt <= this.ticks) n++
      if (n === 0) continue
      for (const packet of path.queue.splice(0, n)) due.push({ path, packet })
    }
    due.sort((a, b) => a.packet.deliverAt - b.packet.deliverAt || a.packet.seq - b.packet.seq)
    for (const { path, packet } of due) {
      // State may have changed since the packet was queued (or by an earlier delivery).
      if (this.crashed.has(path.from) || this.crashed.has(path.to)) {
        this.countDrop('crash')
        continue
      }
      if (this.isBlocked(path.from, path.to)) {
        this.countDrop('partition')
        continue
      }
      if (this.handler === undefined) throw new Error('SimNetwork: no delivery handler set')
      this.stats.delivered++
      this.handler(path.to, path.from, packet.msg)
    }
  }

  /** Messages queued and not yet delivered or dropped. */
  inFlight(): number {
    let n = 0
    for (const path of this.paths.values()) n += path.queue.length
    return n
  }

  /** Cuts A from B. Symmetric by default; asymmetric cuts only messages from A to B. */
  partition(sideA: readonly EndpointId[], sideB: readonly EndpointId[], options: { asymmetric?: boolean } = {}): void {
    for (const id of [...sideA, ...sideB]) this.addEndpoint(id)
    const asymmetric = options.asymmetric ?? false
    this.manualPartitions.push({ sideA: new Set(sideA), sideB: new Set(sideB), asymmetric })
    this.event(`partition ${fmtSide(sideA)} ${asymmetric ? '-/->' : '<-/->'} ${fmtSide(sideB)}`)
  }

  /** Cuts `id` off from every other known endpoint, both ways. */
  isolate(id: EndpointId): void {
    this.addEndpoint(id)
    this.partition([id], this.endpoints().filter((e) => e !== id))
  }

  /** Removes every partition (manual and automatic) and every clog. */
  heal(): void {
    this.manualPartitions = []
    if (this.autoPartition !== undefined) {
      this.autoPartition = undefined
      this.autoPartitionChangedAt = this.ticks
    }
    for (const path of this.paths.values()) path.cloggedUntil = 0
    this.event('heal')
  }

  /** Holds every message from `from` to `to` for `ticks` ticks (they are delivered later). */
  clog(from: EndpointId, to: EndpointId, ticks: number): void {
    if (!Number.isInteger(ticks) || ticks < 0) throw new RangeError(`SimNetwork.clog: bad ticks ${ticks}`)
    const path = this.path(from, to)
    path.cloggedUntil = Math.max(path.cloggedUntil, this.ticks + ticks)
    this.event(`clog ${from}->${to} for ${ticks} ticks`)
  }

  unclog(from: EndpointId, to: EndpointId): void {
    this.path(from, to).cloggedUntil = 0
  }

  /** Drops everything queued to or from `id`, and everything sent to or from it until restart. */
  crash(id: EndpointId): void {
    this.addEndpoint(id)
    this.crashed.add(id)
    for (const path of this.paths.values()) {
      if (path.from !== id && path.to !== id) continue
      for (let i = 0; i < path.queue.length; i++) this.countDrop('crash')
      path.queue = []
    }
    this.event(`crash ${id}`)
  }

  restart(id: EndpointId): void {
    this.crashed.delete(id)
    this.event(`restart ${id}`)
  }

  isCrashed(id: EndpointId): boolean {
    return this.crashed.has(id)
  }

  /** True when a message from `from` to `to` would be cut by a partition right now. */
  isBlocked(from: EndpointId, to: EndpointId): boolean {
    if (this.autoPartition !== undefined && cuts(this.autoPartition, from, to)) return true
    for (const p of this.manualPartitions) if (cuts(p, from, to)) return true
    return false
  }

  isClogged(from: EndpointId, to: EndpointId): boolean {
    const path = this.paths.get(pathKey(from, to))
    return path !== undefined && path.cloggedUntil > this.ticks
  }

  private enqueue(from: EndpointId, to: EndpointId, msg: T): void {
    const path = this.path(from, to)
    if (path.queue.length >= this.faults.pathCapacity) {
      path.queue.splice(this.capacityPrng.int(0, path.queue.length), 1)
      this.countDrop('capacity')
    }
    const { minDelayTicks, meanExtraDelayTicks, maxDelayTicks } = this.faults
    const delay = Math.min(maxDelayTicks, minDelayTicks + Math.floor(this.delayPrng.exponential(meanExtraDelayTicks)))
    const packet: Packet<T> = { deliverAt: this.ticks + delay, seq: this.seq++, msg }
    // Insert after every packet due at or before it: ties keep send order.
    let i = path.queue.length
    while (i > 0 && (path.queue[i - 1] as Packet<T>).deliverAt > packet.deliverAt) i--
    path.queue.splice(i, 0, packet)
  }

  private path(from: EndpointId, to: EndpointId): Path<T> {
    const key = pathKey(from, to)
    let path = this.paths.get(key)
    if (path === undefined) {
      path = { from, to, queue: [], cloggedUntil: 0 }
      this.paths.set(key, path)
    }
    return path
  }

  private tickAutoPartition(): void {
    const options = this.faults.autoPartition
    if (options === undefined) return
    const prng = this.partitionPrng
    const stable = this.ticks - this.autoPartitionChangedAt >= options.stabilityTicks
    if (this.autoPartition === undefined) {
      const start = prng.chance(options.probability)
      if (!stable || !start || this.endpointSet.size < 2 || options.modes.length === 0) return
      const ids = this.endpoints()
      const mode = prng.pick(options.modes)
      const sideA = new Set<EndpointId>()
      if (mode === 'isolate-single') {
        sideA.add(prng.pick(ids))
      } else if (mode === 'uniform-size') {
        const size = prng.int(1, ids.length)
        for (const id of prng.shuffle([...ids]).slice(0, size)) sideA.add(id)
      } else {
        for (const id of ids) if (prng.chance(0.5)) sideA.add(id)
        // Both sides must be non-empty: move one endpoint across if needed.
        if (sideA.size === 0) sideA.add(prng.pick(ids))
        if (sideA.size === ids.length) sideA.delete(prng.pick(ids))
      }
      const sideB = new Set(ids.filter((id) => !sideA.has(id)))
      const asymmetric = prng.chance(options.asymmetricProbability)
      this.autoPartition = { sideA, sideB, asymmetric }
      this.autoPartitionChangedAt = this.ticks
      this.event(`auto-partition (${mode}) ${fmtSide([...sideA])} ${asymmetric ? '-/->' : '<-/->'} ${fmtSide([...sideB])}`)
    } else {
      const heal = prng.chance(options.healProbability)
      if (!stable || !heal) return
      this.autoPartition = undefined
      this.autoPartitionChangedAt = this.ticks
      this.event('auto-partition healed')
    }
  }

  private tickAutoClog(): void {
    const options = this.faults.autoClog
    if (options === undefined) return
    const ids = this.endpoints()
    for (const from of ids) {
      for (const to of ids) {
        if (from === to) continue
        const clog = this.clogPrng.chance(options.probability)
        if (!clog || this.isClogged(from, to)) continue
        this.clog(from, to, Math.max(1, Math.round(this.clogPrng.exponential(options.meanTicks))))
      }
    }
  }

  private countDrop(reason: 'fault' | 'partition' | 'crash' | 'capacity'): void {
    this.stats.dropped++
    if (reason === 'fault') this.stats.droppedByFault++
    else if (reason === 'partition') this.stats.droppedByPartition++
    else if (reason === 'crash') this.stats.droppedByCrash++
    else this.stats.droppedByCapacity++
  }

  private event(text: string): void {
    this.onEvent?.(`net@${this.ticks}: ${text}`)
  }
}

function cuts(p: ActivePartition, from: EndpointId, to: EndpointId): boolean {
  if (p.sideA.has(from) && p.sideB.has(to)) return true
  return !p.asymmetric && p.sideB.has(from) && p.sideA.has(to)
}

function pathKey(from: EndpointId, to: EndpointId): string {
  return `${from}\u0000${to}`
}

function fmtSide(ids: Iterable<EndpointId>): string {
  return `[${[...ids].join(',')}]`
}

function defaultCopy<T>(msg: T): T {
  return (msg instanceof Uint8Array ? msg.slice() : msg) as T
}

function definedOnly<T>(options: SimNetworkOptions<T>): Partial<NetworkFaults> {
  const out: Partial<NetworkFaults> = {}
  for (const key of Object.keys(DEFAULT_NETWORK_FAULTS) as Array<keyof NetworkFaults>) {
    if (options[key] !== undefined) (out as Record<string, unknown>)[key] = options[key]
  }
  return out
}

function validateFaults(f: NetworkFaults): NetworkFaults {
  const probability = (name: string, p: number): void => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`SimNetwork: ${name} ${p} not in [0, 1]`)
  }
  const count = (name: string, n: number, min: number): void => {
    if (!Number.isInteger(n) || n < min) throw new RangeError(`SimNetwork: ${name} must be an integer >= ${min}, got ${n}`)
  }
  probability('dropProbability', f.dropProbability)
  probability('duplicateProbability', f.duplicateProbability)
  count('minDelayTicks', f.minDelayTicks, 1)
  count('maxDelayTicks', f.maxDelayTicks, f.minDelayTicks)
  count('pathCapacity', f.pathCapacity, 1)
  if (!(f.meanExtraDelayTicks >= 0) || !Number.isFinite(f.meanExtraDelayTicks)) {
    throw new RangeError(`SimNetwork: meanExtraDelayTicks ${f.meanExtraDelayTicks} must be finite and >= 0`)
  }
  if (f.autoPartition !== undefined) {
    probability('autoPartition.probability', f.autoPartition.probability)
    probability('autoPartition.healProbability', f.autoPartition.healProbability)
    probability('autoPartition.asymmetricProbability', f.autoPartition.asymmetricProbability)
    count('autoPartition.stabilityTicks', f.autoPartition.stabilityTicks, 0)
  }
  if (f.autoClog !== undefined) {
    probability('autoClog.probability', f.autoClog.probability)
    if (!(f.autoClog.meanTicks >= 0) || !Number.isFinite(f.autoClog.meanTicks)) {
      throw new RangeError(`SimNetwork: autoClog.meanTicks ${f.autoClog.meanTicks} must be finite and >= 0`)
    }
  }
  return f
}

/**
 * Swarm testing: the seed picks the weather. Draws a fault mix from `prng` (loss up to 10%,
 * duplicates up to 5%, a random delay profile, and automatic partitions and clogs in about
 * half of the runs each), so no single mix is over-tuned.
 */
export function swarmNetworkFaults(prng: Prng): NetworkFaults {
  const minDelayTicks = prng.int(1, 4)
  const partitions = prng.chance(0.5)
  const clogs = prng.chance(0.5)
  return {
    dropProbability: prng.chance(0.2) ? 0 : prng.float() * 0.1,
    duplicateProbability: prng.chance(0.3) ? 0 : prng.float() * 0.05,
    minDelayTicks,
    meanExtraDelayTicks: prng.float() * 10,
    maxDelayTicks: minDelayTicks + prng.int(20, 200),
    pathCapacity: prng.int(8, 256),
    autoPartition: partitions
      ? {
          probability: prng.float() * 0.02,
          healProbability: 0.01 + prng.float() * 0.1,
          stabilityTicks: prng.int(10, 200),
          asymmetricProbability: prng.float() * 0.5,
          modes: ['uniform-size', 'uniform-partition', 'isolate-single'],
        }
      : undefined,
    autoClog: clogs ? { probability: prng.float() * 0.002, meanTicks: prng.int(5, 100) } : undefined,
  }
}
