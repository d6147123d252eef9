import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { expect } from 'chai'
import { freePort } from '../src/local/ports.js'

function ephemeralStart(): number {
  return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
}

describe('freePort', () => {
  it('picks a listenable port below the kernel ephemeral range', async () => {
    const port = await freePort('127.0.0.1')
    expect(port).to.be.below(ephemeralStart())
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', resolve)
    })
    await new Promise((resolve) => server.close(resolve))
  })

  it('never returns a port it is told to avoid', async () => {
    const taken = new Set<number>()
    for (let i = 0; i < 30; i++) {
      const port = await freePort('127.0.0.1', taken)
      expect(taken.has(port)).to.equal(false)
      taken.add(port)
    }
  })
})
