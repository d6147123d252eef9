/**
 * The client <-> meta namespace vocabulary: the requests a client sends (changes go through Raft,
 * queries are answered from the state machine), their replies, and the schemas that validate
 * them when they arrive from the wire. Plain data only.
 *
 * Conventions (the meta state machine documents the semantics in detail):
 * - Inodes are addressed by number; the root is ROOT_INO. Directory entries by (parent, name).
 * - Times are `Timespec` {sec, nsec} (nanosecond precision, like struct timespec). In setattr a
 *   time whose nsec is UTIME_NOW means "the leader's time of the change"; an absent time is
 *   left unchanged (UTIME_OMIT).
 * - `mode` holds the file type bits (FileMode.IFMT) and the permission bits incl. setuid,
 *   setgid and sticky. Requests carry the mode with the caller's umask already applied.
 * - Block keys are the xxh64 of the block's bytes as 16 lowercase hex characters.
 */
import type { WireError } from './errors.js'
import { serverAddressSchema } from './chunk-rpc.js'
import { LIMITS } from './limits.js'
import { s, type Infer, type Schema } from './schema.js'

export type Ino = number

/** The root directory's inode number. */
export const ROOT_INO = 1

/** File type and mode bits (Linux values). */
export const FileMode = {
  IFMT: 0o170000,
  IFREG: 0o100000,
  IFDIR: 0o040000,
  IFLNK: 0o120000,
  ISUID: 0o4000,
  ISGID: 0o2000,
  ISVTX: 0o1000,
  /** Every permission bit incl. setuid, setgid and sticky. */
  PERMS: 0o7777,
} as const

/** utimensat(2)'s sentinel in Timespec.nsec: set this time to the time of the change. */
export const UTIME_NOW = (1 << 30) - 1

/** renameat2(2) flags. */
export const RenameFlag = { NOREPLACE: 1, EXCHANGE: 2 } as const

/** setxattr(2) flags. */
export const XattrFlag = { CREATE: 1, REPLACE: 2 } as const

/** The caller's identity; every permission check uses it. */
export interface Credentials {
  uid: number
  gid: number
  /** Supplementary groups. */
  groups: number[]
}

export interface Timespec {
  sec: number
  nsec: number
}

export interface Attr {
  ino: Ino
  mode: number
  nlink: number
  uid: number
  gid: number
  /** Bytes: file length, symlink target length; directories report 0. */
  size: number
  atime: Timespec
  mtime: Timespec
  ctime: Timespec
  /** Inode numbers are never reused, so every inode has generation 1. */
  generation: number
}

/** A stored block: identity is (key, len). */
export interface BlockId {
  /**
   * The xxh64 of the block's bytes as 16 lowercase hex characters; followed by `s<seed>` when
   * the writer had to hash with a seed after a key collision (DESIGN decision 5). With `len`
   * it names the chunk servers' block `<16hex>-<len>[-s<seed>]`.
   */
  key: string
  /** The block's length in bytes. */
  len: number
}

/**
 * One piece of a file: the first `used` bytes of block (key, len). `used` < `len` marks a block
 * that a truncate cut. A file's bytes are its pieces in order, then zeros up to its size (a
 * hole at the tail needs no block; the sum of `used` never exceeds the size).
 */
export interface BlockRef extends BlockId {
  used: number
}

export interface DirEntry {
  name: string
  ino: Ino
  /** The file type bits of the entry's mode (FileMode.IFREG, IFDIR or IFLNK). */
  type: number
  /**
   * The entry's attributes, in a `plus` readdir whose caller may also look names up in the
   * directory (search permission, as lookup needs); absent otherwise.
   */
  attr?: Attr
  /** With `attr`: whether the inode has any extended attribute (a listing answers "none" locally). */
  xattrs?: boolean
}

// ---- Requests that change the namespace (each goes through Raft, exactly once per session seq) --

