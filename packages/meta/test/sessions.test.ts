import { TesseraError } from '@tessera/protocol'
import { expect } from 'chai'
import { decodeCommand, encodeCommand, Namespace, type Proposal } from '../src/index.js'
import { code, Harness, ok, ROOT, ROOT_INO } from './harness.js'

describe('fsm: sessions and exactly-once', () => {
  it('a duplicate (session, seq) replays the first reply: a retried mkdir is not EEXIST', () => {
    const h = new Harness()
    const req = { op: 'mkdir', cred: ROOT, parent: ROOT_INO, name: 'd', mode: 0o755 } as const
    const first = h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: 7, req })
    const retry = h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: 7, req })
    expect(ok(retry)).to.deep.equal(ok(first))
    expect(h.names(ROOT_INO)).to.deep.equal(['d'])
    expect(h.attr(ROOT_INO).nlink).to.equal(3)
    // a new seq applies again, and fails as it should
    const again = h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: 8, req })
    expect(code(again)).to.equal('EEXIST')
    // errors are replayed too
    const again2 = h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: 8, req })
    expect(again2).to.deep.equal(again)
  })

  it('a seq below the last is stale: ECANCELED, nothing applied', () => {
    const h = new Harness()
    h.seq = 10
    h.mkdir(ROOT_INO, 'a')
    const stale = h.ns.apply({
      kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: 5,
      req: { op: 'mkdir', cred: ROOT, parent: ROOT_INO, name: 'b', mode: 0o755 },
    })
    expect(code(stale)).to.equal('ECANCELED')
    expect(h.names(ROOT_INO)).to.deep.equal(['a'])
  })

  it('sessions are separate: the same seq in two sessions applies twice', () => {
    const h = new Harness()
    ok(h.system({ op: 'openSession', session: 'other' }))
    const mk = (session: string, name: string) => h.ns.apply({
      kind: 'client', index: ++h.index, time: h.now, session, seq: 1,
      req: { op: 'mkdir', cred: ROOT, parent: ROOT_INO, name, mode: 0o755 },
    })
    expect(code(mk(h.session, 'a'))).to.equal('OK')
    expect(code(mk('other', 'b'))).to.equal('OK')
    expect(h.names(ROOT_INO)).to.deep.equal(['a', 'b'])
  })

  it('an unknown or closed session is SESSION_EXPIRED', () => {
    const h = new Harness()
    h.session = 'never-opened'
    expect(code(h.call({ op: 'mkdir', cred: ROOT, parent: ROOT_INO, name: 'a', mode: 0o755 }))).to.equal('SESSION_EXPIRED')
    h.session = 'session-1'
    ok(h.system({ op: 'closeSession', session: 'session-1' }))
    expect(code(h.call({ op: 'mkdir', cred: ROOT, parent: ROOT_INO, name: 'a', mode: 0o755 }))).to.equal('SESSION_EXPIRED')
  })

  it('expireSessions removes sessions idle past the timeout, in command time; activity and re-open refresh', () => {
    const h = new Harness({ sessionTimeoutMs: 60_000 })
    ok(h.system({ op: 'openSession', session: 'idle' }))
    ok(h.system({ op: 'openSession', session: 'kept-alive' }))
    h.now = { sec: h.now.sec + 50, nsec: 0 }
    h.mkdir(ROOT_INO, 'a') // session-1 active
    ok(h.system({ op: 'openSession', session: 'kept-alive' })) // refresh, keeps its state
    h.now = { sec: h.now.sec + 30, nsec: 0 }
    expect(ok(h.system({ op: 'expireSessions' }))).to.deep.equal({ expired: 1 })
    expect(h.ns.hasSession('idle')).to.equal(false)
    expect(h.ns.hasSession('kept-alive')).to.equal(true)
    expect(h.ns.hasSession('session-1')).to.equal(true)
    h.now = { sec: h.now.sec + 61, nsec: 0 }
    expect(ok(h.system({ op: 'expireSessions' }))).to.deep.equal({ expired: 2 })
  })

  it('re-opening an open session keeps its last reply for replay', () => {
    const h = new Harness()
    const req = { op: 'mkdir', cred: ROOT, parent: ROOT_INO, name: 'd', mode: 0o755 } as const
    const first = h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: 1, req })
    ok(h.system({ op: 'openSession', session: h.session }))
    expect(h.ns.apply({ kind: 'client', index: ++h.index, time: h.now, session: h.session, seq: 1, req })).to.deep.equal(first)
  })

  it('new inode numbers come from the Raft index (ino = index + 1), never from a counter', () => {
    const h = new Harness()
    h.index = 1000
    const ino = h.mkdir(ROOT_INO, 'a')
    expect(ino).to.equal(1002)
  })

  it('refuses to apply out of index order', () => {
    const h = new Harness()
    expect(() => h.ns.apply({ kind: 'system', index: h.index, time: h.now, req: { op: 'expireSessions' } })).to.throw(/index/)
  })
})

