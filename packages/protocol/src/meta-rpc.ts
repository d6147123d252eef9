/**
 * The meta service's RPC catalogue: sessions, namespace changes and queries, and the admin
 * methods (status, membership, leadership transfer, snapshot). Servers merge it with
 * protocolCatalogue (which carries `raft.step` between members); clients use it as is.
 *
 * Every response has a schema: the client validates what a server answers too.
 * Namespace replies travel as `{op, reply}` so that their shape is checked per operation.
 */
import { LIMITS } from './limits.js'
import {
  MAX_READDIR_LIMIT, MAX_SESSION_ID_BYTES, MAX_BLOCKS_PER_FILE, blockCopiesSchema, blockRefSchema, metaCallSchema,
  metaQuerySchema, timespecSchema, blockIdSchema, metaBlockKeySchema, lockModeSchema, type MetaOp, type MetaReplies, type MetaQuery, type MetaRequest,
  type Attr, type DirEntry,
} from './meta.js'
import { mergeCatalogues, type Catalogue } from './messages.js'
import { blockKeySchema, serverAddressSchema } from './chunk-rpc.js'
import { MAX_BLOCK_TOKEN_CHARS } from './tokens.js'
import { s, type Infer, type Schema } from './schema.js'

/** Longest a meta.lock call is held open waiting for its grant. */
export const MAX_LOCK_HOLD_MS = 60_000

const nodeId = s.str(LIMITS.maxNodeIdBytes, 1)
const address = s.str(LIMITS.maxAddressBytes)
const sessionId = s.str(MAX_SESSION_ID_BYTES, 1)
const index = s.uint()

const attr = s.object({
  ino: s.uint(), mode: s.uint(0o177777), nlink: s.uint(), uid: s.uint(0xffffffff), gid: s.uint(0xffffffff),
  size: s.uint(), atime: timespecSchema, mtime: timespecSchema, ctime: timespecSchema, generation: s.uint(),
})
true satisfies Same<Infer<typeof attr>, Attr>

const empty = s.object({})
/**
 * A listed entry, with its attributes in a plus page. Frame bound: a full page (MAX_READDIR_LIMIT
 * entries of NAME_MAX-byte names, each with attributes) encodes to about 2 MiB, well inside
 * LIMITS.maxFrameBytes (checked in test/catalogue.test.ts).
 */
const dirEntry = s.object({
  name: s.str(LIMITS.maxPathBytes), ino: s.uint(), type: s.uint(0o177777), attr: s.optional(attr), xattrs: s.optional(s.bool()),
})
true satisfies Same<Infer<typeof dirEntry>, DirEntry>

/** Replies to MetaRequest, tagged with the request's op. */
const execReply = s.union('op', [
  s.object({ op: s.literal('setattr', 'mkdir', 'mknod', 'link', 'symlink'), reply: s.object({ attr }) }),
  s.object({ op: s.literal('create'), reply: s.object({ attr, created: s.bool() }) }),
  s.object({ op: s.literal('unlink', 'rmdir', 'rename', 'setxattr', 'removexattr'), reply: empty }),
  s.object({
    op: s.literal('commitFile'),
    reply: s.object({ attr, released: s.array(blockIdSchema, MAX_BLOCKS_PER_FILE), underReplicated: s.uint() }),
  }),
])

/** Replies to MetaQuery, tagged with the query's op. */
const queryReply = s.union('op', [
  s.object({ op: s.literal('lookup', 'getattr'), reply: s.object({ attr }) }),
  s.object({
    op: s.literal('readdir'),
    reply: s.object({ entries: s.array(dirEntry, MAX_READDIR_LIMIT), parent: s.uint(), more: s.bool() }),
  }),
  s.object({ op: s.literal('readlink'), reply: s.object({ target: s.str(LIMITS.maxPathBytes * 2) }) }),
  s.object({
    op: s.literal('getxattr'),
    reply: s.object({ size: s.uint(), value: s.optional(s.bytes(LIMITS.maxXattrValueBytes * 2)) }),
  }),
  s.object({
    op: s.literal('listxattr'),
    reply: s.object({ size: s.uint(), names: s.optional(s.array(s.str(LIMITS.maxPathBytes), 65536)) }),
  }),
  s.object({
    op: s.literal('statfs'),
    reply: s.object({
      inodes: s.uint(), files: s.uint(), dirs: s.uint(), symlinks: s.uint(), bytes: s.uint(),
      blocks: s.uint(), blockBytes: s.uint(),
    }),
  }),
  s.object({
    op: s.literal('getBlocks'),
    reply: s.object({ size: s.uint(), blocks: s.array(blockRefSchema, MAX_BLOCKS_PER_FILE) }),
  }),
])

