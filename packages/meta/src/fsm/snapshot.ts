/**
 * Snapshots: the writer serializes an O(1) copy-on-write view of the tables (taken when the
 * snapshot starts) in chunks the caller pulls one at a time, so the live namespace keeps
 * applying commands in between; the reader validates and rebuilds.
 *
 * Format: a sequence of msgpack chunks, each [section, payload]:
 *   ['header', {version, appliedIndex, options}]
 *   ['sessions', [[id, lastSeq, lastActiveMs, lastReply | null], ...]]        (0 or more chunks)
 *   ['inodes', [[ino, mode, uid, gid, nlink, size, atimeSec, atimeNsec, mtimeSec, mtimeNsec,
 *                ctimeSec, ctimeNsec, data, xattrs | null], ...]]
 *   ['entries', [[parent, name, ino], ...]]
 *   ['unreferenced', [[blockId, sinceMs], ...]]
 *   ['locks', [[ino, [[session, id, mode], ...holders], [[session, id, mode], ...waiters]], ...]]
 *   ['chunkServers', [[num, id, address, zone, capacityBytes, usedBytes, state], ...]]
 *   ['locations', [[blockId, [num, ...]], ...]]
 *   ['underReplicated', [[blockId, copies], ...]]
 *   ['deleteOrders', [[num, blockId, retiredAtMs], ...]]
 *   ['end', {sessions, inodes, entries, unreferenced, locks, chunkServers, locations, underReplicated, deleteOrders}]
 *   (record counts, checked on restore)
 * Version 1 (before locks) has no locks section and no locks count; it restores with no locks.
 * Versions 1 and 2 (before the cluster map) restore with an empty map and replication 3.
 * Versions 1 to 3 (before GC's delete orders) restore with none.
 * Sections come in this order; records in key order. Reference counts and counters are not
 * stored: restore derives them from the files' block lists, and `retired` from the delete orders.
 */
import { FileMode, TesseraError, type LockMode, type MetaResult } from '@tessera/protocol'
import { blockIdsOf, parseBlockId, checkBlockRefs, decodeBlocks, usedBytes } from './block-list.js'
import { BLOCK_ID } from './cluster-codec.js'
import { pack, unpack } from './codec.js'
import { packHolders, unpackHolders } from './holders.js'
import { Inode, type XattrList } from './inode.js'
import { validLockEntry, type LockEntry, type LockHolder } from './locks.js'
import type { NamespaceOptions } from './options.js'
import { deriveRetired, orderKey, splitOrderKey } from './gc.js'
import { dentryKey, emptyTables, splitDentryKey, type Session, type Tables } from './tables.js'

export const SNAPSHOT_VERSION = 4
const SECTIONS = [
  'header', 'sessions', 'inodes', 'entries', 'unreferenced', 'locks', 'chunkServers', 'locations', 'underReplicated',
  'deleteOrders', 'end',
] as const
const COUNTED = [
  'sessions', 'inodes', 'entries', 'unreferenced', 'locks', 'chunkServers', 'locations', 'underReplicated', 'deleteOrders',
] as const
/** Counts a snapshot of this version does not carry (their sections are absent, so 0). */
const ADDED_IN: Readonly<Record<(typeof COUNTED)[number], number>> = {
  sessions: 1, inodes: 1, entries: 1, unreferenced: 1, locks: 2, chunkServers: 3, locations: 3, underReplicated: 3, deleteOrders: 4,
}
const zeroCounts = (): Record<(typeof COUNTED)[number], number> => ({
  sessions: 0, inodes: 0, entries: 0, unreferenced: 0, locks: 0, chunkServers: 0, locations: 0, underReplicated: 0, deleteOrders: 0,
})
type Section = (typeof SECTIONS)[number]

/** A chunk holds about this many bytes (estimated before encoding) or this many records. */
const CHUNK_TARGET_BYTES = 256 * 1024
const CHUNK_MAX_RECORDS = 8192

