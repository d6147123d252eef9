/**
 * The state machine's tables. Everything lives in copy-on-write B+ trees, so a snapshot is an
 * O(1) clone of each (see snapshot.ts); values are never mutated once stored.
 *
 * - inodes: inode number -> Inode
 * - entries: dentryKey(parent, name) -> child inode number. The key is the parent's number in
 *   base 36, a NUL, then the name: a directory's entries are contiguous and ordered by name
 *   (UTF-16 order), which is readdir's stable order.
 * - refs: block id -> how many pieces of files reference it
 * - unreferenced: block id -> when (ms, command time) it lost its last reference, or, for a
 *   block no file ever referenced (an orphan), when meta first heard of a copy of it; a block
 *   referenced again leaves this table. GC retires blocks from it (see gc.ts).
 * - sessions: client session id -> Session
 * - locks: inode number -> LockEntry (advisory locks: holders and FIFO waiters; see locks.ts)
 * - chunkServers, locations, underReplicated: the cluster map (see cluster-map.ts)
 * - deleteOrders, retired: retired blocks that chunk servers still have to delete (see gc.ts)
 */
import type { MetaResult } from '@tessera/protocol'
import { numberTree, stringTree, type BTree } from './btree.js'
import type { ChunkServerRecord } from './cluster-map.js'
import type { Holders } from './holders.js'
import type { Inode } from './inode.js'
import { numberKey, numberKeyPrefix, splitNumberKey } from './number-key.js'
import type { LockEntry } from './locks.js'

export interface Session {
  readonly lastSeq: number
  /** The reply to lastSeq, replayed for a duplicate; undefined before the first request. */
  readonly lastReply: MetaResult | undefined
  /** Command time (ms) of the session's last request or refresh. */
  readonly lastActiveMs: number
}

/** Derived totals, kept up to date by Tx.commit and recomputed on restore. */
export interface Counters {
  inodes: number
  files: number
  dirs: number
  symlinks: number
  /** Sum of regular files' sizes. */
  bytes: number
  /** Distinct referenced blocks and their bytes. */
  blocks: number
  blockBytes: number
}

export function zeroCounters(): Counters {
  return { inodes: 0, files: 0, dirs: 0, symlinks: 0, bytes: 0, blocks: 0, blockBytes: 0 }
}

export interface Tables {
  inodes: BTree<number, Inode>
  entries: BTree<string, number>
  refs: BTree<string, number>
  unreferenced: BTree<string, number>
  sessions: BTree<string, Session>
  locks: BTree<number, LockEntry>
  chunkServers: BTree<number, ChunkServerRecord>
  /** Packed server sets (holders.ts). */
  locations: BTree<string, Holders>
  underReplicated: BTree<string, number>
  deleteOrders: BTree<string, number>
  /** Derived from deleteOrders; not in snapshots. */
  retired: BTree<string, number>
  counters: Counters
  /** Raft index of the last command applied (0: none since format). */
  appliedIndex: number
}

export function emptyTables(): Tables {
  return {
    inodes: numberTree(),
    entries: stringTree(),
    refs: stringTree(),
    unreferenced: stringTree(),
    sessions: stringTree(),
    locks: numberTree(),
    chunkServers: numberTree(),
    locations: stringTree(),
    underReplicated: stringTree(),
    deleteOrders: stringTree(),
    retired: stringTree(),
    counters: zeroCounters(),
    appliedIndex: 0,
  }
}

/** The O(1) copy-on-write view a snapshot serializes while the live tables keep changing. */
export function cloneTables(t: Tables): Tables {
  return {
    inodes: t.inodes.clone(),
    entries: t.entries.clone(),
    refs: t.refs.clone(),
    unreferenced: t.unreferenced.clone(),
    sessions: t.sessions.clone(),
    locks: t.locks.clone(),
    chunkServers: t.chunkServers.clone(),
    locations: t.locations.clone(),
    underReplicated: t.underReplicated.clone(),
    deleteOrders: t.deleteOrders.clone(),
    retired: t.retired.clone(),
    counters: { ...t.counters },
    appliedIndex: t.appliedIndex,
  }
}

/** The prefix shared by every entry key of directory `parent`. */
export const dirPrefix: (parent: number) => string = numberKeyPrefix

export const dentryKey: (parent: number, name: string) => string = numberKey

/** Splits an entry key back into (parent, name). */
export const splitDentryKey: (key: string) => [parent: number, name: string] = splitNumberKey