/** A reply with its op: `{op: 'mkdir', reply: AttrReply}`. */
export type TaggedReply<K extends MetaOp> = { [P in K]: { op: P; reply: MetaReplies[P] } }[K]
export type ExecReply = TaggedReply<MetaRequest['op']>
export type QueryReply = TaggedReply<MetaQuery['op']>

/** Roles as the Raft core names them. */
const role = s.literal('follower', 'preCandidate', 'candidate', 'leader')

/** One member as a status answer lists it; replication progress only from the leader. */
const memberStatus = s.object({
  id: nodeId,
  address,
  voter: s.bool(),
  /** Leader only: highest index known replicated on that member, and how far it trails. */
  match: s.optional(index),
  lag: s.optional(index),
  /** Leader only: 'probe' | 'replicate' | 'snapshot'. */
  progress: s.optional(s.literal('probe', 'replicate', 'snapshot')),
  /** Leader only: heard from within the last election timeout. */
  active: s.optional(s.bool()),
})

const statusReply = s.object({
  id: nodeId,
  address,
  role,
  term: s.uint(),
  /** The leader's id, or '' when none is known. */
  leader: s.str(LIMITS.maxNodeIdBytes),
  leaderAddress: s.optional(address),
  commit: index,
  applied: index,
  firstIndex: index,
  lastIndex: index,
  snapshotIndex: index,
  members: s.array(memberStatus, LIMITS.maxMembers * 2),
  /** The namespace as this member has applied it. */
  inodes: s.uint(),
  sessions: s.uint(),
})

export type MemberStatus = Infer<typeof memberStatus>
export type MetaStatus = Infer<typeof statusReply>

const membershipRequest = s.object({
  op: s.literal('add', 'remove', 'promote'),
  id: nodeId,
  /** Required for 'add': where the new member listens. */
  address: s.optional(address),
})
export type MembershipRequest = Infer<typeof membershipRequest>

// ---- The cluster map: chunk servers, placement, block locations ----------------------------

/** Most block keys in one report batch (a server holding more sends several). */
export const MAX_REPORT_KEYS = 65536
/** Most blocks in one meta.blocksWritten or meta.blockLocations call. */
export const MAX_LOCATION_BLOCKS = 4096
/** Longest GC grace period meta.dataConfig may report (30 days). */
export const MAX_GC_GRACE_MS = 30 * 24 * 3600_000
/** Longest zone name. */
export const MAX_ZONE_BYTES = 64

const chunkState = s.literal('up', 'down', 'draining')
export type ChunkState = Infer<typeof chunkState>
const zone = s.str(MAX_ZONE_BYTES)
const blockToken = s.str(MAX_BLOCK_TOKEN_CHARS)
const serverList = s.array(serverAddressSchema, 16)

const chunkRegister = s.object({
  id: nodeId,
  address: serverAddressSchema,
  zone,
  capacityBytes: s.uint(),
  usedBytes: s.uint(),
  /** The first batch of the block report (replaces what meta knew of this server). */
  blocks: s.optional(s.array(blockKeySchema, MAX_REPORT_KEYS)),
})
export type ChunkRegisterRequest = Infer<typeof chunkRegister>

const chunkHeartbeat = s.object({
  id: nodeId,
  usedBytes: s.uint(),
  capacityBytes: s.uint(),
  blockCount: s.uint(),
  /** Bytes of block writes in progress on the server (its load). */
  load: s.uint(),
})
export type ChunkHeartbeatRequest = Infer<typeof chunkHeartbeat>