/** Pulls snapshot chunks one at a time; the view it reads was fixed when it was created. */
export class SnapshotWriter implements IterableIterator<Uint8Array> {
  private readonly chunks: Generator<Uint8Array, void, undefined>

  constructor(view: Tables, options: Readonly<NamespaceOptions>) {
    this.chunks = writeChunks(view, options)
    this.appliedIndex = view.appliedIndex
  }

  /** The Raft index the snapshot covers. */
  readonly appliedIndex: number

  next(): IteratorResult<Uint8Array> {
    return this.chunks.next()
  }

  [Symbol.iterator](): IterableIterator<Uint8Array> {
    return this
  }
}

function* writeChunks(view: Tables, options: Readonly<NamespaceOptions>): Generator<Uint8Array, void, undefined> {
  yield pack(['header', { version: SNAPSHOT_VERSION, appliedIndex: view.appliedIndex, options: { ...options } }])
  const counts = zeroCounts()
  counts.sessions = yield* section('sessions', view.sessions.entries(), ([id, s]) => {
    const record = [id, s.lastSeq, s.lastActiveMs, s.lastReply ?? null]
    return [record, pack(record).byteLength]
  })
  counts.inodes = yield* section('inodes', view.inodes.entries(), ([ino, n]) => {
    let bytes = 64 + (typeof n.data === 'string' ? n.data.length : 0)
    for (const [name, value] of n.xattrs ?? []) bytes += name.length * 3 + value.byteLength + 8
    const record = [
      ino, n.mode, n.uid, n.gid, n.nlink, n.size, n.atimeSec, n.atimeNsec, n.mtimeSec, n.mtimeNsec,
      n.ctimeSec, n.ctimeNsec, n.data, n.xattrs ?? null,
    ]
    return [record, bytes]
  })
  counts.entries = yield* section('entries', view.entries.entries(), ([key, ino]) => {
    const [parent, name] = splitDentryKey(key)
    return [[parent, name, ino], 16 + name.length * 3]
  })
  counts.unreferenced = yield* section('unreferenced', view.unreferenced.entries(), ([id, since]) => [[id, since], 40])
  counts.locks = yield* section('locks', view.locks.entries(), ([ino, entry]) => {
    const encode = (l: LockHolder) => [l.session, l.id, l.mode]
    return [[ino, entry.holders.map(encode), entry.waiters.map(encode)], 64 * (entry.holders.length + entry.waiters.length)]
  })
  counts.chunkServers = yield* section('chunkServers', view.chunkServers.entries(), ([num, c]) =>
    [[num, c.id, c.address, c.zone, c.capacityBytes, c.usedBytes, c.state], 64 + c.id.length + c.address.length + c.zone.length])
  counts.locations = yield* section('locations', view.locations.entries(), ([id, holders]) => {
    const nums = unpackHolders(holders)
    return [[id, nums], 32 + 4 * nums.length]
  })
  counts.underReplicated = yield* section('underReplicated', view.underReplicated.entries(), ([id, copies]) => [[id, copies], 32])
  counts.deleteOrders = yield* section('deleteOrders', view.deleteOrders.entries(), ([key, atMs]) => {
    const [num, id] = splitOrderKey(key)
    return [[num, id, atMs], 48]
  })
  yield pack(['end', counts])
}

function* section<T>(
  name: Section,
  source: Iterable<T>,
  toRecord: (item: T) => [record: unknown, estimatedBytes: number],
): Generator<Uint8Array, number, undefined> {
  let records: unknown[] = []
  let bytes = 0
  let total = 0
  for (const item of source) {
    const [record, size] = toRecord(item)
    records.push(record)
    bytes += size
    total++
    if (bytes >= CHUNK_TARGET_BYTES || records.length >= CHUNK_MAX_RECORDS) {
      yield pack([name, records])
      records = []
      bytes = 0
    }
  }
  if (records.length > 0) yield pack([name, records])
  return total
}

// ---- Restore ---------------------------------------------------------------------------------

