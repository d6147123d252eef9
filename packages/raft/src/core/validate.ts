/**
 * Semantic checks on a decoded message before the core acts on it. The codec has checked the
 * shape; this checks what the core relies on (addressing, index arithmetic, sizes). A message
 * that fails is dropped with a warning: untrusted input never throws out of step().
 */
import { LIMITS, type Entry, type NodeId, type RaftMessage, type SnapshotMeta } from '@tessera/protocol'

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function checkEntries(prevIndex: number, term: number, entries: readonly Entry[]): string | undefined {
  if (!Array.isArray(entries)) return 'entries is not an array'
  if (entries.length > LIMITS.maxEntriesPerAppend) return `too many entries (${entries.length})`
  let lastTerm = 0
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!
    if (e.index !== prevIndex + 1 + k) return `entry ${k} has index ${e.index}, expected ${prevIndex + 1 + k}`
    if (!isIndex(e.term) || e.term > term || e.term < lastTerm) return `entry ${e.index} has bad term ${e.term}`
    if (e.kind !== 0 && e.kind !== 1) return `entry ${e.index} has bad kind`
    if (!(e.data instanceof Uint8Array)) return `entry ${e.index} data is not bytes`
    lastTerm = e.term
  }
  return undefined
}

function checkMeta(meta: SnapshotMeta): string | undefined {
  if (typeof meta !== 'object' || meta === null) return 'snapshot meta missing'
  if (!isIndex(meta.index) || !isIndex(meta.term) || meta.index === 0) return 'snapshot meta index/term invalid'
  if (!Array.isArray(meta.conf?.voters) || !Array.isArray(meta.conf?.learners)) return 'snapshot conf invalid'
  if (meta.conf.voters.length + meta.conf.learners.length > LIMITS.maxMembers) return 'snapshot conf too large'
  return undefined
}

/** Why `m` cannot be stepped by node `self`, or undefined when it is acceptable. */
export function invalidReason(self: NodeId, m: RaftMessage): string | undefined {
  if (m.to !== self) return `addressed to ${String(m.to)}`
  if (typeof m.from !== 'string' || m.from.length === 0 || m.from === self) return 'bad sender'
  if (!isIndex(m.term)) return 'bad term'
  switch (m.type) {
    case 'vote':
    case 'preVote':
      if (!isIndex(m.lastLogIndex) || !isIndex(m.lastLogTerm) || m.lastLogTerm > m.term) return 'bad last log position'
      return undefined
    case 'voteResp':
    case 'preVoteResp':
    case 'timeoutNow':
      return undefined
    case 'append':
      if (!isIndex(m.prevIndex) || !isIndex(m.prevTerm) || !isIndex(m.commit) || m.prevTerm > m.term) return 'bad append position'
      return checkEntries(m.prevIndex, m.term, m.entries)
    case 'appendResp':
      if (!isIndex(m.index) || !isIndex(m.hintIndex) || !isIndex(m.hintTerm)) return 'bad append response'
      return undefined
    case 'heartbeat':
      if (!isIndex(m.commit)) return 'bad heartbeat commit'
      if (!(m.context instanceof Uint8Array)) return 'bad heartbeat context'
      return undefined
    case 'heartbeatResp':
      if (!(m.context instanceof Uint8Array)) return 'bad heartbeat context'
      return undefined
    case 'snapshot':
      if (!isIndex(m.offset)) return 'bad snapshot offset'
      if (!(m.data instanceof Uint8Array) || m.data.length > LIMITS.maxSnapshotChunkBytes) return 'bad snapshot chunk'
      if (m.meta?.term > m.term) return 'snapshot term above message term'
      return checkMeta(m.meta)
    case 'snapshotResp':
      if (!isIndex(m.snapshotIndex) || !isIndex(m.nextOffset)) return 'bad snapshot response'
      return undefined
    default: {
      // Exhaustive at compile time; at run time an unknown kind is untrusted input, not a crash.
      const unknown: never = m
      return `unknown message type ${String((unknown as { type?: unknown }).type)}`
    }
  }
}
