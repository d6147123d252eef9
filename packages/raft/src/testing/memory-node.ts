/**
 * A RaftCore driven synchronously with an in-memory "durable" store, following the driver
 * contract exactly (persist, send, apply, advance). For scenario tests: everything a Ready asks
 * to persist is durable at once, so restart() models a crash after a completed fsync.
 */
import { EntryKind, type Entry, type HardState, type RaftMessage, type Snapshot } from '@tessera/protocol'
import { RaftCore, type InitialState, type RaftConfig, type ReadState, type Ready, type SoftState } from '../core/index.js'

export interface DurableState {
  hardState: HardState
  snapshot?: Snapshot
  /** Entries after the snapshot, in order. */
  entries: Entry[]
}

/** splitmix32: a tiny deterministic u32 source for tests that do not need @tessera/sim. */
export function seededRng(seed: number): { next(): number } {
  let s = seed >>> 0
  return {
    next(): number {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    },
  }
}

export const DEFAULT_TEST_CONFIG: Omit<RaftConfig, 'id' | 'rng'> = {
  electionTick: 10,
  heartbeatTick: 1,
  preVote: false,
  checkQuorum: false,
  maxInflightMsgs: 256,
  maxSizePerMsg: 1024 * 1024,
}

/** Persists a Ready into a durable image: suffix truncation from entries[0].index, snapshot replaces the log. */
export function persistReady(d: DurableState, rd: Ready): void {
  if (rd.snapshot !== undefined) {
    d.snapshot = rd.snapshot
    d.entries = d.entries.filter((e) => e.index > rd.snapshot!.meta.index)
    if (d.entries.length > 0 && d.entries[0]!.index !== rd.snapshot.meta.index + 1) d.entries = []
  }
  if (rd.entries.length > 0) {
    const first = rd.entries[0]!.index
    d.entries = d.entries.filter((e) => e.index < first).concat(rd.entries)
  }
  if (rd.hardState !== undefined) d.hardState = rd.hardState
}

export class MemoryNode {
  readonly id: string
  core: RaftCore
  readonly durable: DurableState
  /** Entries the application applied since its last restore, in order. */
  applied: Entry[] = []
  /** The snapshot the application state was last restored from, if any. */
  restoredFrom: Snapshot | undefined
  readStates: ReadState[] = []
  softState: SoftState = { role: 'follower', leader: '' }
  readonly config: RaftConfig

  constructor(config: RaftConfig, initial: InitialState) {
    this.id = config.id
    this.config = config
    this.durable = { hardState: { ...initial.hardState }, entries: initial.entries.slice() }
    if (initial.snapshot !== undefined) this.durable.snapshot = initial.snapshot
    this.core = RaftCore.create(config, initial)
    this.restoredFrom = initial.snapshot
  }

  /** Runs Ready cycles until there is nothing left; returns the messages to send (in the order the contract allows). */
  process(): RaftMessage[] {
    const out: RaftMessage[] = []
    while (this.core.hasReady()) {
      const rd = this.core.ready()
      out.push(...rd.messages)
      persistReady(this.durable, rd)
      if (rd.snapshot !== undefined) {
        this.restoredFrom = rd.snapshot
        this.applied = []
      }
      out.push(...rd.messagesAfterPersist)
      this.applied.push(...rd.committedEntries)
      this.readStates.push(...rd.readStates)
      if (rd.softState !== undefined) this.softState = rd.softState
      this.core.advance(rd)
    }
    return out
  }

  /** Data of the applied normal, non-empty entries (the application's view). */
  appliedData(): string[] {
    return this.applied.filter((e) => e.kind === EntryKind.Normal && e.data.length > 0).map((e) => new TextDecoder().decode(e.data))
  }

  /** The application snapshots its state at the applied index and asks the core to compact. */
  takeSnapshot(data: Uint8Array = new Uint8Array(0), keepEntries = 0): Snapshot {
    const st = this.core.status()
    const term = this.core.termAt(st.applied)
    if (term === undefined) throw new Error(`no term at applied index ${st.applied}`)
    const snapshot: Snapshot = { meta: { index: st.applied, term, conf: st.conf }, data }
    this.durable.snapshot = snapshot
    this.durable.entries = this.durable.entries.filter((e) => e.index > st.applied)
    this.core.compact(snapshot, keepEntries)
    return snapshot
  }

  /** Crash and restart from the durable image (the application state is rebuilt from the log). */
  restart(): void {
    const snap = this.durable.snapshot
    this.core = RaftCore.create(this.config, {
      hardState: { ...this.durable.hardState },
      conf: snap?.meta.conf ?? { voters: [], learners: [] },
      ...(snap !== undefined ? { snapshot: snap } : {}),
      entries: this.durable.entries.slice(),
      applied: snap?.meta.index ?? 0,
    })
    this.applied = []
    this.restoredFrom = snap
    this.readStates = []
    this.softState = { role: 'follower', leader: '' }
  }
}