function corrupt(message: string): never {
  throw new TesseraError('PROTOCOL', `snapshot: ${message}`)
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)
const isNsec = (v: unknown): v is number => isUint(v) && v < 1e9

/** Rebuilds a namespace's tables from chunks pushed in order; finish() checks and completes. */
export class SnapshotReader {
  private readonly tables = emptyTables()
  private options: NamespaceOptions | undefined
  private stage = -1
  private version = SNAPSHOT_VERSION
  private readonly counts = zeroCounts()
  private ended = false

  push(chunk: Uint8Array): void {
    const decoded = unpack(chunk, 'snapshot chunk')
    if (!Array.isArray(decoded) || decoded.length !== 2) corrupt('chunk is not [section, payload]')
    const [name, payload] = decoded as [unknown, unknown]
    const stage = SECTIONS.indexOf(name as Section)
    if (stage < 0) corrupt('unknown section')
    if (this.ended || stage < this.stage || (this.stage < 0) !== (stage === 0) || (stage === 0 && this.stage === 0)) {
      corrupt(`section ${String(name)} out of order`)
    }
    this.stage = stage
    switch (SECTIONS[stage]!) {
      case 'header': return this.readHeader(payload)
      case 'end': return this.readEnd(payload)
      default:
        if (!Array.isArray(payload)) corrupt('records are not an array')
        for (const record of payload) this.readRecord(SECTIONS[stage]!, record)
    }
  }

  private readHeader(payload: unknown): void {
    const h = payload as { version?: unknown; appliedIndex?: unknown; options?: Record<string, unknown> } | null
    if (typeof h !== 'object' || h === null || !isUint(h.version) || h.version < 1 || h.version > SNAPSHOT_VERSION) corrupt('unsupported version')
    this.version = h.version
    if (!isUint(h.appliedIndex)) corrupt('bad applied index')
    const o = h.options
    if (typeof o !== 'object' || o === null) corrupt('no options')
    const { sessionTimeoutMs, maxLinks, maxBlockBytes, maxXattrBytesPerInode } = o
    const replication = o.replication ?? (this.version < 3 ? 3 : undefined)
    if (!isUint(sessionTimeoutMs) || !isUint(maxLinks) || !isUint(maxBlockBytes) || !isUint(maxXattrBytesPerInode) ||
      !isUint(replication) || replication < 1) {
      corrupt('bad options')
    }
    this.options = { sessionTimeoutMs, maxLinks, maxBlockBytes, maxXattrBytesPerInode, replication }
    this.tables.appliedIndex = h.appliedIndex
  }

  private readEnd(payload: unknown): void {
    const c = payload as Record<string, unknown> | null
    if (typeof c !== 'object' || c === null) corrupt('bad end')
    for (const key of COUNTED) {
      if (this.version < ADDED_IN[key] && c[key] === undefined && this.counts[key] === 0) continue
      if (c[key] !== this.counts[key]) corrupt(`${key}: ${this.counts[key]} records, end says ${String(c[key])}`)
    }
    this.ended = true
  }

