/**
 * The simulator's replicated state machine: a small key-value store with client sessions for
 * exactly-once commands (DESIGN.md decision 3). A retried command (same client, same sequence
 * number) returns the first answer instead of applying twice. Pure and deterministic.
 */
export type KvOp = 'put' | 'get' | 'cas' | 'delete'

export interface KvCommand {
  client: string
  seq: number
  op: KvOp
  key: string
  /** put: the value; cas: the new value. */
  value?: string
  /** cas: the value expected, null for "absent". */
  expected?: string | null
}

/** get: the value or null; cas: whether it swapped; put: true; delete: whether the key existed. */
export type KvResult = string | null | boolean

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd))
}

/** Undefined for bytes that are not a command (e.g. a leader's empty no-op). */
export function decodeCommand(data: Uint8Array): KvCommand | undefined {
  if (data.length === 0) return undefined
  try {
    const v = JSON.parse(decoder.decode(data)) as KvCommand
    if (typeof v.client !== 'string' || typeof v.seq !== 'number' || typeof v.key !== 'string') return undefined
    return v
  } catch {
    return undefined
  }
}

interface Session {
  seq: number
  result: KvResult
}

export class KvStateMachine {
  private data = new Map<string, string>()
  private sessions = new Map<string, Session>()
  /** Commands applied for the first time (not answered from a session). */
  executed = 0

  /**
   * Applies a command. Returns its result, or undefined for a stale duplicate (a sequence
   * number below the session's last: its client has moved on and waits for nothing).
   */
  apply(cmd: KvCommand): KvResult | undefined {
    const session = this.sessions.get(cmd.client)
    if (session !== undefined && cmd.seq <= session.seq) return cmd.seq === session.seq ? session.result : undefined
    const result = this.execute(cmd)
    this.sessions.set(cmd.client, { seq: cmd.seq, result })
    this.executed++
    return result
  }

  read(key: string): string | null {
    return this.data.get(key) ?? null
  }

  private execute(cmd: KvCommand): KvResult {
    const current = this.data.get(cmd.key) ?? null
    switch (cmd.op) {
      case 'get':
        return current
      case 'put':
        this.data.set(cmd.key, cmd.value ?? '')
        return true
      case 'delete':
        this.data.delete(cmd.key)
        return current !== null
      case 'cas':
        if (current !== (cmd.expected ?? null)) return false
        this.data.set(cmd.key, cmd.value ?? '')
        return true
    }
  }

  snapshot(): Uint8Array {
    const data = [...this.data.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    const sessions = [...this.sessions.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    return encoder.encode(JSON.stringify({ data, sessions, executed: this.executed }))
  }

  static restore(bytes: Uint8Array | undefined): KvStateMachine {
    const kv = new KvStateMachine()
    if (bytes === undefined || bytes.length === 0) return kv
    const v = JSON.parse(decoder.decode(bytes)) as { data: Array<[string, string]>; sessions: Array<[string, Session]>; executed: number }
    kv.data = new Map(v.data)
    kv.sessions = new Map(v.sessions)
    kv.executed = v.executed
    return kv
  }
}
