/**
 * What the leader knows about one follower (etcd's tracker.Progress):
 * - probe: we do not know where its log matches ours; send one append at a time and wait.
 * - replicate: it is in sync; stream appends optimistically, up to the inflights window.
 * - snapshot: its next entry is compacted away; stream the snapshot and send nothing else.
 */
import type { Snapshot } from '@tessera/protocol'
import { Inflights } from './inflights.js'

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/** An InstallSnapshot stream to one follower: one chunk in flight at a time. */
export interface SnapshotTransfer {
  snapshot: Snapshot
  /** Bytes the follower has acknowledged. */
  acked: number
  /** True while a chunk is sent and not yet answered. */
  chunkInFlight: boolean
  /** Heartbeat rounds since the chunk in flight was sent (it is resent after two). */
  heartbeatsSinceSend: number
}

export class Progress {
  match: number
  next: number
  state: ProgressState = 'probe'
  /** Probe state: an append was sent and no answer has come back yet. */
  probeSent = false
  /** Heard from since the last CheckQuorum round. */
  recentActive = false
  learner: boolean
  readonly inflights: Inflights
  transfer: SnapshotTransfer | undefined

  constructor(next: number, maxInflight: number, learner: boolean) {
    this.match = 0
    this.next = next
    this.learner = learner
    this.inflights = new Inflights(maxInflight)
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot's index.
    if (this.state === 'snapshot' && this.transfer !== undefined) {
      const snapIndex = this.transfer.snapshot.meta.index
      this.next = Math.max(this.match + 1, snapIndex + 1)
    } else {
      this.next = this.match + 1
    }
    this.resetState('probe')
  }

  becomeReplicate(): void {
    this.next = this.match + 1
    this.resetState('replicate')
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.resetState('snapshot')
    this.transfer = { snapshot, acked: 0, chunkInFlight: false, heartbeatsSinceSend: 0 }
  }

  private resetState(state: ProgressState): void {
    this.state = state
    this.probeSent = false
    this.transfer = undefined
    this.inflights.reset()
  }

  /** An acknowledgement up to `index`. Returns true when it moved `match` forward. */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (index > this.match) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /** After sending entries up to `last` in replicate state. */
  optimisticUpdate(last: number): void {
    this.next = last + 1
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; `probeFrom` is where the
   * conflict hints say to try next. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, probeFrom: number): boolean {
    if (this.state === 'replicate') {
      // Stale: the rejected append was below what is already matched.
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    // Probe: only the answer to the probe we sent (at next - 1) counts.
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, probeFrom + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  /** The leader may not send this follower more appends now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent
      case 'replicate': return this.inflights.full()
      case 'snapshot': return true
    }
  }
}