  private readRecord(section: Section, record: unknown): void {
    if (!Array.isArray(record)) corrupt(`${section} record is not an array`)
    const t = this.tables
    switch (section) {
      case 'sessions': {
        const [id, lastSeq, lastActiveMs, reply] = record as unknown[]
        if (typeof id !== 'string' || id.length === 0 || !isUint(lastSeq) || !isInt(lastActiveMs)) corrupt('bad session')
        if (t.sessions.has(id)) corrupt('duplicate session')
        const session: Session = { lastSeq, lastActiveMs, lastReply: reply === null ? undefined : checkReply(reply) }
        t.sessions.set(id, session)
        this.counts.sessions++
        return
      }
      case 'inodes': {
        const [ino, inode] = readInode(record, this.options!)
        if (t.inodes.has(ino)) corrupt(`duplicate inode ${ino}`)
        t.inodes.set(ino, inode)
        this.counts.inodes++
        return
      }
      case 'entries': {
        const [parent, name, ino] = record as unknown[]
        if (!isUint(parent) || typeof name !== 'string' || name.length === 0 || !isUint(ino)) corrupt('bad entry')
        const key = dentryKey(parent, name)
        if (t.entries.has(key)) corrupt('duplicate entry')
        t.entries.set(key, ino)
        this.counts.entries++
        return
      }
      case 'unreferenced': {
        const [id, since] = record as unknown[]
        if (typeof id !== 'string' || !/^[0-9a-f]{17,24}$/.test(id) || !isInt(since)) corrupt('bad unreferenced block')
        t.unreferenced.set(id, since)
        this.counts.unreferenced++
        return
      }
      case 'locks': {
        const [ino, holders, waiters] = record as unknown[]
        if (!isUint(ino) || ino < 1 || t.locks.has(ino)) corrupt('bad lock entry')
        const entry: LockEntry = { holders: readLocks(holders, t.sessions), waiters: readLocks(waiters, t.sessions) }
        if (!validLockEntry(entry)) corrupt(`inconsistent locks on inode ${ino}`)
        t.locks.set(ino, entry)
        this.counts.locks++
        return
      }
      case 'chunkServers': {
        const [num, id, address, zone, capacityBytes, usedBytes, state] = record as unknown[]
        if (!isUint(num) || num !== t.chunkServers.size + 1 || typeof id !== 'string' || id === '' ||
          typeof address !== 'string' || typeof zone !== 'string' || !isUint(capacityBytes) || !isUint(usedBytes) ||
          (state !== 'up' && state !== 'down' && state !== 'draining')) {
          corrupt('bad chunk server')
        }
        t.chunkServers.set(num, { num, id, address, zone, capacityBytes, usedBytes, state })
        this.counts.chunkServers++
        return
      }
      case 'locations': {
        const [id, nums] = record as unknown[]
        if (typeof id !== 'string' || !BLOCK_ID.test(id) || !Array.isArray(nums) || nums.length === 0 ||
          !nums.every((n, i) => isUint(n) && t.chunkServers.has(n) && (i === 0 || n > nums[i - 1]))) {
          corrupt('bad block location')
        }
        t.locations.set(id, packHolders(nums as number[]))
        this.counts.locations++
        return
      }
      case 'underReplicated': {
        const [id, copies] = record as unknown[]
        if (typeof id !== 'string' || !BLOCK_ID.test(id) || !isUint(copies)) corrupt('bad under-replicated block')
        t.underReplicated.set(id, copies)
        this.counts.underReplicated++
        return
      }
      case 'deleteOrders': {
        const [num, id, atMs] = record as unknown[]
        if (!isUint(num) || !t.chunkServers.has(num) || typeof id !== 'string' || !BLOCK_ID.test(id) || !isInt(atMs)) {
          corrupt('bad delete order')
        }
        const key = orderKey(num, id)
        if (t.deleteOrders.has(key)) corrupt('duplicate delete order')
        t.deleteOrders.set(key, atMs)
        this.counts.deleteOrders++
        return
      }
      default:
        corrupt(`unexpected records in ${section}`)
    }
  }

