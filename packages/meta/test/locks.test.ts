import { expect } from 'chai'
import type { LockMode, LockReply, MetaResult } from '@tessera/protocol'
import { Namespace, decodeCommand, encodeCommand, type LockGrant } from '../src/index.js'
import { Harness, ROOT_INO, code, ok } from './harness.js'

/** Several sessions over one Harness's namespace, each with its own seq. */
class Lockers {
  readonly grants: LockGrant[] = []
  constructor(readonly h: Harness, sessions: string[], readonly seqs = new Map<string, number>()) {
    for (const s of sessions) ok(h.system({ op: 'openSession', session: s }))
    h.ns.onLockGrants((grants) => this.grants.push(...grants))
  }

  lock(session: string, ino: number, mode: LockMode, wait = true): MetaResult<LockReply> {
    return this.h.ns.apply({ kind: 'client', index: ++this.h.index, time: this.h.now, session, seq: this.next(session), req: { op: 'lock', ino, mode, wait } })
  }

  unlock(session: string, ino: number): MetaResult<unknown> {
    return this.h.ns.apply({ kind: 'client', index: ++this.h.index, time: this.h.now, session, seq: this.next(session), req: { op: 'unlock', ino } })
  }

  /** Which sessions the grants since the last call went to, in order. */
  granted(): string[] {
    return this.grants.splice(0).map((g) => g.session)
  }

  private next(session: string): number {
    const seq = (this.seqs.get(session) ?? 0) + 1
    this.seqs.set(session, seq)
    return seq
  }
}

