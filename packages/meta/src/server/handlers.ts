/**
 * The meta RPC handlers: each one maps a call onto the Raft node and the namespace.
 *
 * Leadership: every call that changes the namespace or needs a linearizable answer goes through
 * RaftNode.propose / readBarrier, which reject NOT_LEADER (with the leader's address as
 * leaderHint) on a follower. Stale queries are answered at once by any member: such an answer
 * may miss changes committed in the last few heartbeats on a healthy follower, and may be
 * arbitrarily old on a member cut off from the leader.
 */
import { randomUUID } from 'node:crypto'
import {
  MAX_LOCK_HOLD_MS, TesseraError, type ExecReply, type LockReply, type QueryReply, type Handlers, type MemberStatus, type MetaCatalogue, type MetaResult, type MetaStatus,
  type ProtocolCatalogue, type Timespec, type ClusterCatalogue,
} from '@tessera/protocol'
import type { RaftNode } from '@tessera/raft'
import { encodeCommand, type Proposal } from '../fsm/index.js'
import type { Counter, Histogram } from './metrics.js'
import type { NamespaceStateMachine } from './state-machine.js'

export type ServedCatalogue = {
  methods: ProtocolCatalogue['methods'] & MetaCatalogue['methods'] & ClusterCatalogue['methods']
  notifications: ProtocolCatalogue['notifications'] & MetaCatalogue['notifications']
}

/** The cluster map's methods (served by cluster-handlers.ts). */
export type ClusterMethod = keyof ClusterCatalogue['methods']

export interface HandlerDeps {
  /** The running node; throws UNAVAILABLE before start and after stop. */
  node(): RaftNode
  stateMachine: NamespaceStateMachine
  /** Where this member listens (host:port). */
  address: string
  proposals: Counter
  /**
   * Where a proposed command's time goes on the leader: `proposing` from the handler's entry to
   * the entry handed to Raft (encoding), `replicating` from there to the state machine's answer
   * (replication, fsyncs, commit, apply).
   */
  proposeStages: { proposing: Histogram; replicating: Histogram }
  /** The leader's clock for a command (decision 4). */
  now(): Timespec
  /** How long transferLeader waits for leadership to move. */
  transferWaitMs: number
}

/** How long a queued meta.lock call is held open when the caller does not say. */
const DEFAULT_LOCK_HOLD_MS = 3000

export function wallClock(): Timespec {
  const ms = Date.now()
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 }
}

/** Proposes a command and unwraps the state machine's answer (errors become typed errors). */
export async function proposeCommand(deps: HandlerDeps, proposal: Proposal): Promise<unknown> {
  const started = performance.now()
  const node = deps.node()
  deps.proposals.inc()
  const applied = node.propose(encodeCommand(proposal))
  const proposed = performance.now()
  deps.proposeStages.proposing.observe((proposed - started) / 1000)
  const result = (await applied) as MetaResult<unknown>
  deps.proposeStages.replicating.observe((performance.now() - proposed) / 1000)
  if (!result.ok) throw TesseraError.fromWire(result.error)
  return result.value
}

/** NOT_LEADER with the leader's address, for checks made before anything is proposed. */
export function notLeader(node: RaftNode): TesseraError {
  const leaderId = node.leaderId()
  const leaderHint = leaderId === '' ? undefined : node.addressOf(leaderId)
  return new TesseraError('NOT_LEADER', `${node.id} is not the leader`, {
    ...(leaderId === '' ? {} : { leaderId }),
    ...(leaderHint === undefined ? {} : { leaderHint }),
  })
}

export function memberStatuses(node: RaftNode): MemberStatus[] {
  const status = node.status()
  const voters = new Set(status.conf.voters)
  const ids = [...new Set([...status.conf.voters, ...status.conf.learners, ...Object.keys(status.members)])].sort()
  const leading = status.role === 'leader'
  return ids.map((id) => {
    const member: MemberStatus = { id, address: status.members[id] ?? '', voter: voters.has(id) }
    const progress = status.progress[id]
    if (leading && progress !== undefined) {
      member.match = progress.match
      member.lag = Math.max(0, status.lastIndex - progress.match)
      member.progress = progress.state
      member.active = progress.recentActive
    }
    return member
  })
}

