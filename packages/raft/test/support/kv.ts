/**
 * A small key-value RaftStateMachine for the driver's tests and benchmark: msgpackr-encoded
 * commands, client sessions for exactly-once retries (DESIGN.md decision 3), and a snapshot
 * of the whole map plus the sessions.
 */
import { Packr } from 'msgpackr'
import { TesseraError, type Entry } from '@tessera/protocol'
import type { RaftStateMachine } from '../../src/driver/index.js'

export type KvCommand =
  | { op: 'put'; key: string; value: string; client?: string; seq?: number }
  | { op: 'del'; key: string; client?: string; seq?: number }

/** put and del answer with the value the key held before (null when absent). */
export type KvResult = string | null

const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return packr.pack(cmd)
}

/** Undefined for bytes that are not a well-formed command. */
export function decodeKvCommand(data: Uint8Array): KvCommand | undefined {
  let value: unknown
  try {
    value = packr.unpack(data)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { op, key, value: v, client, seq } = value as Record<string, unknown>
  if (typeof key !== 'string') return undefined
  if (client !== undefined && (typeof client !== 'string' || typeof seq !== 'number')) return undefined
  const session = client === undefined ? {} : { client, seq: seq as number }
  if (op === 'put' && typeof v === 'string') return { op, key, value: v, ...session }
  if (op === 'del') return { op, key, ...session }
  return undefined
}

interface Session {
  seq: number
  result: KvResult
}

export class KvStore implements RaftStateMachine {
  private data = new Map<string, string>()
  private sessions = new Map<string, Session>()
  /** Commands executed (not answered from a session). */
  executed = 0

  apply(entry: Entry): KvResult | undefined {
    const cmd = decodeKvCommand(entry.data)
    if (cmd === undefined) return undefined
    if (cmd.client !== undefined && cmd.seq !== undefined) {
      const session = this.sessions.get(cmd.client)
      if (session !== undefined && cmd.seq <= session.seq) return cmd.seq === session.seq ? session.result : undefined
    }
    const previous = this.data.get(cmd.key) ?? null
    if (cmd.op === 'put') this.data.set(cmd.key, cmd.value)
    else this.data.delete(cmd.key)
    this.executed++
    if (cmd.client !== undefined && cmd.seq !== undefined) this.sessions.set(cmd.client, { seq: cmd.seq, result: previous })
    return previous
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null
  }

  get size(): number {
    return this.data.size
  }

  entries(): [string, string][] {
    return [...this.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  snapshot(): Promise<Uint8Array> {
    // Captured now, encoded now: the driver goes on applying while the promise is pending.
    const bytes = packr.pack({
      data: [...this.data],
      sessions: [...this.sessions].map(([client, s]) => [client, s.seq, s.result]),
    })
    return Promise.resolve(bytes)
  }

  restore(bytes: Uint8Array): void {
    let value: unknown
    try {
      value = packr.unpack(bytes)
    } catch (err) {
      throw new TesseraError('EIO', `kv snapshot does not decode: ${(err as Error).message}`)
    }
    const { data, sessions } = (value ?? {}) as Record<string, unknown>
    if (!Array.isArray(data) || !Array.isArray(sessions)) throw new TesseraError('EIO', 'kv snapshot is malformed')
    const nextData = new Map<string, string>()
    for (const pair of data) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw new TesseraError('EIO', 'kv snapshot has a bad pair')
      }
      nextData.set(pair[0], pair[1])
    }
    const nextSessions = new Map<string, Session>()
    for (const s of sessions) {
      if (!Array.isArray(s) || typeof s[0] !== 'string' || typeof s[1] !== 'number') throw new TesseraError('EIO', 'kv snapshot has a bad session')
      nextSessions.set(s[0], { seq: s[1], result: typeof s[2] === 'string' ? s[2] : null })
    }
    this.data = nextData
    this.sessions = nextSessions
  }
}
