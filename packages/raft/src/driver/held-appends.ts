/**
 * HeldAppends: the leader's appends that carry no entries wait a moment before they leave.
 *
 * Once an entry commits, the core tells every follower the new commit index with an empty
 * append (etcd's bcastAppend), and each follower acks it: at one proposal in flight that is
 * half of all the messages, socket writes and wake-ups a commit costs. Neither the client's
 * answer (the leader applies on its own) nor safety depends on those notices arriving at once,
 * so they are held for up to `holdMs` and then:
 *   - dropped, when a later append to the same follower in the same term starts at or after
 *     the held one and carries at least its commit index (it says everything the notice said;
 *     for Raft a dropped message is a lost one, which it is built to survive);
 *   - otherwise sent along with the next messages to that follower, in the same frame;
 *   - or sent on their own when `holdMs` passes first.
 * Empty appends that probe a follower are delayed the same way, by at most `holdMs`.
 */
import type { AppendRequest, NodeId, RaftMessage } from '@tessera/protocol'

export class HeldAppends {
  private readonly held = new Map<NodeId, AppendRequest>()
  private timer: NodeJS.Timeout | undefined

  /** `due` is called with the held messages once they have waited `holdMs`. */
  constructor(private readonly holdMs: number, private readonly due: (messages: RaftMessage[]) => void) {}

  /** The messages to send now: `messages` without the empty appends, plus what they release. */
  pass(messages: readonly RaftMessage[]): RaftMessage[] {
    if (this.holdMs <= 0) return messages.slice()
    const out: RaftMessage[] = []
    for (const message of messages) {
      if (message.type === 'append' && message.entries.length === 0) {
        // A newer notice replaces an older one to the same follower (the older is then lost).
        this.held.set(message.to, message)
      } else {
        out.push(message)
      }
    }
    if (this.held.size > 0 && out.length > 0) this.release(out)
    if (this.held.size === 0) this.disarm()
    else this.timer ??= setTimeout(() => this.onDue(), this.holdMs)
    return out
  }

  /** Forgets what is held (the node stops). */
  clear(): void {
    this.held.clear()
    this.disarm()
  }

  /** How many notices wait (for tests). */
  get size(): number {
    return this.held.size
  }

  /** Held notices to followers that `out` already writes to: dropped when superseded, else put first. */
  private release(out: RaftMessage[]): void {
    const released: RaftMessage[] = []
    for (const [to, notice] of this.held) {
      let reaches = false
      let superseded = false
      for (const message of out) {
        if (message.to !== to) continue
        reaches = true
        if (
          message.type === 'append' && message.term === notice.term &&
          message.prevIndex >= notice.prevIndex && message.commit >= notice.commit
        ) {
          superseded = true
          break
        }
      }
      if (!reaches) continue
      this.held.delete(to)
      if (!superseded) released.push(notice)
    }
    if (released.length > 0) out.unshift(...released)
  }

  private onDue(): void {
    this.timer = undefined
    if (this.held.size === 0) return
    const messages = [...this.held.values()]
    this.held.clear()
    this.due(messages)
  }

  private disarm(): void {
    if (this.timer === undefined) return
    clearTimeout(this.timer)
    this.timer = undefined
  }
}
