/** Drives a Namespace the way the Raft driver will: increasing indexes, one session, leader times. */
import {
  FileMode, ROOT_INO, type AttrReply, type Credentials, type MetaQuery, type MetaRequest, type MetaResult,
  type ReplyOf, type Timespec,
} from '@tessera/protocol'
import { expect } from 'chai'
import { Namespace, type ClientReplyOf, type NamespaceOptions, type SystemReplyOf, type SystemRequest } from '../src/index.js'

export const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
export const ALICE: Credentials = { uid: 1000, gid: 1000, groups: [] }
export const BOB: Credentials = { uid: 1001, gid: 1001, groups: [50] }
export const CAROL: Credentials = { uid: 1002, gid: 1002, groups: [1000] }

export { ROOT_INO, FileMode }

export function ok<T>(result: MetaResult<T>): T {
  if (!result.ok) expect.fail(`expected success, got ${result.error.code}: ${result.error.message}`)
  return result.value
}

/** The error code of a result, or 'OK'. */
export function code(result: MetaResult<unknown>): string {
  return result.ok ? 'OK' : result.error.code
}

export class Harness {
  readonly ns: Namespace
  index = 0
  seq = 0
  /** Leader time of the next command; advances 1 ms per command. */
  now: Timespec = { sec: 1_700_000_000, nsec: 0 }
  session = 'session-1'

  constructor(options: Partial<NamespaceOptions> = {}, ns?: Namespace) {
    this.ns = ns ?? new Namespace(options)
    this.index = this.ns.appliedIndex
    if (ns === undefined) this.system({ op: 'openSession', session: this.session })
  }

  /** A harness over `ns` that continues where `other` stands (index, seq, time, session). */
  static continuing(ns: Namespace, other: Harness): Harness {
    const h = new Harness({}, ns)
    h.index = other.index
    h.seq = other.seq
    h.now = other.now
    h.session = other.session
    return h
  }

  private tick(): Timespec {
    const time = this.now
    const nsec = time.nsec + 1_000_000
    this.now = nsec >= 1e9 ? { sec: time.sec + 1, nsec: nsec - 1e9 } : { sec: time.sec, nsec }
    return time
  }

  /**
   * A commitFile without `written` is taken as the commit of blocks just written to servers the
   * map does not know (meta refuses blocks it knows no copy of): unit tests name blocks freely.
   */
  call<R extends MetaRequest>(req: R): MetaResult<ClientReplyOf<R>> {
    const sent = req.op === 'commitFile' && req.written === undefined
      ? { ...req, written: req.blocks.map((ref) => ({ ref, servers: [] })) }
      : req
    return this.ns.apply({ kind: 'client', index: ++this.index, time: this.tick(), session: this.session, seq: ++this.seq, req: sent })
  }

  system<R extends SystemRequest>(req: R): MetaResult<SystemReplyOf<R>> {
    return this.ns.apply({ kind: 'system', index: ++this.index, time: this.tick(), req })
  }

  read<Q extends MetaQuery>(query: Q): MetaResult<ReplyOf<Q>> {
    return this.ns.read(query)
  }

  mkdir(parent: number, name: string, mode = 0o755, cred = ROOT): number {
    return ok(this.call({ op: 'mkdir', cred, parent, name, mode })).attr.ino
  }

  create(parent: number, name: string, mode = 0o644, cred = ROOT): number {
    return ok(this.call({ op: 'create', cred, parent, name, mode, exclusive: true })).attr.ino
  }

  attr(ino: number): AttrReply['attr'] {
    return ok(this.read({ op: 'getattr', ino })).attr
  }

  lookup(parent: number, name: string, cred = ROOT): MetaResult<AttrReply> {
    return this.read({ op: 'lookup', cred, parent, name })
  }

  names(dir: number, cred = ROOT): string[] {
    return ok(this.read({ op: 'readdir', cred, ino: dir, limit: 4096 })).entries.map((e) => e.name)
  }

  chmod(ino: number, mode: number, cred = ROOT): void {
    ok(this.call({ op: 'setattr', cred, ino, mode }))
  }

  chown(ino: number, uid: number, gid: number, cred = ROOT): void {
    ok(this.call({ op: 'setattr', cred, ino, uid, gid }))
  }
}

/** A block key for tests: 16 hex digits from a number. */
export function key(n: number): string {
  return n.toString(16).padStart(16, '0')
}
