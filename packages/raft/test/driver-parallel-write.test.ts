/**
 * The driver's order (core/index.ts): the leader's appends leave while its own disk write is
 * still in flight, and the leader counts itself toward a commit only once that write is done;
 * both followers' acks commit (and answer) the entry without it.
 * One real RaftNode over NodeDisk, with sync() held open on demand; the peers are played by
 * the test through a recording transport.
 */
import { expect } from 'chai'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { NodeId, RaftMessage } from '@tessera/protocol'
import { NodeDisk, RaftStorage, type Disk, type DiskFile, type OpenMode } from '../src/storage/index.js'
import { RaftNode, type RaftTransport } from '../src/driver/index.js'
import { KvStore, encodeKvCommand } from './support/kv.js'

/** A NodeDisk whose file syncs wait while `held` is set. */
class HeldSyncDisk implements Disk {
  private held: Promise<void> | undefined
  private release: (() => void) | undefined
  syncsWaiting = 0

  constructor(private readonly inner: Disk) {}

  hold(): void {
    this.held = new Promise((resolve) => { this.release = resolve })
  }

  let(): void {
    this.release?.()
    this.held = undefined
  }

  async open(file: string, mode: OpenMode): Promise<DiskFile> {
    const f = await this.inner.open(file, mode)
    return {
      read: (p, l) => f.read(p, l),
      write: (p, d) => f.write(p, d),
      truncate: (s) => f.truncate(s),
      size: () => f.size(),
      sync: async () => {
        const held = this.held
        if (held !== undefined) {
          this.syncsWaiting++
          await held
          this.syncsWaiting--
        }
        await f.sync()
      },
      close: () => f.close(),
    }
  }

  list(dir: string): Promise<string[]> { return this.inner.list(dir) }
  exists(file: string): Promise<boolean> { return this.inner.exists(file) }
  rename(from: string, to: string): Promise<void> { return this.inner.rename(from, to) }
  remove(file: string): Promise<void> { return this.inner.remove(file) }
  mkdirp(dir: string): Promise<void> { return this.inner.mkdirp(dir) }
  syncDir(dir: string): Promise<void> { return this.inner.syncDir(dir) }
}

/** Records what the node sends; the peers answer heartbeats (CheckQuorum keeps the leader). */
class RecordingTransport implements RaftTransport {
  readonly sent: RaftMessage[] = []
  node: RaftNode | undefined
  send(messages: readonly RaftMessage[]): void {
    this.sent.push(...messages)
    for (const m of messages) {
      if (m.type !== 'heartbeat') continue
      setImmediate(() => this.node?.step([{ type: 'heartbeatResp', from: m.to, to: m.from, term: m.term, context: m.context }]))
    }
  }
  setPeers(_peers: ReadonlyMap<NodeId, string>): void {}
  async close(): Promise<void> {}
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe('driver: the leader writes in parallel with its followers', function () {
  this.timeout(20_000)
  let dir: string
  let node: RaftNode | undefined

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-raft-parallel-'))
  })

  afterEach(async () => {
    await node?.stop()
    node = undefined
    await rm(dir, { recursive: true, force: true })
  })

  /** A real RaftNode 'a' leading b and c (played by the test), its no-op committed. */
  async function startLeader(): Promise<{ leader: RaftNode; disk: HeldSyncDisk; term: number; lastAppended: () => number }> {
    const disk = new HeldSyncDisk(new NodeDisk(dir))
    const transport = new RecordingTransport()
    const storage = await RaftStorage.open(disk)
    node = await RaftNode.start({
      id: 'a', storage, transport, stateMachine: new KvStore(),
      peers: { a: 'a', b: 'b', c: 'c' }, bootstrap: true, tickMs: 5, electionTicks: 3,
    })
    const leader = node
    transport.node = node
    // Play b and c: grant the (pre-)votes.
    let answered = 0
    await until('leadership', () => {
      for (; answered < transport.sent.length; answered++) {
        const m = transport.sent[answered]!
        if (m.type === 'preVote' || m.type === 'vote') {
          leader.step([{ type: m.type === 'vote' ? 'voteResp' : 'preVoteResp', from: m.to, to: 'a', term: m.term, reject: false }])
        }
      }
      return leader.isLeader()
    })
    // Let the leader's no-op commit: b acknowledges everything it was sent.
    const lastAppended = (): number => Math.max(0, ...transport.sent.flatMap((m) => (m.type === 'append' ? m.entries.map((e) => e.index) : [])))
    await until('the no-op append', () => lastAppended() > 0)
    const term = leader.status().term
    leader.step([{ type: 'appendResp', from: 'b', to: 'a', term, reject: false, index: lastAppended(), hintIndex: 0, hintTerm: 0 }])
    await until('the no-op commit', () => leader.status().commit >= lastAppended())
    return { leader, disk, term, lastAppended }
  }

  it('sends a proposal\'s append before its own fsync completes; one follower and its unfinished write are no majority', async () => {
    const { leader, disk, term, lastAppended } = await startLeader()
    disk.hold()
    let resolved = false
    const proposal = leader.propose(encodeKvCommand({ op: 'put', key: 'k', value: 'v', client: 'c1', seq: 1 })).then((r) => { resolved = true; return r })
    const index = leader.status().lastIndex
    await until('the append of the proposal', () => lastAppended() >= index)
    await until('the leader\'s own fsync to start', () => disk.syncsWaiting > 0)
    expect(disk.syncsWaiting).to.equal(1)
    // b has it durably; the leader's copy is not durable yet, so b alone is no majority.
    leader.step([{ type: 'appendResp', from: 'b', to: 'a', term, reject: false, index, hintIndex: 0, hintTerm: 0 }])
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(resolved).to.equal(false)
    expect(leader.status().commit).to.be.below(index)
    disk.let()
    await proposal
    expect(leader.status().commit).to.be.at.least(index)
  })

  it('answers a proposal both followers acked while its own fsync is still held', async () => {
    const { leader, disk, term, lastAppended } = await startLeader()
    disk.hold()
    let resolved = false
    const proposal = leader.propose(encodeKvCommand({ op: 'put', key: 'k', value: 'v', client: 'c1', seq: 1 })).then((r) => { resolved = true; return r })
    const index = leader.status().lastIndex
    await until('the append of the proposal', () => lastAppended() >= index)
    await until('the leader\'s own fsync to start', () => disk.syncsWaiting > 0)
    for (const from of ['b', 'c']) leader.step([{ type: 'appendResp', from, to: 'a', term, reject: false, index, hintIndex: 0, hintTerm: 0 }])
    await until('the proposal to resolve', () => resolved)
    expect(disk.syncsWaiting).to.equal(1)
    expect(leader.appliedIndex()).to.be.at.least(index)
    // Its own snapshot may cover the entry: the WAL has it queued ahead of the snapshot marker.
    const snapshotting = leader.snapshotNow()
    disk.let()
    expect(await snapshotting).to.be.at.least(index)
    await proposal
  })
})
