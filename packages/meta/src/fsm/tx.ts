/**
 * One command's changes, staged and then committed at once. Operations read through the Tx
 * (they see their own staged changes), check everything first, stage their changes, and the
 * namespace commits only when the operation returns: a failed check leaves no trace.
 *
 * Commit also does the bookkeeping every operation would otherwise repeat: counters and block
 * reference counts follow from comparing each changed inode before and after.
 */
import { TesseraError, type Timespec } from '@tessera/protocol'
import { blockIdsOf, parseBlockId } from './block-list.js'
import type { Inode } from './inode.js'
import { dentryKey, dirPrefix, type Counters, type Tables } from './tables.js'

export class Tx {
  private readonly inodeEdits = new Map<number, Inode | null>()
  /** Inodes created or copied by this Tx: not shared with the tables, safe to change. */
  private readonly owned = new Set<Inode>()
  private readonly entryEdits = new Map<string, number | null>()

  constructor(
    private readonly tables: Tables,
    /** The command's time, chosen by the leader. */
    readonly time: Timespec,
  ) {}

  get(ino: number): Inode | undefined {
    const staged = this.inodeEdits.get(ino)
    if (staged !== undefined) return staged ?? undefined
    return this.tables.inodes.get(ino)
  }

  /** The inode, or ENOENT. */
  need(ino: number): Inode {
    const inode = ino >= 1 ? this.get(ino) : undefined
    if (inode === undefined) throw new TesseraError('ENOENT', `no inode ${ino}`)
    return inode
  }

  /** The directory, or ENOENT / ENOTDIR. */
  needDir(ino: number): Inode {
    const inode = this.need(ino)
    if (!inode.isDir()) throw new TesseraError('ENOTDIR', `inode ${ino} is not a directory`)
    return inode
  }

  /** A private copy of the inode to change; stays staged until commit. */
  edit(ino: number): Inode {
    const current = this.need(ino)
    if (this.owned.has(current)) return current
    const copy = current.copy()
    this.owned.add(copy)
    this.inodeEdits.set(ino, copy)
    return copy
  }

  add(ino: number, inode: Inode): void {
    if (this.get(ino) !== undefined) throw new Error(`inode ${ino} already exists`)
    this.owned.add(inode)
    this.inodeEdits.set(ino, inode)
  }

  remove(ino: number): void {
    this.inodeEdits.set(ino, null)
  }

  lookup(parent: number, name: string): number | undefined {
    const key = dentryKey(parent, name)
    const staged = this.entryEdits.get(key)
    if (staged !== undefined) return staged ?? undefined
    return this.tables.entries.get(key)
  }

  link(parent: number, name: string, ino: number): void {
    this.entryEdits.set(dentryKey(parent, name), ino)
  }

  unlink(parent: number, name: string): void {
    this.entryEdits.set(dentryKey(parent, name), null)
  }

  /** Whether directory `dir` has any entry (after this Tx's staged changes). */
  hasEntries(dir: number): boolean {
    const prefix = dirPrefix(dir)
    for (const [key, ino] of this.entryEdits) if (ino !== null && key.startsWith(prefix)) return true
    for (const key of this.tables.entries.keys(prefix)) {
      if (!key.startsWith(prefix)) return false
      if (this.entryEdits.get(key) !== null) return true
    }
    return false
  }

  /**
   * Applies the staged changes. Returns the block ids that lost their last reference, in a
   * deterministic order (the order the changes were staged).
   */
  commit(): string[] {
    const t = this.tables
    const refDeltas = new Map<string, number>()
    for (const [ino, next] of this.inodeEdits) {
      const prev = t.inodes.get(ino)
      adjustCounters(t.counters, prev, -1)
      adjustCounters(t.counters, next ?? undefined, 1)
      const prevBlocks = prev?.isFile() === true ? (prev.data as string) : ''
      const nextBlocks = next?.isFile() === true ? (next.data as string) : ''
      if (prevBlocks !== nextBlocks) {
        for (const id of blockIdsOf(prevBlocks)) refDeltas.set(id, (refDeltas.get(id) ?? 0) - 1)
        // A new id is inserted into `refs` as the very string the file holds, when they are equal.
        for (const id of blockIdsOf(nextBlocks)) refDeltas.set(id, (refDeltas.get(id) ?? 0) + 1)
      }
      if (next === null) t.inodes.delete(ino)
      else t.inodes.set(ino, next)
    }
    for (const [key, ino] of this.entryEdits) {
      if (ino === null) t.entries.delete(key)
      else t.entries.set(key, ino)
    }
    const released: string[] = []
    const nowMs = this.time.sec * 1000 + Math.floor(this.time.nsec / 1e6)
    for (const [id, delta] of refDeltas) {
      if (delta === 0) continue
      const before = t.refs.get(id) ?? 0
      const after = before + delta
      if (after < 0) throw new Error(`block ${id}: reference count would go negative`)
      const len = parseBlockId(id).len
      if (after === 0) {
        t.refs.delete(id)
        t.unreferenced.set(id, nowMs)
        t.counters.blocks--
        t.counters.blockBytes -= len
        released.push(id)
      } else {
        t.refs.set(id, after)
        if (before === 0) {
          t.unreferenced.delete(id)
          t.counters.blocks++
          t.counters.blockBytes += len
        }
      }
    }
    return released
  }
}

function adjustCounters(c: Counters, inode: Inode | undefined, sign: 1 | -1): void {
  if (inode === undefined) return
  c.inodes += sign
  if (inode.isFile()) {
    c.files += sign
    c.bytes += sign * inode.size
  } else if (inode.isDir()) c.dirs += sign
  else c.symlinks += sign
}
