/**
 * MetaClient: the namespace API over the meta service, used by the CLI and (later) the mount.
 *
 * - Finds and follows the leader: NOT_LEADER hints are followed at once; a member that fails or
 *   knows no leader makes the client try the next one, with a short back-off.
 * - Changes run in sessions from a pool (one request in flight per session; default 8 sessions,
 *   so 8 changes run at once). A change is retried through leader changes with the SAME session
 *   and seq, on NOT_LEADER, UNAVAILABLE and ETIMEDOUT, until the deadline (default 30 s): the
 *   state machine answers a repeated (session, seq) with its first reply, so a retried mkdir
 *   never turns into EEXIST (DESIGN decision 3). After the deadline the last error is thrown.
 * - Queries are linearizable by default; `{stale: true}` lets any member answer at once, which
 *   may miss changes committed in the last few heartbeats (arbitrarily many on a member cut off
 *   from the leader).
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import {
  FileMode, ROOT_INO, TesseraError, asTesseraError, hasCode, metaCatalogue, silentLogger, type Attr, type CreateReply,
  type DirEntry, type Ino, type SetattrRequest, type Credentials, type ErrorCode, type Logger, type MetaCatalogue,
  type MetaQuery, type MetaRequest, type MetaStatus, type MembershipRequest, type MemberStatus, type ReplyOf,
  type LockMode, type TlsOptions,
} from '@tessera/protocol'
import { LockHandle, type LockOptions } from './lock-handle.js'
import { MemberSet, type Attempt, type LeaderCallOptions } from './member-set.js'
import { splitParent, splitPath } from './paths.js'
import { SessionPool, type Session } from './session-pool.js'

export interface MetaClientOptions {
  /** Meta members as host:port (any subset; the others are learned from NOT_LEADER hints). */
  addresses: readonly string[]
  /** The cluster secret. */
  secret: Uint8Array
  /** The id this client proves to the servers; default client-<host>-<pid>-<random>. */
  clientId?: string
  /** Sessions, i.e. changes that may run at once (default 8). */
  sessions?: number
  /** Overall deadline of one call, retries included (default 30 s). */
  deadlineMs?: number
  /** Longest wait for one attempt on one member (default 5 s). */
  attemptTimeoutMs?: number
  /** The caller's identity for permission checks; default the process's uid, gid and groups. */
  cred?: Credentials
  logger?: Logger
  tls?: TlsOptions
}

export interface CallDeadline {
  /** Overrides the client's deadline for this call. */
  deadlineMs?: number
}

export interface QueryOptions extends CallDeadline {
  /** Any member may answer at once (see the module comment for what that costs). */
  stale?: boolean
}

/** One member's answer to `status()`. */
export interface MemberReport {
  address: string
  status?: MetaStatus
  error?: { code: ErrorCode; message: string }
}

export function processCredentials(): Credentials {
  return {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    groups: process.getgroups?.() ?? [],
  }
}

export class MetaClient {
  readonly cred: Credentials
  protected readonly logger: Logger
  private readonly members: MemberSet<MetaCatalogue>
  private readonly pool: SessionPool
  private readonly deadlineMs: number
  private readonly locks = new Set<LockHandle>()

