/**
 * StageTimer: where a proposal's commit latency goes. It follows one proposal at a time (the
 * next one proposed after the previous finished), so its cost stays a few comparisons per
 * Ready whatever the load, and records the time from propose() to each stage:
 *
 *   leader:   persisted (its own WAL write done), sent (first append carrying it handed to the
 *             transport), acked (first follower ack covering it), committed (seen in a Ready),
 *             applied (applied here; the proposal resolves)
 *   follower: from receiving the append that carries a followed entry to persisted, and to
 *             acked (the ack handed to the transport)
 *
 * Off unless RaftNodeOptions.measureStages is set.
 */
import type { RaftMessage } from '@tessera/protocol'

export const LEADER_STAGES = ['persisted', 'sent', 'acked', 'committed', 'applied'] as const
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
}

/** Samples kept per stage (the newest win). */
const MAX_SAMPLES = 20_000
/** A followed entry that has not finished after this long (lost, replaced) is given up. */
const GIVE_UP_MS = 2000

interface Followed<S extends string> {
  index: number
  t0: number
  marked: Set<S>
}

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

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The leader accepted a proposal at `index`. */
  proposed(index: number): void {
    if (this.leaderEntry !== undefined && this.now() - this.leaderEntry.t0 > GIVE_UP_MS) this.leaderEntry = undefined
    if (this.leaderEntry === undefined) this.leaderEntry = { index, t0: this.now(), marked: new Set() }
  }

  /** Messages received from peers. */
  received(messages: readonly RaftMessage[]): void {
    for (const m of messages) {
      if (m.type === 'appendResp') {
        if (!m.reject && this.leaderEntry !== undefined && m.index >= this.leaderEntry.index) this.markLeader('acked')
      } else if (m.type === 'append') {
        if (this.followerEntry !== undefined && this.now() - this.followerEntry.t0 > GIVE_UP_MS) this.followerEntry = undefined
        if (this.followerEntry !== undefined) continue
        const last = m.entries[m.entries.length - 1]
        if (last !== undefined) this.followerEntry = { index: last.index, t0: this.now(), marked: new Set() }
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
    return { leader, follower }
  }

  private markLeader(stage: LeaderStage): void {
    const e = this.leaderEntry!
    if (e.marked.has(stage)) return
    e.marked.add(stage)
    sampleOf(this.leaderSamples, stage).add(this.now() - e.t0)
    if (stage === 'applied') this.leaderEntry = undefined
  }

  private markFollower(stage: FollowerStage): void {
    const e = this.followerEntry!
    if (e.marked.has(stage)) return
    e.marked.add(stage)
    sampleOf(this.followerSamples, stage).add(this.now() - e.t0)
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