export function statusOf(deps: HandlerDeps): MetaStatus {
  const node = deps.node()
  const status = node.status()
  const leaderAddress = status.leader === '' ? undefined : node.addressOf(status.leader)
  const statfs = deps.stateMachine.namespace.read({ op: 'statfs' })
  return {
    id: status.id,
    address: deps.address,
    role: status.role,
    term: status.term,
    leader: status.leader,
    ...(leaderAddress === undefined ? {} : { leaderAddress }),
    commit: status.commit,
    applied: node.appliedIndex(),
    firstIndex: status.firstIndex,
    lastIndex: status.lastIndex,
    snapshotIndex: status.snapshotIndex,
    members: memberStatuses(node),
    inodes: statfs.ok ? statfs.value.inodes : 0,
    sessions: deps.stateMachine.sessions,
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

export function metaHandlers(deps: HandlerDeps): Omit<Handlers<ServedCatalogue>, ClusterMethod> {
  const ns = () => deps.stateMachine.namespace
  return {
    'meta.openSession': async () => {
      const session = randomUUID()
      await proposeCommand(deps, { kind: 'system', time: deps.now(), req: { op: 'openSession', session } })
      return { session, timeoutMs: ns().options.sessionTimeoutMs }
    },

    'meta.keepAlive': async ({ session }) => {
      const node = deps.node()
      // openSession would re-create an expired session with its reply memory gone, which could
      // apply a retried request twice: so refresh only a session the applied state still holds.
      await node.readBarrier()
      if (!ns().hasSession(session)) throw new TesseraError('SESSION_EXPIRED', 'unknown or expired session')
      await proposeCommand(deps, { kind: 'system', time: deps.now(), req: { op: 'openSession', session } })
      return {}
    },

    'meta.closeSession': async ({ session }) => {
      await proposeCommand(deps, { kind: 'system', time: deps.now(), req: { op: 'closeSession', session } })
      return {}
    },

    'meta.exec': async ({ session, seq, req }) => {
      const reply = await proposeCommand(deps, { kind: 'client', time: deps.now(), session, seq, req })
      return { op: req.op, reply } as ExecReply
    },

    'meta.query': async ({ query, stale }) => {
      const node = deps.node()
      if (stale !== true) await node.readBarrier()
      const result = ns().read(query)
      if (!result.ok) throw TesseraError.fromWire(result.error)
      return { op: query.op, reply: result.value } as QueryReply
    },

    'meta.lock': async ({ session, seq, ino, mode, wait, holdMs }) => {
      const reply = (await proposeCommand(deps, {
        kind: 'client', time: deps.now(), session, seq, req: { op: 'lock', ino, mode, wait },
      })) as LockReply
      if (reply.granted) return reply
      // Queued (or a repeat of a queued request): hold the call until the grant is applied here.
      const deadline = Date.now() + Math.min(holdMs ?? DEFAULT_LOCK_HOLD_MS, MAX_LOCK_HOLD_MS)
      for (;;) {
        deps.node() // UNAVAILABLE once this member stops: the client asks the next one
        const state = ns().lockState(ino, reply.lockId)
        if (state === 'held') return { granted: true, lockId: reply.lockId }
        if (state === 'none') throw new TesseraError('ENOLCK', `lock ${reply.lockId} on inode ${ino} is no longer queued (its session ended?)`)
        const left = deadline - Date.now()
        if (left <= 0) return reply
        await deps.stateMachine.lockWaiters.wait(reply.lockId, left)
      }
    },

    'meta.unlock': async ({ session, seq, ino }) => {
      await proposeCommand(deps, { kind: 'client', time: deps.now(), session, seq, req: { op: 'unlock', ino } })
      return {}
    },

    'meta.status': () => statusOf(deps),

    'meta.members': async ({ op, id, address }) => {
      const node = deps.node()
      if (!node.isLeader()) throw notLeader(node)
      if (op === 'add') {
        if (address === undefined || address === '') throw new TesseraError('EINVAL', 'adding a member needs its address')
        await node.changeMembership({ type: 'addLearner', node: id, address })
      } else {
        await node.changeMembership({ type: op === 'promote' ? 'promote' : 'remove', node: id })
      }
      return { members: memberStatuses(node) }
    },

    'meta.transferLeader': async ({ to }) => {
      const node = deps.node()
      if (to === node.id) {
        if (node.isLeader()) return {}
        throw notLeader(node)
      }
      node.transferLeadership(to)
      const moved = await waitUntil(() => node.leaderId() === to, deps.transferWaitMs)
      if (!moved) throw new TesseraError('ETIMEDOUT', `leadership did not move to ${to} within ${deps.transferWaitMs} ms`)
      return {}
    },

    'meta.snapshot': async () => ({ index: await deps.node().snapshotNow() }),
  }
}