  constructor(options: MetaClientOptions) {
    this.logger = options.logger ?? silentLogger()
    this.cred = options.cred ?? processCredentials()
    this.deadlineMs = options.deadlineMs ?? 30_000
    this.members = new MemberSet(options.addresses, {
      catalogue: metaCatalogue,
      secret: options.secret,
      ...(options.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: options.attemptTimeoutMs }),
      clientId: options.clientId ?? `client-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`,
      logger: this.logger,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    })
    this.pool = new SessionPool(options.sessions ?? 8, {
      open: () => this.onLeader('meta.openSession', this.deadlineMs, (c, t) => c.call('meta.openSession', {}, { timeoutMs: t })),
      keepAlive: async (session) => {
        await this.onLeader('meta.keepAlive', this.deadlineMs, (c, t) => c.call('meta.keepAlive', { session }, { timeoutMs: t }))
      },
      close: async (session) => {
        await this.onLeader('meta.closeSession', 2000, (c, t) => c.call('meta.closeSession', { session }, { timeoutMs: t }))
      },
    }, this.logger)
  }

  /**
   * Applies one change exactly once and returns the state machine's reply; failures of the
   * change itself (ENOENT, EEXIST, ...) are thrown as TesseraError with their code.
   */
  async exec<R extends MetaRequest>(req: R, options: CallDeadline = {}): Promise<ReplyOf<R>> {
    const deadlineMs = options.deadlineMs ?? this.deadlineMs
    const session = await this.pool.acquire()
    try {
      session.seq++
      const answer = await this.onLeader('meta.exec', deadlineMs, (client, timeoutMs) =>
        client.call('meta.exec', { session: session.id, seq: session.seq, req }, { timeoutMs }),
      { recover: (err) => this.recoverSession(err, session) })
      if (answer.op !== req.op) throw new TesseraError('PROTOCOL', `meta.exec: a reply for ${answer.op} to a ${req.op}`)
      return answer.reply as ReplyOf<R>
    } finally {
      this.pool.release(session)
    }
  }

  /** Answers a query; linearizable unless `stale`. */
  async query<Q extends MetaQuery>(query: Q, options: QueryOptions = {}): Promise<ReplyOf<Q>> {
    const stale = options.stale === true
    const answer = await this.onLeader('meta.query', options.deadlineMs ?? this.deadlineMs, (client, timeoutMs) =>
      client.call('meta.query', { query, ...(stale ? { stale: true } : {}) }, { timeoutMs }), { leaderOnly: !stale })
    if (answer.op !== query.op) throw new TesseraError('PROTOCOL', `meta.query: a reply for ${answer.op} to a ${query.op}`)
    return answer.reply as ReplyOf<Q>
  }

  /**
   * Every member's status: the configured addresses and the members they report. A member that
   * does not answer within `timeoutMs` is listed with its error.
   */
  async status(timeoutMs = 2000): Promise<MemberReport[]> {
    const reports = new Map<string, MemberReport>()
    const ask = async (address: string): Promise<void> => {
      if (reports.has(address)) return
      const report: MemberReport = { address }
      reports.set(address, report)
      try {
        const client = this.members.client(address)
        await client.ready(timeoutMs)
        report.status = await client.call('meta.status', {}, { timeoutMs })
      } catch (err) {
        const error = asTesseraError(err)
        report.error = { code: error.code, message: error.message }
      }
    }
    await Promise.all(this.members.addresses().map(ask))
    const learned = [...reports.values()].flatMap((r) => r.status?.members.map((m) => m.address) ?? [])
    await Promise.all(learned.filter((a) => a !== '').map(ask))
    return [...reports.values()].sort((a, b) => (a.status?.id ?? a.address).localeCompare(b.status?.id ?? b.address))
  }

  /** One membership change on the leader: add (as a learner, with its address), promote, remove. */
  async changeMembers(change: MembershipRequest): Promise<MemberStatus[]> {
    const answer = await this.onLeader('meta.members', this.deadlineMs, (client, timeoutMs) =>
      client.call('meta.members', change, { timeoutMs }))
    return answer.members
  }

  /** Asks the leader to hand leadership to member `to`; resolves once it has moved. */
  async transferLeader(to: string): Promise<void> {
    await this.onLeader('meta.transferLeader', this.deadlineMs, (client, timeoutMs) =>
      client.call('meta.transferLeader', { to }, { timeoutMs }))
  }

  /** Snapshots the member at `address` (default: the leader) and compacts its log. */
  async snapshot(address?: string): Promise<number> {
    if (address !== undefined) {
      const client = this.members.client(address)
      return (await client.call('meta.snapshot', {}, { timeoutMs: this.deadlineMs })).index
    }
    const answer = await this.onLeader('meta.snapshot', this.deadlineMs, async (client, timeoutMs) => {
      // Ask status first so that a follower points us on to the leader.
      const status = await client.call('meta.status', {}, { timeoutMs })
      if (status.role !== 'leader') {
        throw new TesseraError('NOT_LEADER', `${status.id} is not the leader`, status.leaderAddress === undefined ? undefined : { leaderHint: status.leaderAddress })
      }
      return client.call('meta.snapshot', {}, { timeoutMs })
    })
    return answer.index
  }

  // ---- typed convenience calls (modes have the umask applied already) ----

  async getattr(ino: Ino, options: QueryOptions = {}): Promise<Attr> {
    return (await this.query({ op: 'getattr', ino }, options)).attr
  }

  async lookup(parent: Ino, name: string, options: QueryOptions = {}): Promise<Attr> {
    return (await this.query({ op: 'lookup', cred: this.cred, parent, name }, options)).attr
  }

  /**
   * Every entry of a directory (all pages), in the directory's stable order. `plus`: each entry
   * carries its attributes too, when this client may search the directory (see ReaddirQuery).
   */
  async readdir(ino: Ino, options: QueryOptions & { plus?: boolean } = {}): Promise<DirEntry[]> {
    const entries: DirEntry[] = []
    const plus = options.plus === true ? { plus: true } : {}
    let after: string | undefined
    for (;;) {
      const page = await this.query({ op: 'readdir', cred: this.cred, ino, limit: 1024, ...plus, ...(after === undefined ? {} : { after }) }, options)
      entries.push(...page.entries)
      if (!page.more || page.entries.length === 0) return entries
      after = page.entries[page.entries.length - 1]!.name
    }
  }

  async readlink(ino: Ino, options: QueryOptions = {}): Promise<string> {
    return (await this.query({ op: 'readlink', ino }, options)).target
  }

  async mkdir(parent: Ino, name: string, mode = 0o755): Promise<Attr> {
    return (await this.exec({ op: 'mkdir', cred: this.cred, parent, name, mode })).attr
  }

  async create(parent: Ino, name: string, mode = 0o644, exclusive = false): Promise<CreateReply> {
    return this.exec({ op: 'create', cred: this.cred, parent, name, mode: FileMode.IFREG | (mode & FileMode.PERMS), exclusive })
  }

  async unlink(parent: Ino, name: string): Promise<void> {
    await this.exec({ op: 'unlink', cred: this.cred, parent, name })
  }

  async rmdir(parent: Ino, name: string): Promise<void> {
    await this.exec({ op: 'rmdir', cred: this.cred, parent, name })
  }

  /** flags: RenameFlag bits (NOREPLACE, EXCHANGE). */
  async rename(parent: Ino, name: string, newParent: Ino, newName: string, flags = 0): Promise<void> {
    await this.exec({ op: 'rename', cred: this.cred, parent, name, newParent, newName, flags })
  }

  async link(ino: Ino, newParent: Ino, newName: string): Promise<Attr> {
    return (await this.exec({ op: 'link', cred: this.cred, ino, newParent, newName })).attr
  }

  async symlink(parent: Ino, name: string, target: string): Promise<Attr> {
    return (await this.exec({ op: 'symlink', cred: this.cred, parent, name, target })).attr
  }

  async setattr(ino: Ino, changes: Omit<SetattrRequest, 'op' | 'cred' | 'ino'>): Promise<Attr> {
    return (await this.exec({ op: 'setattr', cred: this.cred, ino, ...changes })).attr
  }

  // ---- paths ----

  /** The inode at an absolute path, by lookups from the root (symlinks are not followed). */
  async resolve(path: string, options: QueryOptions = {}): Promise<Attr> {
    let attr = await this.getattr(ROOT_INO, options)
    for (const name of splitPath(path)) attr = await this.lookup(attr.ino, name, options)
    return attr
  }

  /** The directory that holds `path`'s last component, and that name. */
  async resolveParent(path: string, options: QueryOptions = {}): Promise<{ parent: Attr; name: string }> {
    const { parent, name } = splitParent(path)
    return { parent: await this.resolve('/' + parent.join('/'), options), name }
  }

  /** mkdir -p: creates the missing directories on the way; an existing directory is fine. */
  async mkdirp(path: string, mode = 0o755): Promise<Attr> {
    let attr = await this.getattr(ROOT_INO)
    for (const name of splitPath(path)) {
      try {
        attr = await this.lookup(attr.ino, name)
      } catch (err) {
        if (!hasCode(err, 'ENOENT')) throw err
        try {
          attr = await this.mkdir(attr.ino, name, mode)
        } catch (mkdirErr) {
          if (!hasCode(mkdirErr, 'EEXIST')) throw mkdirErr
          attr = await this.lookup(attr.ino, name) // someone else made it meanwhile
        }
      }
      if ((attr.mode & FileMode.IFMT) !== FileMode.IFDIR) throw new TesseraError('ENOTDIR', `${name} in ${path} is not a directory`)
    }
    return attr
  }

  // ---- locks ----

  /**
   * Takes a cluster-wide advisory lock on the inode at `path` (flock semantics: exclusive or
   * shared, FIFO among waiters). The lock is a lease on a session of its own, refreshed by the
   * handle: it ends with `release()`, or when this process stops refreshing it and the session
   * expires. Waits as long as it takes unless `timeoutMs` (ETIMEDOUT) or `wait: false` (EAGAIN).
   */
  async lock(path: string, mode: LockMode = 'exclusive', options: LockOptions = {}): Promise<LockHandle> {
    const attr = await this.resolve(path)
    return this.lockInode(attr.ino, mode, options)
  }

  async lockInode(ino: Ino, mode: LockMode = 'exclusive', options: LockOptions = {}): Promise<LockHandle> {
    const handle = await LockHandle.acquire((what, deadlineMs, attempt) => this.onLeader(what, deadlineMs, attempt), ino, mode, {
      ...options, deadlineMs: this.deadlineMs, logger: this.logger, onDone: (h) => this.locks.delete(h),
    })
    this.locks.add(handle)
    return handle
  }

  /** Releases the locks still held (best effort), closes the sessions and the connections. */
  async close(): Promise<void> {
    await Promise.all([...this.locks].map((h) => h.release().catch(() => undefined)))
    await this.pool.close()
    await this.members.close()
  }

  private async recoverSession(err: TesseraError, session: Session): Promise<boolean> {
    if (err.code !== 'SESSION_EXPIRED') return false
    await this.pool.renew(session)
    session.seq = 1
    return true
  }

  /** Runs `attempt` on the leader, following it through elections (MemberSet.onLeader). */
  private onLeader<T>(what: string, deadlineMs: number, attempt: Attempt<MetaCatalogue, T>, options?: LeaderCallOptions): Promise<T> {
    return this.members.onLeader(what, deadlineMs, attempt, options)
  }
}
