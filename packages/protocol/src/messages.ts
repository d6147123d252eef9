/**
 * The message catalogue: every RPC method and notification, as data. A method is one entry
 * `{ request, response, requestStream?, responseStream? }`; services add theirs in the same
 * style and merge catalogues with `mergeCatalogues`.
 */
import { s, type Schema, type Infer } from './schema.js'
import { LIMITS } from './limits.js'
import type { RaftMessage, Entry, HardState, ConfChange, SnapshotMeta } from './raft.js'

export interface MethodSpec<Req = unknown, Res = unknown> {
  readonly request: Schema<Req>
  readonly response: Schema<Res>
  /** The caller streams bytes to the handler after the request (e.g. a block write). */
  readonly requestStream?: boolean
  /** The handler streams bytes to the caller before its response (e.g. a block read). */
  readonly responseStream?: boolean
}

export type MethodCatalogue = Readonly<Record<string, MethodSpec<any, any>>>
export type NotificationCatalogue = Readonly<Record<string, Schema<any>>>

export interface Catalogue {
  readonly methods: MethodCatalogue
  readonly notifications: NotificationCatalogue
}

export type MethodName<C extends Catalogue> = keyof C['methods'] & string
export type NotificationName<C extends Catalogue> = keyof C['notifications'] & string
export type RequestOf<C extends Catalogue, M extends MethodName<C>> = Infer<C['methods'][M]['request']>
export type ResponseOf<C extends Catalogue, M extends MethodName<C>> = Infer<C['methods'][M]['response']>
export type NotificationOf<C extends Catalogue, N extends NotificationName<C>> = Infer<C['notifications'][N]>

/** Methods whose spec declares a request stream / a response stream. */
export type RequestStreamMethods<C extends Catalogue> = {
  [M in MethodName<C>]: C['methods'][M]['requestStream'] extends true ? M : never
}[MethodName<C>]
export type ResponseStreamMethods<C extends Catalogue> = {
  [M in MethodName<C>]: C['methods'][M]['responseStream'] extends true ? M : never
}[MethodName<C>]

/** Merges catalogues; a name defined twice is a programming error. */
export function mergeCatalogues<A extends Catalogue, B extends Catalogue>(a: A, b: B): {
  methods: A['methods'] & B['methods']
  notifications: A['notifications'] & B['notifications']
} {
  for (const name of Object.keys(b.methods)) {
    if (Object.hasOwn(a.methods, name)) throw new Error(`method ${name} is defined twice`)
  }
  for (const name of Object.keys(b.notifications)) {
    if (Object.hasOwn(a.notifications, name)) throw new Error(`notification ${name} is defined twice`)
  }
  return {
    methods: { ...a.methods, ...b.methods },
    notifications: { ...a.notifications, ...b.notifications },
  }
}

// ---- Raft ---------------------------------------------------------------------------------

const nodeId = s.str(LIMITS.maxNodeIdBytes, 1)
const term = s.uint()
const logIndex = s.uint()

export const entrySchema = s.object({
  term,
  index: logIndex,
  kind: s.literal(0, 1),
  data: s.bytes(LIMITS.maxAppendBytes),
})

export const hardStateSchema = s.object({
  term,
  vote: s.str(LIMITS.maxNodeIdBytes),
  commit: logIndex,
})

export const confStateSchema = s.object({
  voters: s.array(nodeId, LIMITS.maxMembers),
  learners: s.array(nodeId, LIMITS.maxMembers),
})

export const confChangeSchema = s.object({
  type: s.literal('addLearner', 'promote', 'remove'),
  node: nodeId,
  address: s.optional(s.str(LIMITS.maxAddressBytes)),
})

export const snapshotMetaSchema = s.object({ index: logIndex, term, conf: confStateSchema })

/** Entries of one AppendEntries: bounded in count by the array and in total bytes here. */
const appendEntries = s.refine(s.array(entrySchema, LIMITS.maxEntriesPerAppend), (entries) => {
  let bytes = 0
  for (const e of entries) bytes += e.data.byteLength
  return bytes > LIMITS.maxAppendBytes ? `${bytes} bytes of entries exceed ${LIMITS.maxAppendBytes}` : undefined
})

const envelope = { from: nodeId, to: nodeId, term }
const readContext = s.bytes(LIMITS.maxReadContextBytes)

const raftUnion = s.union('type', [
  s.object({ ...envelope, type: s.literal('vote', 'preVote'), lastLogIndex: logIndex, lastLogTerm: term, transfer: s.bool() }),
  s.object({ ...envelope, type: s.literal('voteResp', 'preVoteResp'), reject: s.bool() }),
  s.object({
    ...envelope,
    type: s.literal('append'),
    prevIndex: logIndex,
    prevTerm: term,
    entries: appendEntries,
    commit: logIndex,
  }),
  s.object({ ...envelope, type: s.literal('appendResp'), reject: s.bool(), index: logIndex, hintIndex: logIndex, hintTerm: term }),
  s.object({ ...envelope, type: s.literal('heartbeat'), commit: logIndex, context: readContext }),
  s.object({ ...envelope, type: s.literal('heartbeatResp'), context: readContext }),
  s.object({
    ...envelope,
    type: s.literal('snapshot'),
    meta: snapshotMetaSchema,
    offset: s.uint(),
    data: s.bytes(LIMITS.maxSnapshotChunkBytes),
    done: s.bool(),
  }),
  s.object({ ...envelope, type: s.literal('snapshotResp'), snapshotIndex: logIndex, nextOffset: s.uint(), reject: s.bool() }),
  s.object({ ...envelope, type: s.literal('timeoutNow') }),
])

/** Validates every RaftMessage kind; sizes bounded by LIMITS. */
export const raftMessageSchema: Schema<RaftMessage> = raftUnion

// Compile-time proof that the schemas describe exactly the types in raft.ts (both directions).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
true satisfies Same<Infer<typeof raftUnion>, RaftMessage>
true satisfies Same<Infer<typeof entrySchema>, Entry>
true satisfies Same<Infer<typeof hardStateSchema>, HardState>
true satisfies Same<Infer<typeof confChangeSchema>, ConfChange>
true satisfies Same<Infer<typeof snapshotMetaSchema>, SnapshotMeta>

// ---- The production catalogue ------------------------------------------------------------

export const protocolCatalogue = {
  methods: {
    /** Liveness and identity check: answers with the same sequence number and the server's id. */
    ping: {
      request: s.object({ seq: s.uint() }),
      response: s.object({ seq: s.uint(), node: nodeId }),
    },
  },
  notifications: {
    /** Raft messages from one member to another, in send order. */
    'raft.step': s.object({ messages: s.array(raftMessageSchema, LIMITS.maxRaftBatch) }),
  },
} as const satisfies Catalogue

export type ProtocolCatalogue = typeof protocolCatalogue
