/**
 * The namespace state machine: a pure, deterministic function of the commands it applies.
 * No clock, no randomness, no I/O: times come from the commands (the leader's clock when it
 * proposed) and new inode numbers from the Raft index of the creating entry:
 *
 *   ino = index + 1
 *
 * (the root is 1 and Raft indexes start at 1). Each entry creates at most one inode and
 * indexes are never reused, so inode numbers are unique forever; that is also why every
 * inode's generation is 1.
 *
 * Exactly-once (decision 3): a client command carries (session, seq). The state machine keeps,
 * per session, the last seq and its reply: the same seq again replays that reply without
 * applying anything (a retried mkdir answers its first success, not EEXIST); a lower seq is
 * stale and answered ECANCELED (the client has moved on; it should never wait for that
 * answer). A session allows one request in flight; seqs increase, gaps are allowed. An unknown
 * session is SESSION_EXPIRED. Sessions idle longer than options.sessionTimeoutMs (in command
 * time) go at the next `expireSessions` command, which the leader proposes periodically;
 * openSession on an open session refreshes it (a client's keep-alive).
 */
import {
  ROOT_INO, FileMode, TesseraError, type MetaQuery, type MetaResult, type LockCommandRequest,
  type ReplyOf, type Timespec, type WireError, type CommitFileReply, type BlockId,
} from '@tessera/protocol'
import { parseBlockId } from './block-list.js'
import type {
  ClientCommand, ClientReplyOf, ClientRequest, MetaCommand, SystemCommand, SystemReplyOf, SystemRequest,
} from './command.js'
import { applyCluster, type ChunkServerRecord, type ClusterRequest } from './cluster-map.js'
import { deleteOrdersFor, retireBlocks } from './gc.js'
import { holdersOf } from './holders.js'
import { Inode } from './inode.js'
import { acquireLock, lockState, releaseLock, releaseSessions, type LockGrant, type LockState } from './locks.js'
import { create, link, mkdir, mknod, rmdir, symlink, unlink } from './ops-entries.js'
import { commitFile, getBlocks, recordWrittenCopies, type BlockStanding } from './ops-data.js'
import { rename } from './ops-rename.js'
import { setattr } from './ops-setattr.js'
import { getxattr, listxattr, removexattr, setxattr } from './ops-xattr.js'
import { DEFAULT_OPTIONS, type NamespaceOptions, type OpContext } from './options.js'
import { getattr, lookup, readdir, readlink, statfs } from './queries.js'
import { SnapshotReader, SnapshotWriter } from './snapshot.js'
import { cloneTables, emptyTables, type Tables } from './tables.js'
import { Tx } from './tx.js'

const EPOCH: Timespec = { sec: 0, nsec: 0 }

export interface UnreferencedBlock extends BlockId {
  /** Command time (ms) when the block lost its last reference. */
  sinceMs: number
}

function assertNever(value: never): never {
  throw new Error(`unhandled request ${JSON.stringify(value)}`)
}

function toWire(err: unknown): WireError {
  if (err instanceof TesseraError) return { code: err.code, message: err.message }
  // A bug in an operation: its checks threw before anything was staged, so the state is intact.
  return { code: 'EIO', message: `internal error: ${err instanceof Error ? err.message : String(err)}` }
}

function timeMs(t: Timespec): number {
  return t.sec * 1000 + Math.floor(t.nsec / 1e6)
}

/** Told, during apply, of queued locks that became held (for servers holding lock calls open). */
export type LockGrantListener = (grants: readonly LockGrant[]) => void

export class Namespace {
  private tables: Tables
  private opts: Readonly<NamespaceOptions>
  private grantListener: LockGrantListener | undefined
  /** Until the first timed command is applied (to this instance, fresh or restored), the root may still carry time 0. */
  private rootMayBeUnborn = true