  /** Checks the whole and derives what snapshots leave out; returns the tables and options. */
  finish(): { tables: Tables; options: NamespaceOptions } {
    if (!this.ended || this.options === undefined) corrupt('incomplete')
    const t = this.tables
    const root = t.inodes.get(1)
    if (root === undefined || !root.isDir()) corrupt('no root directory')
    for (const [key, ino] of t.entries.entries()) {
      const parent = t.inodes.get(splitDentryKey(key)[0])
      if (parent === undefined || !parent.isDir()) corrupt('entry in a missing directory')
      if (!t.inodes.has(ino)) corrupt('entry names a missing inode')
    }
    const refs = new Map<string, number>()
    const c = t.counters
    for (const [, inode] of t.inodes.entries()) {
      c.inodes++
      if (inode.isDir()) c.dirs++
      else if (inode.isSymlink()) c.symlinks++
      else {
        c.files++
        c.bytes += inode.size
        for (const id of blockIdsOf(inode.data as string)) refs.set(id, (refs.get(id) ?? 0) + 1)
      }
    }
    deriveRetired(t)
    for (const [id, count] of [...refs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (t.unreferenced.has(id)) corrupt('a referenced block is listed as unreferenced')
      if (t.retired.has(id)) corrupt('a referenced block has delete orders')
      t.refs.set(id, count)
      c.blocks++
      c.blockBytes += parseBlockId(id).len
    }
    return { tables: t, options: this.options }
  }
}

function readLocks(value: unknown, sessions: Tables['sessions']): LockHolder[] {
  if (!Array.isArray(value)) corrupt('bad lock list')
  return value.map((item: unknown) => {
    if (!Array.isArray(item) || item.length !== 3) corrupt('bad lock')
    const [session, id, mode] = item as unknown[]
    if (typeof session !== 'string' || !sessions.has(session)) corrupt('a lock of an unknown session')
    if (!isUint(id) || id < 1 || (mode !== 'shared' && mode !== 'exclusive')) corrupt('bad lock')
    return { session, id, mode: mode as LockMode }
  })
}

function checkReply(reply: unknown): MetaResult {
  const r = reply as { ok?: unknown; value?: unknown; error?: { code?: unknown; message?: unknown } } | null
  if (typeof r !== 'object' || r === null) corrupt('bad session reply')
  if (r.ok === true && typeof r.value === 'object' && r.value !== null) return r as MetaResult
  if (r.ok === false && typeof r.error === 'object' && r.error !== null &&
    typeof r.error.code === 'string' && typeof r.error.message === 'string') return r as MetaResult
  return corrupt('bad session reply')
}

function readInode(record: unknown[], options: NamespaceOptions): [number, Inode] {
  if (record.length !== 14) corrupt('bad inode record')
  const [ino, mode, uid, gid, nlink, size, aS, aN, mS, mN, cS, cN, data, xattrs] = record
  if (!isUint(ino) || ino < 1 || !isUint(mode) || !isUint(uid) || !isUint(gid) || !isUint(nlink) || !isUint(size) ||
    !isInt(aS) || !isNsec(aN) || !isInt(mS) || !isNsec(mN) || !isInt(cS) || !isNsec(cN)) {
    corrupt(`bad inode ${String(ino)}`)
  }
  const type = mode & FileMode.IFMT
  if (type === FileMode.IFDIR) {
    if (!isUint(data) || data < 1) corrupt(`directory ${ino}: bad parent`)
  } else if (type === FileMode.IFREG) {
    if (typeof data !== 'string') corrupt(`file ${ino}: bad block list`)
    try {
      const blocks = decodeBlocks(data)
      checkBlockRefs(blocks, options.maxBlockBytes)
      if (usedBytes(blocks) > size) corrupt(`file ${ino}: blocks exceed its size`)
    } catch (err) {
      if (err instanceof TesseraError && err.code === 'PROTOCOL') throw err
      corrupt(`file ${ino}: bad block list`)
    }
  } else if (type === FileMode.IFLNK) {
    if (typeof data !== 'string' || data.length === 0) corrupt(`symlink ${ino}: bad target`)
  } else corrupt(`inode ${ino}: unknown type`)
  return [ino, new Inode(mode, uid, gid, nlink, size, aS, aN, mS, mN, cS, cN, data as string | number, readXattrs(xattrs))]
}

function readXattrs(value: unknown): XattrList | undefined {
  if (value === null) return undefined
  if (!Array.isArray(value) || value.length === 0) corrupt('bad xattrs')
  let previous = ''
  return value.map((pair: unknown) => {
    if (!Array.isArray(pair) || pair.length !== 2) corrupt('bad xattr')
    const [name, bytes] = pair as [unknown, unknown]
    if (typeof name !== 'string' || !(bytes instanceof Uint8Array) || name <= previous) corrupt('bad xattr')
    previous = name
    return [name, new Uint8Array(bytes)] as const
  })
}
