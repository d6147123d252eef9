import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** Lowest port a local cluster uses when the kernel's ephemeral range leaves room below it. */
const LOWEST_PORT = 10_000
const PROBES = 64

/**
 * A free TCP port on `host` for a daemon that binds it later (the probe's socket is closed
 * before returning). Ports are drawn at random from below the kernel's ephemeral range: a port
 * the kernel handed out with port 0 sits in that range, where any outgoing connection (a ws
 * client, a test) can take it as its source port before the daemon binds it; below the range
 * only another listener can, and `avoid` keeps the ports of one plan distinct.
 */
export async function freePort(host = '127.0.0.1', avoid: ReadonlySet<number> = new Set()): Promise<number> {
  const ceiling = ephemeralRangeStart()
  if (ceiling > LOWEST_PORT + PROBES) {
    for (let probe = 0; probe < PROBES; probe++) {
      const port = LOWEST_PORT + Math.floor(Math.random() * (ceiling - LOWEST_PORT))
      if (avoid.has(port)) continue
      if (await canListen(host, port)) return port
    }
  }
  return kernelPort(host)
}

function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    return low !== undefined && Number.isInteger(low) ? low : 0
  } catch {
    return 0
  }
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
