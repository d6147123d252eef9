/**
 * Advisory locks (flock-style, cluster-wide): a table keyed by inode, each entry holding the
 * granted locks and a FIFO queue of waiters. Locks belong to client sessions: a lock lives
 * until it is unlocked or its session closes or expires, so a crashed holder blocks others
 * only until its session times out.
 *
 * Fair ordering: a request is granted at once only when it is compatible with the holders AND
 * nobody waits; otherwise it queues. When locks are released the queue is granted from its
 * head while the head is compatible: a run of shared waiters is granted together, an exclusive
 * waiter only alone, and a shared request behind a queued exclusive one waits for it.
 *
 * Entries are immutable once stored (the table is a copy-on-write tree shared with snapshots);
 * every change stores a new entry. Checks come first, so a refused request changes nothing.
 */
import { TesseraError, type LockMode, type LockReply, type LockRequest } from '@tessera/protocol'
import type { BTree } from './btree.js'

export interface LockHolder {
  readonly session: string
  /** The Raft index of the lock request (its id in replies and grants). */
  readonly id: number
  readonly mode: LockMode
}

export interface LockEntry {
  readonly holders: readonly LockHolder[]
  readonly waiters: readonly LockHolder[]
}

/** A queued lock that became held. */
export interface LockGrant {
  ino: number
  session: string
  lockId: number
  mode: LockMode
}

export type LockTable = BTree<number, LockEntry>

/** Where lock `id` on `ino` stands now. */
export type LockState = 'held' | 'queued' | 'none'

function compatible(holders: readonly LockHolder[], mode: LockMode): boolean {
  if (holders.length === 0) return true
  return mode === 'shared' && holders.every((h) => h.mode === 'shared')
}

/** Grants waiters from the head of the queue while they are compatible with the holders. */
function promote(ino: number, entry: LockEntry, grants: LockGrant[]): LockEntry {
  let holders = entry.holders
  let first = 0
  while (first < entry.waiters.length && compatible(holders, entry.waiters[first]!.mode)) {
    const w = entry.waiters[first]!
    holders = [...holders, w]
    grants.push({ ino, session: w.session, lockId: w.id, mode: w.mode })
    first++
  }
  return first === 0 ? entry : { holders, waiters: entry.waiters.slice(first) }
}

function store(table: LockTable, ino: number, entry: LockEntry): void {
  if (entry.holders.length === 0 && entry.waiters.length === 0) table.delete(ino)
  else table.set(ino, entry)
}

/**
 * The lock request `id` (its Raft index) of `session`. The caller has checked that the inode
 * exists. Throws EDEADLK (the session already has a lock on it), EAGAIN (busy and !wait).
 */
export function acquireLock(table: LockTable, session: string, id: number, req: LockRequest): LockReply {
  const entry = table.get(req.ino) ?? { holders: [], waiters: [] }
  if (entry.holders.some((h) => h.session === session) || entry.waiters.some((w) => w.session === session)) {
    throw new TesseraError('EDEADLK', `this session already has a lock on inode ${req.ino}`)
  }
  const lock: LockHolder = { session, id, mode: req.mode }
  if (entry.waiters.length === 0 && compatible(entry.holders, req.mode)) {
    store(table, req.ino, { holders: [...entry.holders, lock], waiters: entry.waiters })
    return { granted: true, lockId: id }
  }
  if (!req.wait) throw new TesseraError('EAGAIN', `inode ${req.ino} is locked`)
  store(table, req.ino, { holders: entry.holders, waiters: [...entry.waiters, lock] })
  return { granted: false, lockId: id }
}

/** Drops `session`'s lock on `ino` (held or queued); ENOLCK when it has none. */
export function releaseLock(table: LockTable, session: string, ino: number): LockGrant[] {
  const entry = table.get(ino)
  const mine = (l: LockHolder) => l.session === session
  if (entry === undefined || !(entry.holders.some(mine) || entry.waiters.some(mine))) {
    throw new TesseraError('ENOLCK', `this session holds no lock on inode ${ino}`)
  }
  const grants: LockGrant[] = []
  const next = promote(ino, { holders: entry.holders.filter((l) => !mine(l)), waiters: entry.waiters.filter((l) => !mine(l)) }, grants)
  store(table, ino, next)
  return grants
}

/** Drops every lock of the given sessions (closed or expired); returns the grants that follow. */
export function releaseSessions(table: LockTable, sessions: ReadonlySet<string>): LockGrant[] {
  if (sessions.size === 0 || table.size === 0) return []
  const gone = (l: LockHolder) => sessions.has(l.session)
  const changed: [number, LockEntry][] = []
  for (const [ino, entry] of table.entries()) {
    if (entry.holders.some(gone) || entry.waiters.some(gone)) {
      changed.push([ino, { holders: entry.holders.filter((l) => !gone(l)), waiters: entry.waiters.filter((l) => !gone(l)) }])
    }
  }
  const grants: LockGrant[] = []
  for (const [ino, entry] of changed) store(table, ino, promote(ino, entry, grants))
  return grants
}

export function lockState(table: LockTable, ino: number, id: number): LockState {
  const entry = table.get(ino)
  if (entry === undefined) return 'none'
  if (entry.holders.some((h) => h.id === id)) return 'held'
  return entry.waiters.some((w) => w.id === id) ? 'queued' : 'none'
}

/** Checks a restored entry: modes, distinct sessions, and a queue whose head cannot be granted. */
export function validLockEntry(entry: LockEntry): boolean {
  const all = [...entry.holders, ...entry.waiters]
  if (all.length === 0) return false
  if (new Set(all.map((l) => l.session)).size !== all.length) return false
  if (entry.holders.some((h) => h.mode === 'exclusive') && entry.holders.length > 1) return false
  const head = entry.waiters[0]
  return head === undefined || !compatible(entry.holders, head.mode)
}