  /** A freshly formatted namespace: the root directory, owned by root, mode 0755. */
  constructor(options: Partial<NamespaceOptions> = {}, formattedAt: Timespec = EPOCH) {
    this.opts = { ...DEFAULT_OPTIONS, ...options }
    this.tables = emptyTables()
    const tx = new Tx(this.tables, formattedAt)
    tx.add(ROOT_INO, Inode.create(FileMode.IFDIR | 0o755, 0, 0, 2, 0, formattedAt, ROOT_INO))
    tx.commit()
  }

  /** Rebuilds a namespace from a snapshot's chunks (in order). Malformed input: PROTOCOL. */
  static restore(chunks: Iterable<Uint8Array>): Namespace {
    const reader = new SnapshotReader()
    for (const chunk of chunks) reader.push(chunk)
    const { tables, options } = reader.finish()
    const ns = new Namespace(options)
    ns.tables = tables
    return ns
  }

  get options(): Readonly<NamespaceOptions> {
    return this.opts
  }

  /** Raft index of the last applied command. */
  get appliedIndex(): number {
    return this.tables.appliedIndex
  }

  /**
   * Applies one committed command. Deterministic: the same commands in the same order give
   * the same results and state on every member. Commands must come in increasing index order
   * (a driver bug otherwise: thrown).
   */
  apply<R extends ClientRequest>(cmd: ClientCommand<R>): MetaResult<ClientReplyOf<R>>
  apply<R extends SystemRequest>(cmd: SystemCommand<R>): MetaResult<SystemReplyOf<R>>
  apply(cmd: MetaCommand): MetaResult<unknown>
  apply(cmd: MetaCommand): MetaResult<unknown> {
    if (!Number.isSafeInteger(cmd.index) || cmd.index <= this.tables.appliedIndex) {
      throw new Error(`apply: index ${cmd.index} is not after ${this.tables.appliedIndex}`)
    }
    this.tables.appliedIndex = cmd.index
    this.stampNewRoot(cmd.time)
    return cmd.kind === 'system' ? this.applySystem(cmd) : this.applyClient(cmd)
  }

  /**
   * A namespace starts before any command has carried a leader's clock, so its root directory
   * is created at time 0; the first command the cluster applies gives it its real birth time
   * (the same command on every member, so the same times).
   */
  private stampNewRoot(time: Timespec): void {
    if (!this.rootMayBeUnborn || time.sec === EPOCH.sec) return
    this.rootMayBeUnborn = false
    const root = this.tables.inodes.get(ROOT_INO)
    if (root === undefined || root.ctimeSec !== EPOCH.sec || root.ctimeNsec !== EPOCH.nsec) return
    const tx = new Tx(this.tables, time)
    const stamped = tx.edit(ROOT_INO)
    stamped.setAtime(time)
    stamped.touchModified(time)
    tx.commit()
  }

  /** Answers a query from the current state. */
  read<Q extends MetaQuery>(query: Q): MetaResult<ReplyOf<Q>>
  read(query: MetaQuery): MetaResult<unknown> {
    const tx = new Tx(this.tables, EPOCH)
    try {
      return { ok: true, value: this.query(tx, query) }
    } catch (err) {
      return { ok: false, error: toWire(err) }
    }
  }

  /**
   * Starts a snapshot of the current state: O(1) (copy-on-write clones); the returned
   * writer produces the chunks as the caller pulls them, while commands keep being applied.
   */
  snapshot(): SnapshotWriter {
    return new SnapshotWriter(cloneTables(this.tables), this.opts)
  }

  /** Blocks without references, oldest id order, for GC (after `afterId`, at most `limit`). */
  unreferencedBlocks(limit: number, afterId?: string): UnreferencedBlock[] {
    return this.unreferencedIds(limit, afterId).map(([id, sinceMs]) => ({ ...parseBlockId(id), sinceMs }))
  }

  /** [block id, since ms] of unreferenced blocks in id order, after `afterId`, at most `limit`. */
  unreferencedIds(limit: number, afterId?: string): [id: string, sinceMs: number][] {
    const out: [string, number][] = []
    for (const [id, sinceMs] of this.tables.unreferenced.entries(afterId)) {
      if (id === afterId) continue
      if (out.length >= limit) break
      out.push([id, sinceMs])
    }
    return out
  }

