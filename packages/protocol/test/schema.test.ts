import { expect } from 'chai'
import { s, TesseraError, raftMessageSchema, hardStateSchema, confChangeSchema, type Infer } from '../src/index.js'

function protocolError(fn: () => unknown): TesseraError {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    expect((err as TesseraError).code).to.equal('PROTOCOL')
    return err as TesseraError
  }
  throw new Error('expected a PROTOCOL error')
}

describe('protocol/schema', () => {
  const user = s.object({
    id: s.uint(1000),
    name: s.str(8, 1),
    tags: s.array(s.literal('a', 'b'), 2),
    avatar: s.optional(s.bytes(4)),
    delta: s.int(-5, 5),
    admin: s.bool(),
  })
  type User = Infer<typeof user>

  it('returns typed values and drops unknown keys', () => {
    const value: User = user.parse({ id: 3, name: 'ana', tags: ['a'], delta: -5, admin: false, extra: 1 })
    expect(value).to.deep.equal({ id: 3, name: 'ana', tags: ['a'], delta: -5, admin: false })
    expect(user.parse({ id: 3, name: 'ana', tags: [], delta: 0, admin: true, avatar: Buffer.from([1, 2]) }).avatar).to.deep.equal(Buffer.from([1, 2]))
    // nil means absent for optional fields
    expect(user.parse({ id: 3, name: 'ana', tags: [], delta: 0, admin: true, avatar: null })).to.not.have.property('avatar')
  })

  it('names the path and the problem', () => {
    const base = { id: 3, name: 'ana', tags: ['a'], delta: 0, admin: false }
    expect(protocolError(() => user.parse({ ...base, id: -1 }, 'user')).message).to.equal('user.id: -1 is not an integer in [0, 1000]')
    expect(protocolError(() => user.parse({ ...base, id: 1.5 })).message).to.match(/^value\.id: /)
    expect(protocolError(() => user.parse({ ...base, name: 'ééééé' })).message).to.match(/name: string of 10 bytes exceeds 8/)
    expect(protocolError(() => user.parse({ ...base, name: '' })).message).to.match(/name: .*shorter than 1/)
    expect(protocolError(() => user.parse({ ...base, tags: ['a', 'c'] })).message).to.match(/tags\[1\]: expected one of "a", "b"/)
    expect(protocolError(() => user.parse({ ...base, tags: ['a', 'a', 'a'] })).message).to.match(/tags: array of 3 items exceeds 2/)
    expect(protocolError(() => user.parse({ ...base, avatar: Buffer.alloc(5) })).message).to.match(/avatar: 5 bytes exceed 4/)
    expect(protocolError(() => user.parse({ ...base, avatar: 'str' })).message).to.match(/avatar: expected bytes/)
    expect(protocolError(() => user.parse({ ...base, delta: 6 })).message).to.match(/delta/)
    expect(protocolError(() => user.parse({ ...base, admin: 1 })).message).to.match(/admin: expected a boolean/)
    const { admin: _admin, ...missing } = base
    expect(protocolError(() => user.parse(missing)).message).to.equal('value.admin: is required')
    for (const notObject of [null, 3, 'x', [], Buffer.alloc(1)]) protocolError(() => user.parse(notObject))
  })

  it('rejects unsafe integers and never reads inherited properties', () => {
    protocolError(() => s.uint().parse(2 ** 53))
    protocolError(() => s.uint().parse(Number.NaN))
    protocolError(() => s.uint().parse(Infinity))
    const inherited = Object.create({ seq: 1 }) as object
    protocolError(() => s.object({ seq: s.uint() }).parse(inherited))
  })

  it('dispatches unions by their discriminant and rejects unknown kinds', () => {
    expect(raftMessageSchema.parse({ type: 'timeoutNow', from: 'a', to: 'b', term: 1 })).to.deep.equal({ type: 'timeoutNow', from: 'a', to: 'b', term: 1 })
    expect(protocolError(() => raftMessageSchema.parse({ type: 'bogus', from: 'a', to: 'b', term: 1 }, 'raft')).message).to.match(/^raft\.type: unknown kind "bogus"/)
    expect(protocolError(() => raftMessageSchema.parse({ from: 'a' })).message).to.match(/type: unknown kind/)
    expect(protocolError(() => raftMessageSchema.parse({ type: 'vote', from: '', to: 'b', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false })).message).to.match(/from/)
  })

  it('bounds AppendEntries by entry count and total bytes', () => {
    const entry = (size: number) => ({ term: 1, index: 1, kind: 0, data: Buffer.alloc(size) })
    const append = (entries: unknown[]) => ({ type: 'append', from: 'a', to: 'b', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries })
    expect(raftMessageSchema.parse(append([entry(10), entry(10)]))).to.have.property('entries').with.length(2)
    expect(protocolError(() => raftMessageSchema.parse(append(Array.from({ length: 4097 }, () => entry(0))))).message).to.match(/entries: array of 4097/)
    expect(protocolError(() => raftMessageSchema.parse(append([entry(3 << 20), entry(2 << 20)]))).message).to.match(/entries: 5242880 bytes of entries exceed/)
    protocolError(() => raftMessageSchema.parse(append([{ ...entry(1), kind: 2 }])))
  })

  it('validates persisted Raft records', () => {
    expect(hardStateSchema.parse({ term: 2, vote: '', commit: 0 })).to.deep.equal({ term: 2, vote: '', commit: 0 })
    expect(confChangeSchema.parse({ type: 'addLearner', node: 'm4', address: '127.0.0.1:7004' })).to.have.property('address')
    protocolError(() => confChangeSchema.parse({ type: 'demote', node: 'm4' }))
  })

  it('safeParse returns the error instead of throwing', () => {
    const r = s.uint().safeParse('x', 'n')
    expect(r.ok).to.equal(false)
    if (!r.ok) expect(r.error.message).to.equal('n: expected an unsigned integer, got string')
  })

  it('is fast enough for Raft traffic', () => {
    const msg = {
      type: 'append', from: 'm1', to: 'm2', term: 5, prevIndex: 999, prevTerm: 5, commit: 998,
      entries: Array.from({ length: 8 }, (_, i) => ({ term: 5, index: 1000 + i, kind: 0, data: Buffer.alloc(100) })),
    }
    const n = 20_000
    const started = performance.now()
    for (let i = 0; i < n; i++) raftMessageSchema.parse(msg)
    const perSecond = n / ((performance.now() - started) / 1000)
    expect(perSecond).to.be.greaterThan(50_000) // ~1M/s on a quiet machine; a wide margin for load
  })
})