const deleteOrder = s.object({ key: blockKeySchema })
const heartbeatReply = s.object({
  /** Blocks to delete (unreferenced past the grace period). */
  deletes: s.array(deleteOrder, MAX_REPORT_KEYS),
  /** Meta does not know this server as up: register again with a full block report. */
  register: s.bool(),
})
export type ChunkHeartbeatReply = Infer<typeof heartbeatReply>

const chunkServerInfo = s.object({
  id: nodeId,
  address: serverAddressSchema,
  zone,
  state: chunkState,
  capacityBytes: s.uint(),
  usedBytes: s.uint(),
  blockCount: s.uint(),
  /** Milliseconds since the leader last heard a heartbeat (absent: not since it led). */
  lastHeardMs: s.optional(s.uint()),
})
export type ChunkServerInfo = Infer<typeof chunkServerInfo>

const blockLocation = s.object({
  key: metaBlockKeySchema,
  len: s.uint(0xffffffff),
  servers: s.array(s.object({ id: nodeId, address: serverAddressSchema, state: chunkState }), 64),
  underReplicated: s.bool(),
})
export type BlockLocationInfo = Infer<typeof blockLocation>

export const metaCatalogue = {
  methods: {
    /** Opens a session on the leader, which picks its id. */
    'meta.openSession': {
      request: empty,
      response: s.object({ session: sessionId, timeoutMs: s.uint() }),
    },
    /** Refreshes an idle session; SESSION_EXPIRED when it is gone (it is never re-created). */
    'meta.keepAlive': { request: s.object({ session: sessionId }), response: empty },
    /** Ends a session (its reply memory is reclaimed at once instead of at expiry). */
    'meta.closeSession': { request: s.object({ session: sessionId }), response: empty },
    /** One namespace change in a session at seq; FSM failures come back as typed errors. */
    'meta.exec': {
      request: metaCallSchema,
      response: execReply satisfies Schema<ExecReply>,
    },
    /** A query: linearizable (ReadIndex on the leader) unless `stale`, then from any member at once. */
    'meta.query': {
      request: s.object({ query: metaQuerySchema, stale: s.optional(s.bool()) }),
      response: queryReply satisfies Schema<QueryReply>,
    },
    /**
     * Takes an advisory lock on an inode for the session, at seq (exactly once, like meta.exec).
     * Granted at once, or queued when `wait`: then the call is held open until the lock is
     * granted or `holdMs` passes, and answers `granted: false` with the lock's id; the client
     * repeats the same (session, seq) to keep waiting (the repeat is answered from the current
     * state, so a grant in between is not missed). A lock lives until meta.unlock or the end
     * of its session (close or expiry).
     */
    'meta.lock': {
      request: s.object({
        session: sessionId, seq: s.uint(), ino: s.uint(), mode: lockModeSchema, wait: s.bool(),
        holdMs: s.optional(s.uint(MAX_LOCK_HOLD_MS)),
      }),
      response: s.object({ granted: s.bool(), lockId: s.uint() }),
    },
    /** Releases the session's lock (held or queued) on an inode, at seq; ENOLCK when none. */
    'meta.unlock': { request: s.object({ session: sessionId, seq: s.uint(), ino: s.uint() }), response: empty },
    /** This member's Raft status. */
    'meta.status': { request: empty, response: statusReply },
    /** One membership change, on the leader: add (as a learner), promote (to voter), remove. */
    'meta.members': { request: membershipRequest, response: s.object({ members: s.array(memberStatus, LIMITS.maxMembers * 2) }) },
    /** Asks the leader to hand leadership to `to`. */
    'meta.transferLeader': { request: s.object({ to: nodeId }), response: empty },
    /** Snapshots this member's state now and compacts its log. */
    'meta.snapshot': { request: empty, response: s.object({ index }) },
  },
  notifications: {},
} as const satisfies Catalogue

export type MetaCatalogue = typeof metaCatalogue

/**
 * The cluster map's methods, served by meta members beside metaCatalogue: chunk servers
 * register and heartbeat; clients ask for placements, locations and tokens. Leader only.
 */
