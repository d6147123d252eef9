/**
 * Raft's safety properties (Figure 3 of the paper), checked from the outside on real cores
 * after every simulated step:
 * - Election Safety: at most one leader per term.
 * - Log Matching: two logs holding an entry with the same index and term hold the same entry
 *   there and agree on every entry before it.
 * - Leader Completeness: an entry committed in some term is in the log of every leader of a
 *   later term.
 * - State Machine Safety: no two nodes apply different entries at one index (across restarts too).
 */
import type { Entry, NodeId } from '@tessera/protocol'
import type { RaftCore } from '../core/index.js'

export type Property = 'election-safety' | 'log-matching' | 'leader-completeness' | 'state-machine-safety'

export interface Violation {
  property: Property
  detail: string
}

interface Known {
  term: number
  data: Uint8Array
  /** Who it was first seen at, for explanations. */
  node: NodeId
}

interface CommittedKnown extends Known {
  /** An upper bound on the term in which it was committed (the observer's term at the time). */
  byTerm: number
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function show(e: { term: number; data: Uint8Array }): string {
  const text = new TextDecoder().decode(e.data.subarray(0, 60))
  return `(term ${e.term}, ${JSON.stringify(text)})`
}

export class RaftInvariants {
  private readonly leaders = new Map<number, NodeId>()
  /** Leaders already checked for completeness: "id@term". */
  private readonly checkedLeaders = new Set<string>()
  private readonly committed = new Map<number, CommittedKnown>()
  private readonly applied = new Map<number, Known>()
  /** Per node: the commit index up to which its committed entries were recorded. */
  private readonly recordedCommit = new Map<NodeId, number>()

  /** Call when a node restarts: its commit index may go back. */
  nodeRestarted(id: NodeId): void {
    this.recordedCommit.delete(id)
  }

  /** State Machine Safety: `node` applied `entry`. */
  onApply(node: NodeId, entry: Entry): Violation | undefined {
    const known = this.applied.get(entry.index)
    if (known === undefined) {
      this.applied.set(entry.index, { term: entry.term, data: entry.data, node })
      return undefined
    }
    if (known.term !== entry.term || !sameBytes(known.data, entry.data)) {
      return {
        property: 'state-machine-safety',
        detail: `${node} applied ${show(entry)} at index ${entry.index}, but ${known.node} applied ${show(known)} there`,
      }
    }
    return undefined
  }

  /** Election Safety, committed-entry records, and Leader Completeness for new leaders. */
  observe(nodes: ReadonlyArray<{ id: NodeId; core: RaftCore }>): Violation | undefined {
    for (const { id, core } of nodes) {
      const st = core.status()
      if (st.role === 'leader') {
        const other = this.leaders.get(st.term)
        if (other !== undefined && other !== id) {
          return { property: 'election-safety', detail: `${other} and ${id} are both leaders of term ${st.term}` }
        }
        this.leaders.set(st.term, id)
      }
      const from = Math.max(this.recordedCommit.get(id) ?? 0, st.firstIndex - 1)
      if (st.commit > from) {
        for (const e of core.entriesFrom(from + 1)) {
          if (e.index > st.commit) break
          const known = this.committed.get(e.index)
          if (known === undefined) {
            this.committed.set(e.index, { term: e.term, data: e.data, node: id, byTerm: st.term })
          } else if (known.term !== e.term || !sameBytes(known.data, e.data)) {
            return {
              property: 'leader-completeness',
              detail: `${id} committed ${show(e)} at index ${e.index}, but ${known.node} had committed ${show(known)} there`,
            }
          } else if (st.term < known.byTerm) {
            known.byTerm = st.term
          }
        }
        this.recordedCommit.set(id, st.commit)
      }
    }
    for (const { id, core } of nodes) {
      const st = core.status()
      if (st.role !== 'leader' || this.checkedLeaders.has(`${id}@${st.term}`)) continue
      this.checkedLeaders.add(`${id}@${st.term}`)
      for (const [index, known] of this.committed) {
        if (known.byTerm >= st.term || index < st.firstIndex) continue
        const term = core.termAt(index)
        if (term !== known.term) {
          return {
            property: 'leader-completeness',
            detail: `${id} leads term ${st.term} without the entry ${show(known)} committed at index ${index} (it has ${term === undefined ? 'nothing' : `term ${term}`} there)`,
          }
        }
      }
    }
    return undefined
  }

  /** Log Matching across every pair of logs (the costlier check; run it every few steps). */
  checkLogMatching(nodes: ReadonlyArray<{ id: NodeId; core: RaftCore }>): Violation | undefined {
    const logs = nodes.map(({ id, core }) => ({ id, first: core.status().firstIndex, entries: core.entriesFrom(core.status().firstIndex) }))
    for (let x = 0; x < logs.length; x++) {
      for (let y = x + 1; y < logs.length; y++) {
        const a = logs[x]!
        const b = logs[y]!
        const lo = Math.max(a.first, b.first)
        const hi = Math.min(a.first + a.entries.length, b.first + b.entries.length) - 1
        // The highest common index where the terms agree: everything from lo up to it must match.
        let top = -1
        for (let i = hi; i >= lo; i--) {
          if (a.entries[i - a.first]!.term === b.entries[i - b.first]!.term) {
            top = i
            break
          }
        }
        for (let i = lo; i <= top; i++) {
          const ea = a.entries[i - a.first]!
          const eb = b.entries[i - b.first]!
          if (ea.term !== eb.term || !sameBytes(ea.data, eb.data)) {
            return {
              property: 'log-matching',
              detail: `${a.id} and ${b.id} agree on term ${a.entries[top - a.first]!.term} at index ${top} but differ at ${i}: ${show(ea)} vs ${show(eb)}`,
            }
          }
        }
      }
    }
    return undefined
  }
}
