/** One sample of every message kind, for round trips and as seeds for fuzzing. */
import { FrameTag, type Frame, type RaftMessage } from '../../src/index.js'

const env = { from: 'm1', to: 'm2', term: 7 }
const bytes = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill)

export const raftSamples: RaftMessage[] = [
  { ...env, type: 'vote', lastLogIndex: 10, lastLogTerm: 6, transfer: false },
  { ...env, type: 'preVote', lastLogIndex: 10, lastLogTerm: 6, transfer: true },
  { ...env, type: 'voteResp', reject: false },
  { ...env, type: 'preVoteResp', reject: true },
  {
    ...env, type: 'append', prevIndex: 9, prevTerm: 6, commit: 8,
    entries: [
      { term: 7, index: 10, kind: 0, data: bytes(100) },
      { term: 7, index: 11, kind: 1, data: bytes(3, 2) },
      { term: 7, index: 12, kind: 0, data: new Uint8Array(0) },
    ],
  },
  { ...env, type: 'appendResp', reject: true, index: 9, hintIndex: 5, hintTerm: 4 },
  { ...env, type: 'heartbeat', commit: 12, context: bytes(8, 3) },
  { ...env, type: 'heartbeatResp', context: new Uint8Array(0) },
  {
    ...env, type: 'snapshot', offset: 0, data: bytes(1000, 4), done: false,
    meta: { index: 100, term: 5, conf: { voters: ['m1', 'm2', 'm3'], learners: ['m4'] } },
  },
  { ...env, type: 'snapshotResp', snapshotIndex: 100, nextOffset: 1000, reject: false },
  { ...env, type: 'timeoutNow' },
]

export const frameSamples: Frame[] = [
  [FrameTag.AuthChallenge, bytes(32, 5), 'srv-1'],
  [FrameTag.AuthProof, 'client-1', bytes(32, 6), bytes(32, 7)],
  [FrameTag.AuthOk, bytes(32, 8)],
  [FrameTag.Request, 1, 'ping', { seq: 1 }],
  [FrameTag.Request, 2, 'echo', { text: 'héllo' }],
  [FrameTag.Response, 1, { seq: 1, node: 'srv-1' }],
  [FrameTag.Error, 3, { code: 'ENOENT', message: 'no such file' }],
  [FrameTag.Error, 0, { code: 'NOT_LEADER', message: 'not the leader', details: { leaderHint: '127.0.0.1:7001' } }],
  [FrameTag.Cancel, 4],
  [FrameTag.Notify, 'raft.step', { messages: raftSamples }],
  [FrameTag.Chunk, 5, bytes(4096, 9)],
  [FrameTag.End, 5],
  [FrameTag.Credit, 5, 1 << 20],
]