export interface SetattrRequest {
  op: 'setattr'
  cred: Credentials
  ino: Ino
  mode?: number
  uid?: number
  gid?: number
  size?: number
  atime?: Timespec
  mtime?: Timespec
}
export interface MkdirRequest { op: 'mkdir'; cred: Credentials; parent: Ino; name: string; mode: number }
/** open(O_CREAT) of a regular file; `exclusive` is O_EXCL. An existing file is returned as is. */
export interface CreateRequest { op: 'create'; cred: Credentials; parent: Ino; name: string; mode: number; exclusive: boolean }
/** Only regular files (type bits IFREG or 0); other node types are refused with EPERM. */
export interface MknodRequest { op: 'mknod'; cred: Credentials; parent: Ino; name: string; mode: number }
export interface UnlinkRequest { op: 'unlink'; cred: Credentials; parent: Ino; name: string }
export interface RmdirRequest { op: 'rmdir'; cred: Credentials; parent: Ino; name: string }
export interface RenameRequest {
  op: 'rename'
  cred: Credentials
  parent: Ino
  name: string
  newParent: Ino
  newName: string
  /** RenameFlag bits. */
  flags: number
}
export interface LinkRequest { op: 'link'; cred: Credentials; ino: Ino; newParent: Ino; newName: string }
export interface SymlinkRequest { op: 'symlink'; cred: Credentials; parent: Ino; name: string; target: string }
export interface SetxattrRequest {
  op: 'setxattr'
  cred: Credentials
  ino: Ino
  name: string
  value: Uint8Array
  /** XattrFlag bits. */
  flags: number
}
export interface RemovexattrRequest { op: 'removexattr'; cred: Credentials; ino: Ino; name: string }
/** Servers (host:port) holding durable copies of a block a client just wrote. */
export interface BlockCopies {
  ref: BlockId
  servers: string[]
}

/**
 * The data path's commit after a write: replaces the file's block list and size. `written`
 * tells meta where blocks new to this write landed (meta records their locations, and which
 * have too few copies, in the same log entry); each must be one of `blocks`. Blocks whose
 * locations meta already has (recorded earlier with meta.blocksWritten, or old blocks kept)
 * need no entry.
 */
export interface CommitFileRequest {
  op: 'commitFile'
  cred: Credentials
  ino: Ino
  blocks: BlockRef[]
  size: number
  mtime: Timespec
  written?: BlockCopies[]
}

export type MetaRequest =
  | SetattrRequest | MkdirRequest | CreateRequest | MknodRequest | UnlinkRequest | RmdirRequest
  | RenameRequest | LinkRequest | SymlinkRequest | SetxattrRequest | RemovexattrRequest
  | CommitFileRequest

/** Session bookkeeping a client asks for; not sequenced (both are idempotent). */
export interface OpenSessionRequest {
  op: 'openSession'
  /** Chosen by the client (random, e.g. a UUID). Opening an open session refreshes it. */
  session: string
}
export interface CloseSessionRequest { op: 'closeSession'; session: string }
export type SessionRequest = OpenSessionRequest | CloseSessionRequest

/** A change as a client sends it to the leader: one request in its session at seq (> 0). */
export interface MetaCall {
  session: string
  seq: number
  req: MetaRequest
}

// ---- Advisory locks (changes too: each goes through Raft in a session, exactly once) ---------

/** flock(2)-style advisory lock modes. */
export type LockMode = 'shared' | 'exclusive'

/**
 * Asks for a lock on an inode for the calling session. Granted at once when compatible with
 * the holders and nobody waits; otherwise queued behind the waiters (FIFO) when `wait`, else
 * EAGAIN. A session has at most one lock (held or queued) per inode: a second is EDEADLK.
 */
export interface LockRequest { op: 'lock'; ino: Ino; mode: LockMode; wait: boolean }
/** Drops the session's lock on the inode (held or queued); ENOLCK when it has none. */
export interface UnlockRequest { op: 'unlock'; ino: Ino }
export type LockCommandRequest = LockRequest | UnlockRequest

export interface LockReply {
  granted: boolean
  /** The Raft index of the lock request: names this lock while it is queued and held. */
  lockId: number
}

// ---- Queries (answered by the state machine without a log entry) ----------------------------

export interface LookupQuery { op: 'lookup'; cred: Credentials; parent: Ino; name: string }
export interface GetattrQuery { op: 'getattr'; ino: Ino }
/**
 * Entries after `after` (a name, exclusive) in the directory's stable order. `plus` asks for each
 * entry's attributes too (readdirplus: the lookups that follow a listing need no round trip).
 */
export interface ReaddirQuery { op: 'readdir'; cred: Credentials; ino: Ino; after?: string; limit: number; plus?: boolean }
export interface ReadlinkQuery { op: 'readlink'; ino: Ino }
/** `size` 0 asks for the value's length only; a smaller non-zero size than the value is ERANGE. */
export interface GetxattrQuery { op: 'getxattr'; cred: Credentials; ino: Ino; name: string; size: number }
export interface ListxattrQuery { op: 'listxattr'; cred: Credentials; ino: Ino; size: number }
export interface StatfsQuery { op: 'statfs' }
/** A regular file's block list, for the data path's reads. */
export interface GetBlocksQuery { op: 'getBlocks'; cred: Credentials; ino: Ino }

