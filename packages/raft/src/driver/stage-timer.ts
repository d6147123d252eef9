/**
 * StageTimer: where a proposal's commit latency goes. It follows one proposal at a time (the
 * next one proposed after the previous finished), so its cost stays a few comparisons per
 * Ready whatever the load, and records the time from propose() to each stage:
 *
 *   leader:   persisted (its own WAL write done), sent (first append carrying it handed to the
 *             transport), acked (first follower ack covering it), allAcked (every follower
 *             acked it), committed (handed out as committed), applied (applied here; the
 *             proposal resolves)
 *   follower: from receiving the append that carries a followed entry to persisted, and to
 *             acked (the ack handed to the transport)
 *
 * Each finished leader sample is also kept whole, so that report().tail can say where the
 * slowest commits (the top 2% by time to applied) lost their time, stage by stage.
 *
 * Off unless RaftNodeOptions.measureStages is set.
 */
import type { RaftMessage } from '@tessera/protocol'

export const LEADER_STAGES = ['persisted', 'sent', 'acked', 'allAcked', 'committed', 'applied'] as const
export const FOLLOWER_STAGES = ['persisted', 'acked'] as const
export type LeaderStage = (typeof LEADER_STAGES)[number]
export type FollowerStage = (typeof FOLLOWER_STAGES)[number]

export interface StageSummary {
  count: number
  p50Ms: number
  p99Ms: number
  meanMs: number
}

export interface StageReport {
  /** Milliseconds from propose() to each stage, on the leader. */
  leader: Partial<Record<LeaderStage, StageSummary>>
  /** Milliseconds from receiving an append to each stage, on a follower. */
  follower: Partial<Record<FollowerStage, StageSummary>>
  /** Where the slowest leader commits went; present once a leader sample finished. */
  tail?: TailBreakdown
}

/**
 * What held up a slow commit, judged from its stage times (the first that applies):
 *   send:          the first append left late (event-loop delay before the transport write)
 *   ownWrite:      every follower had acked, yet the commit waited for the leader's own write
 *   quorumWrites:  the quorum's durable copies came late: the leader's write and the followers'
 *                  acks (their writes, the delivery, or their event loops) were all slow
 *   commitNotice:  a quorum had it in time, but it was handed out as committed late (the loop
 *                  was busy: a long task, GC, a timer)
 *   apply:         committed in time, applied late
 */
export const TAIL_CAUSES = ['send', 'ownWrite', 'quorumWrites', 'commitNotice', 'apply'] as const
export type TailCause = (typeof TAIL_CAUSES)[number]

export interface TailBreakdown {
  /** Finished leader samples, and how many of them form the tail (the slowest 2%, at least 1). */
  samples: number
  tailCount: number
  /** The fastest time to applied within the tail. */
  thresholdMs: number
  /** Mean milliseconds from propose() to each stage over the tail's commits. */
  meanMs: Partial<Record<LeaderStage, number>>
  /** How many tail commits each cause explains (see TailCause). */
  causes: Record<TailCause, number>
}

/** Samples kept per stage (the newest win). */
const MAX_SAMPLES = 20_000
/** A followed entry that has not finished after this long (lost, replaced) is given up. */
const GIVE_UP_MS = 2000
/** The share of the slowest commits that report().tail describes. */
const TAIL_SHARE = 0.02
/** A stage later than the one before it by more than this counts as having held the commit up. */
const LATE_MS = 0.5

interface Followed<S extends string> {
  index: number
  t0: number
  marked: Set<S>
  /** Milliseconds from t0 to each stage reached. */
  at: Partial<Record<S, number>>
  /** Followers whose ack covers the entry (leader only). */
  ackedBy?: Set<string>
}

type LeaderTimes = Partial<Record<LeaderStage, number>>

class Samples {
  private readonly values: number[] = []
  private next = 0

  add(ms: number): void {
    if (this.values.length < MAX_SAMPLES) this.values.push(ms)
    else this.values[this.next++ % MAX_SAMPLES] = ms
  }

  summary(): StageSummary | undefined {
    if (this.values.length === 0) return undefined
    const sorted = [...this.values].sort((a, b) => a - b)
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
    const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length
    return { count: sorted.length, p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), meanMs: round(mean) }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

export class StageTimer {
  private leaderEntry: Followed<LeaderStage> | undefined
  private followerEntry: Followed<FollowerStage> | undefined
  private leaderSamples = new Map<LeaderStage, Samples>()
  private followerSamples = new Map<FollowerStage, Samples>()
  /** Finished leader samples, whole (the newest MAX_SAMPLES). */
  private finished: LeaderTimes[] = []
  private nextFinished = 0

  /** `followers`: how many acks make allAcked (the group's size minus one; default 2). */
  constructor(private readonly now: () => number = () => performance.now(), private readonly followers = 2) {}

  /** The leader accepted a proposal at `index`. */
  proposed(index: number): void {
    if (this.leaderEntry !== undefined && this.now() - this.leaderEntry.t0 > GIVE_UP_MS) this.leaderEntry = undefined
    if (this.leaderEntry === undefined) this.leaderEntry = { index, t0: this.now(), marked: new Set(), at: {}, ackedBy: new Set() }
  }