  /** How many blocks are unreferenced (GC's candidates, retired or not yet old enough). */
  get unreferencedCount(): number {
    return this.tables.unreferenced.size
  }

  /** Block ids chunk server `num` has been ordered to delete, in id order, at most `limit`. */
  deleteOrdersFor(num: number, limit: number): string[] {
    return deleteOrdersFor(this.tables, num, limit)
  }

  /** Delete orders not yet confirmed, over all servers. */
  get pendingDeleteCount(): number {
    return this.tables.deleteOrders.size
  }

  /** Whether block `id` is retired with delete orders pending (no commit may reference it). */
  isRetired(id: string): boolean {
    return this.tables.retired.has(id)
  }

  private readonly blockStanding: BlockStanding = {
    isRetired: (id) => this.tables.retired.has(id),
    isKnown: (id) => this.tables.refs.has(id) || this.tables.locations.has(id),
  }

  /** Every chunk server the map knows, by number. */
  chunkServers(): ChunkServerRecord[] {
    return [...this.tables.chunkServers.values()]
  }

  /** Numbers of the servers holding block `id` (the refs table's spelling), sorted. */
  locationsOf(id: string): readonly number[] {
    return holdersOf(this.tables.locations, id) ?? []
  }

  /** Copies known of an under-replicated block; undefined when it is not under-replicated. */
  underReplicatedCopies(id: string): number | undefined {
    return this.tables.underReplicated.get(id)
  }

  /** How many blocks are under-replicated (or referenced and without a known copy). */
  get underReplicatedCount(): number {
    return this.tables.underReplicated.size
  }

