/**
 * The meta members of a local cluster: planned once (ids, loopback ports, data dirs, flags),
 * started as detached `tessera meta` processes, and waited for until a leader answers.
 */
import { open } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { MetaClient } from '@tessera/client'
import { ROOT_INO, TesseraError, asTesseraError } from '@tessera/protocol'
import { freePort } from './ports.js'
import { isOurProcess } from './processes.js'
import type { LocalDaemon } from './local-state.js'

/**
 * Ids m1..mN, a free loopback port each, data in DIR/meta/<id>, logs in DIR/logs/<id>.log;
 * `extraArgs` go to every member's command line.
 */
export async function planMetas(dir: string, count: number, extraArgs: readonly string[] = []): Promise<LocalDaemon[]> {
  const root = resolve(dir)
  const members: { id: string; address: string }[] = []
  const taken = new Set<number>()
  for (let i = 1; i <= count; i++) {
    const port = await freePort('127.0.0.1', taken)
    taken.add(port)
    members.push({ id: `m${i}`, address: `127.0.0.1:${port}` })
  }
  const peers = members.map((m) => `${m.id}=${m.address}`).join(',')
  return members.map(({ id, address }) => {
    const dataDir = join(root, 'meta', id)
    return {
      id, address, dataDir, logFile: join(root, 'logs', `${id}.log`), pid: 0,
      args: ['meta', '--id', id, '--data', dataDir, '--listen', address, '--peers', peers, '--cluster', root, ...extraArgs],
    }
  })
}

export async function runningMetas(metas: readonly LocalDaemon[]): Promise<boolean[]> {
  return Promise.all(metas.map((m) => m.pid > 0 && isOurProcess(m.pid, m.dataDir)))
}

/**
 * Resolves once a leader answers a linearizable read; rejects when `timeoutMs` passes or a
 * started member exits.
 */
export async function waitForLeader(metas: readonly LocalDaemon[], secret: Uint8Array, timeoutMs: number): Promise<void> {
  const client = new MetaClient({ addresses: metas.map((m) => m.address), secret, sessions: 1, attemptTimeoutMs: 1000 })
  const deadline = Date.now() + timeoutMs
  let lastError: TesseraError | undefined
  try {
    while (Date.now() < deadline) {
      const alive = await runningMetas(metas)
      const dead = metas.filter((_, i) => !alive[i])
      if (dead.length > 0) throw new TesseraError('UNAVAILABLE', `meta ${dead.map((m) => m.id).join(', ')} exited during start-up`)
      try {
        await client.query({ op: 'getattr', ino: ROOT_INO }, { deadlineMs: Math.min(1000, Math.max(1, deadline - Date.now())) })
        return
      } catch (err) {
        lastError = asTesseraError(err)
      }
    }
    throw new TesseraError('ETIMEDOUT', `no meta leader answered within ${timeoutMs} ms${lastError === undefined ? '' : ` (last error: ${lastError.message})`}`)
  } finally {
    await client.close()
  }
}

/** The last `lines` lines of a log file ('' when there is none). */
export async function tail(file: string, lines = 15): Promise<string> {
  try {
    const handle = await open(file, 'r')
    try {
      const { size } = await handle.stat()
      const length = Math.min(size, 64 * 1024)
      const buffer = Buffer.alloc(length)
      await handle.read(buffer, 0, length, size - length)
      return buffer.toString('utf8').split('\n').filter((l) => l !== '').slice(-lines).join('\n')
    } finally {
      await handle.close()
    }
  } catch {
    return ''
  }
}
