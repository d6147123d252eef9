import { execFile } from 'node:child_process'
import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { DATA_GLIBC_TUNABLES, DATA_NODE_FLAGS } from '@tessera/client'
import { daemonEnv, tesseraBin } from '../src/local/processes.js'

describe('daemon environment', () => {
  const saved = process.env.GLIBC_TUNABLES
  afterEach(() => {
    if (saved === undefined) delete process.env.GLIBC_TUNABLES
    else process.env.GLIBC_TUNABLES = saved
  })

  it('raises malloc\'s mmap threshold for daemons, keeping the rest of the environment', () => {
    delete process.env.GLIBC_TUNABLES
    const env = daemonEnv()
    expect(env.GLIBC_TUNABLES).to.equal(DATA_GLIBC_TUNABLES)
    expect(env.PATH).to.equal(process.env.PATH)
  })

  it('leaves an operator\'s own GLIBC_TUNABLES alone', () => {
    process.env.GLIBC_TUNABLES = 'glibc.malloc.arena_max=2'
    expect(daemonEnv().GLIBC_TUNABLES).to.equal('glibc.malloc.arena_max=2')
  })

  it('bin/tessera.js runs as an executable, its shebang setting the same tunables and V8 flags', async () => {
    const shebang = readFileSync(tesseraBin(), 'utf8').split('\n')[0]!
    expect(shebang).to.match(/^#!\/usr\/bin\/env -S /)
    expect(shebang).to.contain(`GLIBC_TUNABLES=${DATA_GLIBC_TUNABLES} node `)
    for (const flag of DATA_NODE_FLAGS) expect(shebang).to.contain(` ${flag}`)
    const probe = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(tesseraBin(), ['--help'], { timeout: 20_000 }, (error, out) => resolve({ code: error === null ? 0 : 1, out }))
    })
    expect(probe.code).to.equal(0)
    expect(probe.out).to.contain('Usage: tessera')
  })
})
