/**
 * The chunk servers of a local cluster: planned once (ids, loopback ports, data in D/chunk/<id>),
 * started as detached `tessera chunk` processes, and waited for until meta lists them all up.
 */
import { join, resolve } from 'node:path'
import { MetaCalls } from '@tessera/client'
import { TesseraError, asTesseraError } from '@tessera/protocol'
import type { LocalDaemon } from './local-state.js'
import { freePort } from './ports.js'
import { isOurProcess } from './processes.js'

/** Ids c<first>..c<first+count-1>, a free loopback port each, logs in DIR/logs/<id>.log. */
export async function planChunks(dir: string, count: number, metaAddresses: readonly string[], first = 1): Promise<LocalDaemon[]> {
  const root = resolve(dir)
  const planned: LocalDaemon[] = []
  const taken = new Set(metaAddresses.map((address) => Number(address.slice(address.lastIndexOf(':') + 1))))
  for (let i = first; i < first + count; i++) {
    const id = `c${i}`
    const port = await freePort('127.0.0.1', taken)
    taken.add(port)
    const address = `127.0.0.1:${port}`
    const dataDir = join(root, 'chunk', id)
    planned.push({
      id, address, dataDir, logFile: join(root, 'logs', `${id}.log`), pid: 0,
      args: ['chunk', '--id', id, '--data', dataDir, '--listen', address, '--meta', metaAddresses.join(','), '--cluster', root],
    })
  }
  return planned
}

export async function runningChunks(chunks: readonly LocalDaemon[]): Promise<boolean[]> {
  return Promise.all(chunks.map((c) => c.pid > 0 && isOurProcess(c.pid, c.dataDir)))
}

/** Resolves once meta lists every one of `chunks` as up; rejects on timeout or if one exits. */
export async function waitForChunks(
  chunks: readonly LocalDaemon[], metaAddresses: readonly string[], secret: Uint8Array, timeoutMs: number,
): Promise<void> {
  const calls = new MetaCalls({ addresses: metaAddresses, secret, deadlineMs: 1000 })
  const deadline = Date.now() + timeoutMs
  let missing = chunks.map((c) => c.id)
  let lastError: TesseraError | undefined
  try {
    while (Date.now() < deadline) {
      const alive = await runningChunks(chunks)
      const dead = chunks.filter((_, i) => !alive[i])
      if (dead.length > 0) throw new TesseraError('UNAVAILABLE', `chunk ${dead.map((c) => c.id).join(', ')} exited during start-up`)
      try {
        const { servers } = await calls.call('meta.chunkServers', {})
        const up = new Set(servers.filter((s) => s.state === 'up').map((s) => s.id))
        missing = chunks.map((c) => c.id).filter((id) => !up.has(id))
        if (missing.length === 0) return
      } catch (err) {
        lastError = asTesseraError(err)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new TesseraError('ETIMEDOUT', `chunk server(s) ${missing.join(', ')} did not register within ${timeoutMs} ms` +
      (lastError === undefined ? '' : ` (last error: ${lastError.message})`))
  } finally {
    await calls.close()
  }
}
