import { expect } from 'chai'
import { setTimeout as sleep } from 'node:timers/promises'
import { EntryKind, type AppendRequest, type HeartbeatRequest, type RaftMessage } from '@tessera/protocol'
import { HeldAppends } from '../src/driver/held-appends.js'

function append(to: string, prevIndex: number, commit: number, entries = 0, term = 2): AppendRequest {
  return {
    type: 'append', from: 'm1', to, term, prevIndex, prevTerm: term, commit,
    entries: Array.from({ length: entries }, (_, i) => ({ index: prevIndex + 1 + i, term, kind: EntryKind.Normal, data: Uint8Array.of(i) })),
  }
}

function heartbeat(to: string, commit: number): HeartbeatRequest {
  return { type: 'heartbeat', from: 'm1', to, term: 2, commit, context: new Uint8Array(0) }
}

function describeMessage(m: RaftMessage): string {
  return m.type === 'append' ? `append ${m.to} prev=${m.prevIndex} commit=${m.commit} n=${m.entries.length}` : `${m.type} ${m.to}`
}

describe('HeldAppends (commit-index notices)', () => {
  let due: RaftMessage[][]
  let held: HeldAppends

  beforeEach(() => {
    due = []
    held = new HeldAppends(20, (messages) => due.push(messages))
  })

  afterEach(() => held.clear())

  it('holds appends without entries and passes everything else at once', () => {
    expect(held.pass([append('m2', 5, 5), append('m3', 5, 5)])).to.deep.equal([])
    expect(held.size).to.equal(2)
    expect(held.pass([heartbeat('m3', 5)]).map(describeMessage)).to.deep.equal(['append m3 prev=5 commit=5 n=0', 'heartbeat m3'])
    expect(held.size).to.equal(1)
  })

  it('drops a notice when a later append to that follower says the same and more', () => {
    held.pass([append('m2', 5, 5), append('m3', 5, 5)])
    const out = held.pass([append('m2', 5, 5, 1)])
    expect(out.map(describeMessage)).to.deep.equal(['append m2 prev=5 commit=5 n=1'])
    expect(held.size, 'the notice to m3 still waits').to.equal(1)
  })

  it('sends a notice along when the later append does not cover it (older commit, earlier start, other term)', () => {
    for (const later of [append('m2', 5, 4, 1), append('m2', 3, 5, 1), append('m2', 5, 5, 1, 3)]) {
      held.pass([append('m2', 5, 5)])
      expect(held.pass([later]).map(describeMessage)).to.deep.equal(['append m2 prev=5 commit=5 n=0', describeMessage(later)])
    }
    expect(held.size).to.equal(0)
  })

  it('a newer notice replaces an older one to the same follower', () => {
    held.pass([append('m2', 5, 5)])
    held.pass([append('m2', 6, 6)])
    expect(held.size).to.equal(1)
    expect(held.pass([heartbeat('m2', 6)]).map(describeMessage)).to.deep.equal(['append m2 prev=6 commit=6 n=0', 'heartbeat m2'])
  })

  it('sends what is still held once the hold time has passed, and nothing after clear()', async () => {
    held.pass([append('m2', 5, 5), append('m3', 5, 5)])
    held.pass([append('m2', 5, 5, 1)])
    await sleep(60)
    expect(due.map((batch) => batch.map(describeMessage))).to.deep.equal([['append m3 prev=5 commit=5 n=0']])
    held.pass([append('m3', 6, 6)])
    held.clear()
    await sleep(60)
    expect(due).to.have.length(1)
  })

  it('holds nothing when the hold time is 0', () => {
    const eager = new HeldAppends(0, () => expect.fail('nothing is held'))
    expect(eager.pass([append('m2', 5, 5)]).map(describeMessage)).to.deep.equal(['append m2 prev=5 commit=5 n=0'])
    expect(eager.size).to.equal(0)
  })
})
