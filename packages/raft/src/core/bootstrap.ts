/**
 * Start-up states. A group is founded by writing, on every founding member, two ConfChange
 * entries per founding member (addLearner, then promote) at indexes 1..2n in term 1, already
 * committed (as etcd's Bootstrap does); applying them yields the founding configuration. The
 * driver persists this state before creating the core, like a recovered log. Members added
 * later start from emptyState() and receive those entries (or a snapshot) from the leader.
 */
import { EntryKind, type Entry, type NodeId } from '@tessera/protocol'
import { encodeConfChange } from './confchange.js'
import type { InitialState } from './types.js'

export function bootstrapState(voters: readonly NodeId[]): InitialState {
  const ids = [...new Set(voters)].sort()
  if (ids.length === 0) throw new Error('raft: bootstrap needs at least one voter')
  const changes = ids.flatMap((node) => [{ type: 'addLearner' as const, node }, { type: 'promote' as const, node }])
  const entries: Entry[] = changes.map((cc, k) => ({
    term: 1,
    index: k + 1,
    kind: EntryKind.ConfChange,
    data: encodeConfChange(cc),
  }))
  return {
    hardState: { term: 1, vote: '', commit: entries.length },
    conf: { voters: [], learners: [] },
    entries,
    applied: 0,
  }
}

export function emptyState(): InitialState {
  return { hardState: { term: 0, vote: '', commit: 0 }, conf: { voters: [], learners: [] }, entries: [], applied: 0 }
}