  /** Messages received from peers. */
  received(messages: readonly RaftMessage[]): void {
    for (const m of messages) {
      if (m.type === 'appendResp') {
        const e = this.leaderEntry
        if (m.reject || e === undefined || m.index < e.index) continue
        this.markLeader('acked')
        e.ackedBy!.add(m.from)
        if (e.ackedBy!.size >= this.followers) this.markLeader('allAcked')
      } else if (m.type === 'append') {
        if (this.followerEntry !== undefined && this.now() - this.followerEntry.t0 > GIVE_UP_MS) this.followerEntry = undefined
        if (this.followerEntry !== undefined) continue
        const last = m.entries[m.entries.length - 1]
        if (last !== undefined) this.followerEntry = { index: last.index, t0: this.now(), marked: new Set(), at: {} }
      }
    }
  }

  /** Entries up to `lastIndex` are durable here. */
  persisted(lastIndex: number): void {
    if (this.leaderEntry !== undefined && lastIndex >= this.leaderEntry.index) this.markLeader('persisted')
    if (this.followerEntry !== undefined && lastIndex >= this.followerEntry.index) this.markFollower('persisted')
  }

  /** Messages handed to the transport. */
  sent(messages: readonly RaftMessage[]): void {
    for (const m of messages) {
      if (m.type === 'append') {
        const last = m.entries[m.entries.length - 1]
        if (last !== undefined && this.leaderEntry !== undefined && last.index >= this.leaderEntry.index) this.markLeader('sent')
      } else if (m.type === 'appendResp') {
        if (this.followerEntry !== undefined && m.index >= this.followerEntry.index) this.markFollower('acked')
      }
    }
  }

  committed(commit: number): void {
    if (this.leaderEntry !== undefined && commit >= this.leaderEntry.index) this.markLeader('committed')
  }

  applied(index: number): void {
    if (this.leaderEntry !== undefined && index >= this.leaderEntry.index) this.markLeader('applied')
  }

  /** Leadership changed: a followed proposal may never finish. */
  reset(): void {
    this.leaderEntry = undefined
    this.followerEntry = undefined
  }

  clear(): void {
    this.reset()
    this.leaderSamples = new Map()
    this.followerSamples = new Map()
    this.finished = []
    this.nextFinished = 0
  }

  report(): StageReport {
    const leader: StageReport['leader'] = {}
    const follower: StageReport['follower'] = {}
    for (const stage of LEADER_STAGES) {
      const s = this.leaderSamples.get(stage)?.summary()
      if (s !== undefined) leader[stage] = s
    }
    for (const stage of FOLLOWER_STAGES) {
      const s = this.followerSamples.get(stage)?.summary()
      if (s !== undefined) follower[stage] = s
    }
    const tail = tailOf(this.finished)
    return tail === undefined ? { leader, follower } : { leader, follower, tail }
  }

  private markLeader(stage: LeaderStage): void {
    const e = this.leaderEntry!
    if (e.marked.has(stage)) return
    e.marked.add(stage)
    const ms = this.now() - e.t0
    e.at[stage] = ms
    sampleOf(this.leaderSamples, stage).add(ms)
    if (stage !== 'applied') return
    this.leaderEntry = undefined
    if (this.finished.length < MAX_SAMPLES) this.finished.push(e.at)
    else this.finished[this.nextFinished++ % MAX_SAMPLES] = e.at
  }

  private markFollower(stage: FollowerStage): void {
    const e = this.followerEntry!
    if (e.marked.has(stage)) return
    e.marked.add(stage)
    const ms = this.now() - e.t0
    e.at[stage] = ms
    sampleOf(this.followerSamples, stage).add(ms)
    if (e.marked.size === FOLLOWER_STAGES.length) this.followerEntry = undefined
  }
}

function sampleOf<S>(map: Map<S, Samples>, stage: S): Samples {
  let s = map.get(stage)
  if (s === undefined) {
    s = new Samples()
    map.set(stage, s)
  }
  return s
}

function tailOf(finished: readonly LeaderTimes[]): TailBreakdown | undefined {
  if (finished.length === 0) return undefined
  const sorted = [...finished].sort((a, b) => (b.applied ?? 0) - (a.applied ?? 0))
  const tail = sorted.slice(0, Math.max(1, Math.ceil(finished.length * TAIL_SHARE)))
  const meanMs: Partial<Record<LeaderStage, number>> = {}
  for (const stage of LEADER_STAGES) {
    const values = tail.map((t) => t[stage]).filter((v): v is number => v !== undefined)
    if (values.length > 0) meanMs[stage] = round(values.reduce((s, v) => s + v, 0) / values.length)
  }
  const causes = Object.fromEntries(TAIL_CAUSES.map((c) => [c, 0])) as Record<TailCause, number>
  for (const t of tail) causes[causeOf(t)]++
  return { samples: finished.length, tailCount: tail.length, thresholdMs: round(tail[tail.length - 1]!.applied ?? 0), meanMs, causes }
}

/** The first stage that came late, in the order a commit goes through them (see TailCause). */
export function causeOf(t: LeaderTimes): TailCause {
  const committed = t.committed ?? t.applied ?? 0
  const applied = t.applied ?? committed
  const allAcked = t.allAcked ?? Infinity
  const persisted = t.persisted ?? Infinity
  // The earliest moment a quorum held it durably: every follower, or the leader and one follower.
  const quorum = Math.min(allAcked, Math.max(t.acked ?? Infinity, persisted))
  if ((t.sent ?? 0) > LATE_MS) return 'send'
  if (persisted !== Infinity && committed >= persisted && persisted > allAcked + LATE_MS) return 'ownWrite'
  if (applied - committed > LATE_MS) return 'apply'
  if (quorum !== Infinity && committed - quorum > LATE_MS) return 'commitNotice'
  return 'quorumWrites'
}
