import { expect } from 'chai'
import { ERRNO, TesseraError, hasCode, asTesseraError, FS_CODES, CLUSTER_CODES } from '../src/index.js'

describe('protocol/errors', () => {
  it('keeps code, message and details across the wire', () => {
    const original = new TesseraError('NOT_LEADER', 'not the leader', { leaderHint: '127.0.0.1:7001', leaderId: 'm2' })
    const back = TesseraError.fromWire(JSON.parse(JSON.stringify(original.toWire())))
    expect(back.code).to.equal('NOT_LEADER')
    expect(back.message).to.equal('not the leader')
    expect(back.details).to.deep.equal({ leaderHint: '127.0.0.1:7001', leaderId: 'm2' })
    expect(back.errno).to.equal(ERRNO.NOT_LEADER)
  })

  it('maps every code to a positive errno and POSIX names to their Linux numbers', () => {
    for (const code of [...FS_CODES, ...CLUSTER_CODES]) expect(ERRNO[code], code).to.be.greaterThan(0)
    expect(new TesseraError('ENOENT', 'x').errno).to.equal(2)
    expect(new TesseraError('EEXIST', 'x').errno).to.equal(17)
    expect(new TesseraError('ENOTEMPTY', 'x').errno).to.equal(39)
    expect(new TesseraError('ENAMETOOLONG', 'x').errno).to.equal(36)
  })

  it('turns malformed wire errors into PROTOCOL instead of throwing', () => {
    for (const bad of [null, 3, 'x', {}, { code: 'EWHAT', message: 'm' }, { code: 'ENOENT' }, { code: 'ENOENT', message: 'x'.repeat(5000) }]) {
      expect(TesseraError.fromWire(bad).code).to.equal('PROTOCOL')
    }
  })

  it('drops unknown or oversized details', () => {
    const e = TesseraError.fromWire({ code: 'NOT_LEADER', message: 'm', details: { leaderHint: 'x'.repeat(600), other: 1 } })
    expect(e.details).to.equal(undefined)
  })

  it('compares by code and wraps foreign errors as EIO', () => {
    expect(hasCode(new TesseraError('EEXIST', 'm'), 'ENOENT', 'EEXIST')).to.equal(true)
    expect(hasCode(new Error('EEXIST'), 'EEXIST')).to.equal(false)
    expect(asTesseraError(new Error('boom')).code).to.equal('EIO')
  })
})
