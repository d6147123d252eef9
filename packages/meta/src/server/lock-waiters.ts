/**
 * Calls held open for queued locks: each waits for the apply that grants its lock (or for a
 * restore from a snapshot, after which every waiter looks at the state again), bounded by a
 * timeout. Waking only says "look again": the handler reads the lock's state itself.
 */
import type { LockGrant } from '../fsm/index.js'

export class LockWaiters {
  private readonly waiting = new Map<number, Set<() => void>>()

  /** Resolves when lock `lockId` may have changed, or after `timeoutMs`. */
  wait(lockId: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiting.get(lockId)
      if (set === undefined) this.waiting.set(lockId, (set = new Set()))
      const wake = (): void => {
        clearTimeout(timer)
        set.delete(wake)
        if (set.size === 0 && this.waiting.get(lockId) === set) this.waiting.delete(lockId)
        resolve()
      }
      const timer = setTimeout(wake, Math.max(0, timeoutMs))
      set.add(wake)
    })
  }

  notify(grants: readonly LockGrant[]): void {
    for (const grant of grants) {
      for (const wake of [...(this.waiting.get(grant.lockId) ?? [])]) wake()
    }
  }

  wakeAll(): void {
    for (const set of [...this.waiting.values()]) for (const wake of [...set]) wake()
  }

  /** Calls waiting now (for tests and metrics). */
  get size(): number {
    let n = 0
    for (const set of this.waiting.values()) n += set.size
    return n
  }
}