describe('fsm: advisory locks', () => {
  let h: Harness
  let file: number
  beforeEach(() => {
    h = new Harness()
    file = h.create(ROOT_INO, 'f')
  })

  it('an exclusive lock excludes: EAGAIN without wait, queued with wait', () => {
    const l = new Lockers(h, ['a', 'b', 'c'])
    const a = ok(l.lock('a', file, 'exclusive'))
    expect(a.granted).to.equal(true)
    expect(a.lockId).to.equal(h.index)
    expect(code(l.lock('b', file, 'exclusive', false))).to.equal('EAGAIN')
    expect(code(l.lock('b', file, 'shared', false))).to.equal('EAGAIN')
    const c = ok(l.lock('c', file, 'shared', true))
    expect(c.granted).to.equal(false)
    expect(h.ns.lockState(file, c.lockId)).to.equal('queued')
    ok(l.unlock('a', file))
    expect(l.granted()).to.deep.equal(['c'])
    expect(h.ns.lockState(file, c.lockId)).to.equal('held')
    expect(h.ns.lockState(file, a.lockId)).to.equal('none')
  })

  it('shared locks share; an exclusive one waits for all of them', () => {
    const l = new Lockers(h, ['a', 'b', 'x'])
    expect(ok(l.lock('a', file, 'shared')).granted).to.equal(true)
    expect(ok(l.lock('b', file, 'shared')).granted).to.equal(true)
    expect(ok(l.lock('x', file, 'exclusive')).granted).to.equal(false)
    ok(l.unlock('a', file))
    expect(l.granted()).to.deep.equal([])
    ok(l.unlock('b', file))
    expect(l.granted()).to.deep.equal(['x'])
  })

  it('FIFO: a shared request behind a queued exclusive one waits; shared waiters are granted together', () => {
    const l = new Lockers(h, ['s1', 'x1', 's2', 's3', 'x2', 's4'])
    expect(ok(l.lock('s1', file, 'shared')).granted).to.equal(true)
    expect(ok(l.lock('x1', file, 'exclusive')).granted).to.equal(false)
    // compatible with the holder, but an exclusive waiter is ahead: it must not overtake
    expect(ok(l.lock('s2', file, 'shared')).granted).to.equal(false)
    expect(ok(l.lock('s3', file, 'shared')).granted).to.equal(false)
    expect(ok(l.lock('x2', file, 'exclusive')).granted).to.equal(false)
    expect(ok(l.lock('s4', file, 'shared')).granted).to.equal(false)
    ok(l.unlock('s1', file))
    expect(l.granted()).to.deep.equal(['x1'])
    ok(l.unlock('x1', file))
    expect(l.granted()).to.deep.equal(['s2', 's3'])
    ok(l.unlock('s3', file))
    ok(l.unlock('s2', file))
    expect(l.granted()).to.deep.equal(['x2'])
    ok(l.unlock('x2', file))
    expect(l.granted()).to.deep.equal(['s4'])
  })

  it('a queued waiter that gives up (unlock) leaves the queue without a grant', () => {
    const l = new Lockers(h, ['a', 'b', 'c'])
    ok(l.lock('a', file, 'exclusive'))
    ok(l.lock('b', file, 'exclusive'))
    ok(l.lock('c', file, 'exclusive'))
    ok(l.unlock('b', file))
    expect(l.granted()).to.deep.equal([])
    ok(l.unlock('a', file))
    expect(l.granted()).to.deep.equal(['c'])
  })

  it('closing or expiring a session releases its locks and grants the next waiters', () => {
    const l = new Lockers(h, ['a', 'b'])
    const other = h.create(ROOT_INO, 'g')
    ok(l.lock('a', file, 'exclusive'))
    ok(l.lock('a', other, 'shared'))
    ok(l.lock('b', file, 'shared'))
    ok(h.system({ op: 'closeSession', session: 'a' }))
    expect(l.granted()).to.deep.equal(['b'])
    expect(h.ns.lockedInodes).to.equal(1)

    const h2 = new Harness({ sessionTimeoutMs: 1000 })
    const f2 = h2.create(ROOT_INO, 'f')
    const l2 = new Lockers(h2, ['dead', 'alive'])
    ok(l2.lock('dead', f2, 'exclusive'))
    ok(l2.lock('alive', f2, 'exclusive'))
    h2.now = { sec: h2.now.sec + 2, nsec: 0 }
    ok(h2.system({ op: 'openSession', session: 'alive' })) // the waiter's keep-alive
    expect(ok(h2.system({ op: 'expireSessions' })).expired).to.be.greaterThan(0)
    expect(l2.granted()).to.deep.equal(['alive'])
  })

  it('errors: ENOENT for a missing inode, EDEADLK for a second lock, ENOLCK for an unlock without a lock', () => {
    const l = new Lockers(h, ['a'])
    expect(code(l.lock('a', 9999, 'shared'))).to.equal('ENOENT')
    ok(l.lock('a', file, 'shared'))
    expect(code(l.lock('a', file, 'exclusive'))).to.equal('EDEADLK')
    ok(l.unlock('a', file))
    expect(code(l.unlock('a', file))).to.equal('ENOLCK')
    expect(h.ns.lockedInodes).to.equal(0)
  })

  it('a repeated (session, seq) replays the lock reply without queueing twice', () => {
    ok(h.system({ op: 'openSession', session: 'a' }))
    ok(h.system({ op: 'openSession', session: 'b' }))
    const lock = (session: string, seq: number) => h.ns.apply({
      kind: 'client', index: ++h.index, time: h.now, session, seq, req: { op: 'lock', ino: file, mode: 'exclusive', wait: true },
    })
    ok(lock('a', 1))
    const first = ok(lock('b', 1))
    const again = ok(lock('b', 1))
    expect(again).to.deep.equal(first)
    expect(h.ns.lockState(file, first.lockId)).to.equal('queued')
  })

  it('lock commands survive encoding, and locks survive a snapshot', () => {
    const l = new Lockers(h, ['a', 'b', 'c'])
    ok(l.lock('a', file, 'shared'))
    ok(l.lock('b', file, 'exclusive'))
    const c = ok(l.lock('c', file, 'shared'))
    const bytes = encodeCommand({ kind: 'client', time: h.now, session: 'a', seq: 9, req: { op: 'lock', ino: file, mode: 'shared', wait: false } })
    expect(decodeCommand(bytes, 5)).to.deep.include({ session: 'a', seq: 9, req: { op: 'lock', ino: file, mode: 'shared', wait: false } })
    const restored = Namespace.restore([...h.ns.snapshot()])
    expect(restored.lockState(file, c.lockId)).to.equal('queued')
    const h2 = Harness.continuing(restored, h)
    const l2 = new Lockers(h2, [], l.seqs)
    ok(l2.unlock('a', file))
    expect(l2.granted()).to.deep.equal(['b'])
  })
})