export const clusterCatalogue = {
  methods: {
    /** A chunk server (re)joins: its address, zone, figures, and the first batch of its blocks. */
    'chunk.register': { request: chunkRegister, response: empty },
    /** A chunk server's liveness and figures, every few seconds; the answer carries orders. */
    'chunk.heartbeat': { request: chunkHeartbeat, response: heartbeatReply },
    /** More of a block report (after chunk.register's first batch), or with `replace` a new one. */
    'chunk.blockReport': {
      request: s.object({ id: nodeId, blocks: s.array(blockKeySchema, MAX_REPORT_KEYS), replace: s.bool() }),
      response: empty,
    },
    /** Blocks that left a chunk server (deleted on order, or found corrupt and quarantined). */
    'chunk.blocksGone': {
      request: s.object({ id: nodeId, blocks: s.array(blockKeySchema, MAX_REPORT_KEYS) }),
      response: empty,
    },
    /**
     * Where to write a new block: distinct live servers (head first) spread across zones and
     * weighted by free space, none of `exclude`; a write token; the fewest copies that count.
     */
    'meta.placeBlock': {
      request: s.object({ key: blockKeySchema, length: s.uint(0xffffffff), exclude: s.optional(serverList) }),
      response: s.object({ servers: serverList, token: blockToken, minCopies: s.uint(16) }),
    },
    /** Where a block's copies are (live servers first) and a read token. */
    'meta.locateBlock': {
      request: s.object({ ref: blockIdSchema }),
      response: s.object({ servers: serverList, token: blockToken }),
    },
    /** A copy read from `server` was corrupt or missing: meta forgets it (repair restores it). */
    'meta.reportBadCopy': { request: s.object({ ref: blockIdSchema, server: serverAddressSchema }), response: empty },
    /**
     * Blocks a client wrote, with the servers holding durable copies, recorded ahead of the
     * commit that names them: for blocks read back before that commit, for writes of more
     * blocks than one commit carries (commitFile's `written` records the rest), and as a
     * writer's lease renewal: a recorded block no file references counts as unreferenced from
     * this command's time, so GC keeps it one more grace period.
     */
    'meta.blocksWritten': {
      request: s.object({ blocks: s.array(blockCopiesSchema, MAX_LOCATION_BLOCKS) }),
      response: s.object({ underReplicated: s.uint() }),
    },
    /** Where each block's copies are (for stat and fsck); no tokens. */
    'meta.blockLocations': {
      request: s.object({ refs: s.array(blockIdSchema, MAX_LOCATION_BLOCKS) }),
      response: s.object({ blocks: s.array(blockLocation, MAX_LOCATION_BLOCKS) }),
    },
    /**
     * The chunk servers as the leader sees them, the count of under-replicated blocks, and GC's
     * backlog: blocks no file references (waiting out the grace period) and delete orders the
     * servers have not confirmed.
     */
    'meta.chunkServers': {
      request: empty,
      response: s.object({
        servers: s.array(chunkServerInfo, 65536), underReplicated: s.uint(), replication: s.uint(),
        unreferencedBlocks: s.optional(s.uint()), pendingDeletes: s.optional(s.uint()),
      }),
    },
    /**
     * What a writer needs to know of the cluster: block size, replication, fewest copies, and
     * GC's grace period (ms): a writer re-records its written, uncommitted blocks with
     * meta.blocksWritten well within it (writer leases), or GC may delete them.
     */
    'meta.dataConfig': {
      request: empty,
      response: s.object({
        blockSize: s.uint(), replication: s.uint(16), minCopies: s.uint(16), gcGraceMs: s.optional(s.uint(MAX_GC_GRACE_MS)),
      }),
    },
  },
  notifications: {},
} as const satisfies Catalogue

export type ClusterCatalogue = typeof clusterCatalogue

/** What a chunk server or a data-path client calls on meta. */
export const metaClusterCatalogue = mergeCatalogues(metaCatalogue, clusterCatalogue)
export type MetaClusterCatalogue = typeof metaClusterCatalogue

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
true satisfies Same<Infer<typeof execReply>['op'], MetaRequest['op']>
true satisfies Same<Infer<typeof queryReply>['op'], MetaQuery['op']>