export type MetaQuery =
  | LookupQuery | GetattrQuery | ReaddirQuery | ReadlinkQuery | GetxattrQuery | ListxattrQuery
  | StatfsQuery | GetBlocksQuery

// ---- Replies ---------------------------------------------------------------------------------

export interface AttrReply { attr: Attr }
export interface CreateReply { attr: Attr; created: boolean }
export type EmptyReply = Record<string, never>
export interface CommitFileReply {
  attr: Attr
  /** Blocks this commit left without any reference (candidates for GC after its grace period). */
  released: BlockId[]
  /** Blocks of `written` that meta now knows with fewer copies than the replication (repair adds the rest). */
  underReplicated: number
}
export interface ReaddirReply {
  /** '.' and '..' are not listed: the caller synthesizes them (ino and `parent`). */
  entries: DirEntry[]
  parent: Ino
  /** More entries follow the last one returned. */
  more: boolean
}
export interface ReadlinkReply { target: string }
export interface GetxattrReply { size: number; value?: Uint8Array }
export interface ListxattrReply {
  /** Bytes of the Linux list: every name followed by a NUL. */
  size: number
  names?: string[]
}
export interface StatfsReply {
  inodes: number
  files: number
  dirs: number
  symlinks: number
  /** Sum of regular files' sizes. */
  bytes: number
  /** Distinct blocks referenced by at least one file, and their bytes (one replica). */
  blocks: number
  blockBytes: number
}
export interface GetBlocksReply { size: number; blocks: BlockRef[] }

/** Reply type per request / query kind. */
export interface MetaReplies {
  setattr: AttrReply
  mkdir: AttrReply
  create: CreateReply
  mknod: AttrReply
  unlink: EmptyReply
  rmdir: EmptyReply
  rename: EmptyReply
  link: AttrReply
  symlink: AttrReply
  setxattr: EmptyReply
  removexattr: EmptyReply
  commitFile: CommitFileReply
  openSession: EmptyReply
  closeSession: EmptyReply
  lookup: AttrReply
  getattr: AttrReply
  readdir: ReaddirReply
  readlink: ReadlinkReply
  getxattr: GetxattrReply
  listxattr: ListxattrReply
  statfs: StatfsReply
  getBlocks: GetBlocksReply
  lock: LockReply
  unlock: EmptyReply
}
export type MetaOp = keyof MetaReplies
export type ReplyOf<R extends { op: MetaOp }> = MetaReplies[R['op']]

/** Every answer: a value, or an error with its code (never thrown across the wire). */
export type MetaResult<T = MetaReplies[MetaOp]> =
  | { ok: true; value: T }
  | { ok: false; error: WireError }

// ---- Schemas (validation of what arrives from the wire) -------------------------------------

/** Most block references one commit may carry (256 GiB of file with 4 MiB blocks). */
export const MAX_BLOCKS_PER_FILE = 65536
/** Most blocks whose copies one commit may carry (`written`); a writer records more beforehand. */
export const MAX_COMMIT_WRITTEN = 4096
/** Most servers named for one block's copies. */
export const MAX_BLOCK_COPIES = 16
/** Most supplementary groups in Credentials (Linux NGROUPS_MAX). */
export const MAX_GROUPS = 65536
/** Most entries one readdir page returns. */
export const MAX_READDIR_LIMIT = 4096
/** Longest session id. */
export const MAX_SESSION_ID_BYTES = 128
/** Longest block key: 16 hex + 's' + a seed of up to 10 digits. */
const MAX_BLOCK_KEY_BYTES = 27

const ino = s.uint()
const id32 = s.uint(0xffffffff)
const mode = s.uint(0o177777)
/** Names longer than NAME_MAX pass here so that the state machine can answer ENAMETOOLONG. */
const name = s.str(LIMITS.maxPathBytes)
const credentials = s.object({ uid: id32, gid: id32, groups: s.array(id32, MAX_GROUPS) })
/** nsec up to UTIME_NOW; the state machine refuses other values >= 1e9 with EINVAL. */
const timespec = s.object({ sec: s.int(), nsec: s.uint(UTIME_NOW) })
const blockKey = s.str(MAX_BLOCK_KEY_BYTES, 16)
const blockIdObject = s.object({ key: blockKey, len: s.uint(0xffffffff) })
const blockRef = s.object({ key: blockKey, len: s.uint(0xffffffff), used: s.uint(0xffffffff) })
const blockCopies = s.object({ ref: blockIdObject, servers: s.array(serverAddressSchema, MAX_BLOCK_COPIES) })
const sessionId = s.str(MAX_SESSION_ID_BYTES, 1)
const xattrName = s.str(LIMITS.maxPathBytes)

