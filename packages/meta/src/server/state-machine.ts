/**
 * The namespace as the Raft driver's state machine: entries are decoded with decodeCommand and
 * applied to the Namespace; snapshots are the Namespace's chunks, framed, behind a small header.
 *
 * Snapshot bytes: u32 BE open-session count, then each FSM chunk as u32 BE length + bytes.
 * The view is captured synchronously (Namespace.snapshot() is an O(1) copy-on-write clone);
 * the chunks are then pulled a few at a time between turns of the event loop, so a large
 * namespace does not stall request handling while it is serialized.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { TesseraError, type Entry, type Logger, type MetaResult } from '@tessera/protocol'
import type { RaftStateMachine } from '@tessera/raft'
import { Namespace, decodeCommand, type MetaCommand, type NamespaceOptions } from '../fsm/index.js'
import { LockWaiters } from './lock-waiters.js'

/** Chunks serialized per turn of the event loop (each is ~256 KiB at most). */
const CHUNKS_PER_TURN = 4
const U32 = 4

export interface ApplyObserver {
  (seconds: number): void
}

export class NamespaceStateMachine implements RaftStateMachine {
  private ns: Namespace
  private openSessions = 0
  /** Lock calls held open on this member, woken by the applies that grant their locks. */
  readonly lockWaiters = new LockWaiters()

  constructor(
    options: Partial<NamespaceOptions>,
    private readonly logger: Logger,
    private readonly observeApply: ApplyObserver = () => undefined,
  ) {
    this.ns = new Namespace(options)
    this.ns.onLockGrants((grants) => this.lockWaiters.notify(grants))
  }

  /** The namespace as applied so far (read it; never apply to it directly). */
  get namespace(): Namespace {
    return this.ns
  }

  /** Sessions open in the applied state. */
  get sessions(): number {
    return this.openSessions
  }

  apply(entry: Entry): MetaResult<unknown> {
    let cmd: MetaCommand
    try {
      cmd = decodeCommand(entry.data, entry.index)
    } catch (err) {
      // Only a leader's bug could put such an entry in the log; every member answers the same.
      this.logger.error({ index: entry.index, err: (err as Error).message }, 'meta: undecodable log entry skipped')
      return { ok: false, error: { code: 'PROTOCOL', message: `entry ${entry.index}: ${(err as Error).message}` } }
    }
    const started = process.hrtime.bigint()
    const sessionsBefore = this.sessionDelta(cmd)
    const result = this.ns.apply(cmd)
    if (result.ok) this.openSessions += sessionsBefore(result.value)
    this.observeApply(Number(process.hrtime.bigint() - started) / 1e9)
    return result
  }

  async snapshot(): Promise<Uint8Array> {
    const writer = this.ns.snapshot()
    const sessions = this.openSessions
    const parts: Uint8Array[] = [u32(sessions)]
    let total = U32
    let pulled = 0
    for (const chunk of writer) {
      parts.push(u32(chunk.byteLength), chunk)
      total += U32 + chunk.byteLength
      if (++pulled % CHUNKS_PER_TURN === 0) await yieldToLoop()
    }
    return Buffer.concat(parts, total)
  }

  restore(data: Uint8Array): void {
    const { sessions, chunks } = splitSnapshot(data)
    this.ns.onLockGrants(undefined)
    this.ns = Namespace.restore(chunks)
    this.ns.onLockGrants((grants) => this.lockWaiters.notify(grants))
    this.lockWaiters.wakeAll()
    this.openSessions = sessions
    this.logger.info({ applied: this.ns.appliedIndex, sessions }, 'meta: namespace restored from a snapshot')
  }

  /** How a successful command changes the open-session count (decided before it applies). */
  private sessionDelta(cmd: MetaCommand): (value: unknown) => number {
    if (cmd.kind !== 'system') return () => 0
    const req = cmd.req
    switch (req.op) {
      case 'openSession': {
        const isNew = !this.ns.hasSession(req.session)
        return () => (isNew ? 1 : 0)
      }
      case 'closeSession': {
        const existed = this.ns.hasSession(req.session)
        return () => (existed ? -1 : 0)
      }
      case 'expireSessions':
        return (value) => -(value as { expired: number }).expired
      default:
        return () => 0
    }
  }
}

function u32(value: number): Uint8Array {
  const bytes = Buffer.alloc(U32)
  bytes.writeUInt32BE(value, 0)
  return bytes
}

function splitSnapshot(data: Uint8Array): { sessions: number; chunks: Uint8Array[] } {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (bytes.byteLength < U32) throw new TesseraError('PROTOCOL', 'meta snapshot: too short')
  const sessions = bytes.readUInt32BE(0)
  const chunks: Uint8Array[] = []
  let at = U32
  while (at < bytes.byteLength) {
    if (at + U32 > bytes.byteLength) throw new TesseraError('PROTOCOL', 'meta snapshot: truncated chunk length')
    const length = bytes.readUInt32BE(at)
    at += U32
    if (at + length > bytes.byteLength) throw new TesseraError('PROTOCOL', 'meta snapshot: truncated chunk')
    chunks.push(bytes.subarray(at, at + length))
    at += length
  }
  return { sessions, chunks }
}
