import { type ConfState, type Entry, EntryKind, type HardState, LIMITS, type SnapshotMeta } from '@tessera/protocol'

/**
 * Shape checks shared by the write path (what the driver hands us) and the read path (what
 * the disk hands back). Each returns a reason when the value is wrong, undefined when right.
 */

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && Buffer.byteLength(value) <= LIMITS.maxNodeIdBytes
}

export function hardStateProblem(hs: HardState): string | undefined {
  if (!isIndex(hs.term)) return `bad hard state term ${String(hs.term)}`
  if (!isIndex(hs.commit)) return `bad hard state commit ${String(hs.commit)}`
  if (!isNodeId(hs.vote)) return 'bad hard state vote'
  return undefined
}

const KINDS: ReadonlySet<unknown> = new Set(Object.values(EntryKind))

/** Entries must be non-empty, well formed and contiguous. */
export function entriesProblem(entries: readonly Entry[]): string | undefined {
  if (entries.length === 0) return 'no entries'
  const first = entries[0]!.index
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    if (!isIndex(entry.index) || entry.index !== first + i || entry.index === 0) {
      return `entry ${i} has index ${String(entry.index)}, expected ${first + i}`
    }
    if (!isIndex(entry.term)) return `entry ${entry.index} has bad term ${String(entry.term)}`
    if (!KINDS.has(entry.kind)) return `entry ${entry.index} has bad kind ${String(entry.kind)}`
    if (!(entry.data instanceof Uint8Array)) return `entry ${entry.index} has no data bytes`
  }
  return undefined
}

export function confStateProblem(conf: ConfState): string | undefined {
  for (const list of [conf.voters, conf.learners]) {
    if (!Array.isArray(list) || list.length > LIMITS.maxMembers) return 'bad member list'
    if (!list.every((id) => isNodeId(id) && id !== '')) return 'bad member id'
  }
  return undefined
}

export function snapshotMetaProblem(meta: SnapshotMeta): string | undefined {
  if (!isIndex(meta.index) || meta.index === 0) return `bad snapshot index ${String(meta.index)}`
  if (!isIndex(meta.term)) return `bad snapshot term ${String(meta.term)}`
  return confStateProblem(meta.conf)
}