  /** Under-replicated blocks and their known copies, fewest copies first, for repair. */
  underReplicatedBlocks(limit: number): { block: BlockId; copies: number }[] {
    const all = [...this.tables.underReplicated.entries()]
    all.sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0))
    return all.slice(0, limit).map(([id, copies]) => ({ block: parseBlockId(id), copies }))
  }

  /** Sets the one listener for lock grants (an output of apply; never changes the state). */
  onLockGrants(listener: LockGrantListener | undefined): void {
    this.grantListener = listener
  }

  /** Where lock `lockId` on `ino` stands in the applied state. */
  lockState(ino: number, lockId: number): LockState {
    return lockState(this.tables.locks, ino, lockId)
  }

  /** Inodes with locks held or queued (for status and tests). */
  get lockedInodes(): number {
    return this.tables.locks.size
  }

  /** Whether a session is open (for the server and tests). */
  hasSession(id: string): boolean {
    return this.tables.sessions.has(id)
  }

  private applyClient(cmd: ClientCommand): MetaResult<unknown> {
    const sessions = this.tables.sessions
    const session = sessions.get(cmd.session)
    if (session === undefined) {
      return { ok: false, error: { code: 'SESSION_EXPIRED', message: 'unknown or expired session' } }
    }
    if (cmd.seq === session.lastSeq && session.lastReply !== undefined) return session.lastReply
    if (cmd.seq <= session.lastSeq) {
      return { ok: false, error: { code: 'ECANCELED', message: `stale request: seq ${cmd.seq} <= ${session.lastSeq}` } }
    }
    const result = cmd.req.op === 'lock' || cmd.req.op === 'unlock'
      ? this.runLock(cmd as ClientCommand<LockCommandRequest>)
      : this.run(cmd, (tx) => this.execute(cmd, tx))
    sessions.set(cmd.session, { lastSeq: cmd.seq, lastReply: result as MetaResult, lastActiveMs: timeMs(cmd.time) })
    return result
  }

  /** Runs an operation in a Tx: committed when it returns, dropped when it throws. */
  private run(cmd: MetaCommand, op: (tx: Tx) => unknown): MetaResult<unknown> {
    const tx = new Tx(this.tables, cmd.time)
    let value: unknown
    try {
      value = op(tx)
    } catch (err) {
      return { ok: false, error: toWire(err) }
    }
    const released = tx.commit()
    if (cmd.req.op === 'commitFile') {
      const reply = value as CommitFileReply
      reply.released = released.map(parseBlockId)
      reply.underReplicated = recordWrittenCopies(this.tables, cmd.req.written, this.opts.replication)
    }
    return { ok: true, value }
  }

  /** Lock requests change only the lock table; their checks throw before anything changes. */
  private runLock(cmd: ClientCommand<LockCommandRequest>): MetaResult<unknown> {
    const req = cmd.req
    try {
      if (req.op === 'unlock') {
        this.announce(releaseLock(this.tables.locks, cmd.session, req.ino))
        return { ok: true, value: {} }
      }
      if (this.tables.inodes.get(req.ino) === undefined) throw new TesseraError('ENOENT', `no inode ${req.ino}`)
      return { ok: true, value: acquireLock(this.tables.locks, cmd.session, cmd.index, req) }
    } catch (err) {
      return { ok: false, error: toWire(err) }
    }
  }

  private announce(grants: readonly LockGrant[]): void {
    if (grants.length > 0) this.grantListener?.(grants)
  }

  private execute(cmd: ClientCommand, tx: Tx): unknown {
    const req = cmd.req
    if (req.op === 'lock' || req.op === 'unlock') throw new Error('lock requests do not run in a Tx')
    const ctx: OpContext = { tx, cred: req.cred, time: cmd.time, newIno: cmd.index + 1, options: this.opts }
    switch (req.op) {
      case 'setattr': return setattr(ctx, req)
      case 'mkdir': return mkdir(ctx, req)
      case 'create': return create(ctx, req)
      case 'mknod': return mknod(ctx, req)
      case 'unlink': return unlink(ctx, req)
      case 'rmdir': return rmdir(ctx, req)
      case 'rename': return rename(ctx, req)
      case 'link': return link(ctx, req)
      case 'symlink': return symlink(ctx, req)
      case 'setxattr': return setxattr(ctx, req)
      case 'removexattr': return removexattr(ctx, req)
      case 'commitFile': return commitFile(ctx, req, this.blockStanding)
      default: return assertNever(req)
    }
  }

  private applySystem(cmd: SystemCommand): MetaResult<unknown> {
    const req = cmd.req
    const { sessions } = this.tables
    const now = timeMs(cmd.time)
    switch (req.op) {
      case 'openSession': {
        const existing = sessions.get(req.session)
        sessions.set(req.session, existing === undefined
          ? { lastSeq: 0, lastReply: undefined, lastActiveMs: now }
          : { ...existing, lastActiveMs: now })
        return { ok: true, value: {} }
      }
      case 'closeSession':
        sessions.delete(req.session)
        this.announce(releaseSessions(this.tables.locks, new Set([req.session])))
        return { ok: true, value: {} }
      case 'expireSessions': {
        const expired: string[] = []
        for (const [id, s] of sessions.entries()) {
          if (now - s.lastActiveMs > this.opts.sessionTimeoutMs) expired.push(id)
        }
        for (const id of expired) sessions.delete(id)
        this.announce(releaseSessions(this.tables.locks, new Set(expired)))
        return { ok: true, value: { expired: expired.length } }
      }
      case 'retireBlocks':
        return { ok: true, value: retireBlocks(this.tables, req.blocks, now - req.graceMs, now) }
      case 'registerChunk':
      case 'chunkStateChange':
      case 'addBlockLocations':
      case 'removeBlockLocation':
      case 'blockReport':
        return { ok: true, value: applyCluster(this.tables, req as ClusterRequest, this.opts.replication, now) }
      default: return assertNever(req)
    }
  }

  private query(tx: Tx, query: MetaQuery): unknown {
    switch (query.op) {
      case 'lookup': return lookup(tx, query)
      case 'getattr': return getattr(tx, query)
      case 'readdir': return readdir(this.tables, tx, query)
      case 'readlink': return readlink(tx, query)
      case 'getxattr': return getxattr(tx, query)
      case 'listxattr': return listxattr(tx, query)
      case 'statfs': return statfs(this.tables)
      case 'getBlocks': return getBlocks(tx, query)
      default: return assertNever(query)
    }
  }
}
