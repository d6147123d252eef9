import { expect } from 'chai'
import { DAEMON_GLIBC_TUNABLES, daemonEnv } from '../src/local/processes.js'

describe('daemon environment', () => {
  const saved = process.env.GLIBC_TUNABLES
  afterEach(() => {
    if (saved === undefined) delete process.env.GLIBC_TUNABLES
    else process.env.GLIBC_TUNABLES = saved
  })

  it('raises malloc\'s mmap threshold for daemons, keeping the rest of the environment', () => {
    delete process.env.GLIBC_TUNABLES
    const env = daemonEnv()
    expect(env.GLIBC_TUNABLES).to.equal(DAEMON_GLIBC_TUNABLES)
    expect(env.PATH).to.equal(process.env.PATH)
  })

  it('leaves an operator\'s own GLIBC_TUNABLES alone', () => {
    process.env.GLIBC_TUNABLES = 'glibc.malloc.arena_max=2'
    expect(daemonEnv().GLIBC_TUNABLES).to.equal('glibc.malloc.arena_max=2')
  })
})