describe('fsm: command codec', () => {
  it('round-trips client and system commands; the index comes from the entry', () => {
    const client: Proposal = {
      kind: 'client', time: { sec: 5, nsec: 6 }, session: 's', seq: 3,
      req: { op: 'setxattr', cred: { uid: 1, gid: 2, groups: [3] }, ino: 9, name: 'user.a', value: new Uint8Array([1, 2]), flags: 0 },
    }
    const decoded = decodeCommand(encodeCommand(client), 77)
    if (decoded.kind !== 'client' || decoded.req.op !== 'setxattr') expect.fail('wrong kind')
    const { value, ...rest } = decoded.req
    expect(Array.from(value)).to.deep.equal([1, 2])
    const { value: _sent, ...sentRest } = client.req as typeof decoded.req
    void _sent
    expect({ ...decoded, req: rest }).to.deep.equal({ ...client, index: 77, req: sentRest })
    const system: Proposal = { kind: 'system', time: { sec: 1, nsec: 0 }, req: { op: 'retireBlocks', blocks: ['ab'.repeat(8) + '3'], graceMs: 600_000 } }
    expect(decodeCommand(encodeCommand(system), 2)).to.deep.equal({ ...system, index: 2 })
  })

  it('malformed payloads are PROTOCOL errors, never crashes', () => {
    const bad = [
      new Uint8Array([0xc1]),
      encodeCommand({ kind: 'nope' } as unknown as Proposal),
      encodeCommand({ kind: 'client', time: { sec: 1, nsec: 2e9 }, session: 's', seq: 1, req: { op: 'statfs' } } as unknown as Proposal),
      encodeCommand({ kind: 'client', time: { sec: 1, nsec: 0 }, session: '', seq: 1, req: { op: 'mkdir' } } as unknown as Proposal),
      encodeCommand({ kind: 'client', time: { sec: 1, nsec: 0 }, session: 's', seq: -1, req: { op: 'mkdir' } } as unknown as Proposal),
      encodeCommand({ kind: 'client', time: { sec: 1, nsec: 0 }, session: 's', seq: 1, req: { op: 'mkdir', parent: 1 } } as unknown as Proposal),
      encodeCommand({ kind: 'system', time: { sec: 1, nsec: 0 }, req: { op: 'retireBlocks', blocks: ['zz'], graceMs: 1 } } as unknown as Proposal),
      encodeCommand({ kind: 'system', time: { sec: 1, nsec: 0 }, req: { op: 'retireBlocks', blocks: [], graceMs: -1 } } as unknown as Proposal),
      encodeCommand({ kind: 'system', time: { sec: 1, nsec: 0 }, req: { op: 'drop tables' } } as unknown as Proposal),
    ]
    for (const bytes of bad) {
      expect(() => decodeCommand(bytes, 1)).to.throw(TesseraError).with.property('code', 'PROTOCOL')
    }
  })

  it('a decoded command applies like the original', () => {
    const ns = new Namespace()
    ns.apply(decodeCommand(encodeCommand({ kind: 'system', time: { sec: 1, nsec: 0 }, req: { op: 'openSession', session: 's' } }), 1))
    const result = ns.apply(decodeCommand(encodeCommand({
      kind: 'client', time: { sec: 2, nsec: 0 }, session: 's', seq: 1,
      req: { op: 'mkdir', cred: { uid: 0, gid: 0, groups: [] }, parent: 1, name: 'x', mode: 0o700 },
    }), 2))
    expect(result.ok).to.equal(true)
  })
})