const requestMembers = [
  s.object({
    op: s.literal('setattr'), cred: credentials, ino,
    mode: s.optional(mode), uid: s.optional(id32), gid: s.optional(id32), size: s.optional(s.uint()),
    atime: s.optional(timespec), mtime: s.optional(timespec),
  }),
  s.object({ op: s.literal('mkdir'), cred: credentials, parent: ino, name, mode }),
  s.object({ op: s.literal('create'), cred: credentials, parent: ino, name, mode, exclusive: s.bool() }),
  s.object({ op: s.literal('mknod'), cred: credentials, parent: ino, name, mode }),
  s.object({ op: s.literal('unlink'), cred: credentials, parent: ino, name }),
  s.object({ op: s.literal('rmdir'), cred: credentials, parent: ino, name }),
  s.object({
    op: s.literal('rename'), cred: credentials, parent: ino, name, newParent: ino, newName: name,
    flags: s.uint(0xffffffff),
  }),
  s.object({ op: s.literal('link'), cred: credentials, ino, newParent: ino, newName: name }),
  s.object({ op: s.literal('symlink'), cred: credentials, parent: ino, name, target: s.str(LIMITS.maxPathBytes * 2) }),
  s.object({
    op: s.literal('setxattr'), cred: credentials, ino, name: xattrName,
    value: s.bytes(LIMITS.maxXattrValueBytes * 2), flags: s.uint(0xffffffff),
  }),
  s.object({ op: s.literal('removexattr'), cred: credentials, ino, name: xattrName }),
  s.object({
    op: s.literal('commitFile'), cred: credentials, ino, blocks: s.array(blockRef, MAX_BLOCKS_PER_FILE),
    size: s.uint(), mtime: timespec, written: s.optional(s.array(blockCopies, MAX_COMMIT_WRITTEN)),
  }),
] as const
const requestUnion = s.union('op', requestMembers)

const sessionUnion = s.union('op', [
  s.object({ op: s.literal('openSession'), session: sessionId }),
  s.object({ op: s.literal('closeSession'), session: sessionId }),
])

const callObject = s.object({ session: sessionId, seq: s.uint(), req: requestUnion })

const lockMode = s.literal('shared', 'exclusive')
const lockUnion = s.union('op', [
  s.object({ op: s.literal('lock'), ino, mode: lockMode, wait: s.bool() }),
  s.object({ op: s.literal('unlock'), ino }),
])

const queryUnion = s.union('op', [
  s.object({ op: s.literal('lookup'), cred: credentials, parent: ino, name }),
  s.object({ op: s.literal('getattr'), ino }),
  s.object({
    op: s.literal('readdir'), cred: credentials, ino, after: s.optional(name),
    limit: s.uint(MAX_READDIR_LIMIT), plus: s.optional(s.bool()),
  }),
  s.object({ op: s.literal('readlink'), ino }),
  s.object({ op: s.literal('getxattr'), cred: credentials, ino, name: xattrName, size: s.uint(0xffffffff) }),
  s.object({ op: s.literal('listxattr'), cred: credentials, ino, size: s.uint(0xffffffff) }),
  s.object({ op: s.literal('statfs') }),
  s.object({ op: s.literal('getBlocks'), cred: credentials, ino }),
])

export const timespecSchema: Schema<Timespec> = timespec
export const blockRefSchema: Schema<BlockRef> = blockRef
/** A block as meta names it: key (16 hex, or salted `<16hex>s<seed>`) and length. */
export const blockIdSchema: Schema<BlockId> = blockIdObject
export const blockCopiesSchema: Schema<BlockCopies> = blockCopies
/** The key part of a block as meta names it. */
export const metaBlockKeySchema: Schema<string> = blockKey
export const metaRequestSchema: Schema<MetaRequest> = requestUnion
export const sessionRequestSchema: Schema<SessionRequest> = sessionUnion
export const metaCallSchema: Schema<MetaCall> = callObject
export const metaQuerySchema: Schema<MetaQuery> = queryUnion
export const lockModeSchema: Schema<LockMode> = lockMode
export const lockCommandSchema: Schema<LockCommandRequest> = lockUnion

// Compile-time proof that the schemas describe exactly the types above (both directions).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
true satisfies Same<Infer<typeof requestUnion>, MetaRequest>
true satisfies Same<Infer<typeof sessionUnion>, SessionRequest>
true satisfies Same<Infer<typeof callObject>, MetaCall>
true satisfies Same<Infer<typeof queryUnion>, MetaQuery>
true satisfies Same<Infer<typeof lockUnion>, LockCommandRequest>
