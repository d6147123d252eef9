/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4): each request remembers the commit
 * index when it arrived and collects heartbeat acknowledgements carrying its context. Once a
 * quorum has acknowledged a request, it and every earlier request are answered (a quorum
 * confirming leadership after a later request also confirms it after the earlier ones).
 */
import type { NodeId } from '@tessera/protocol'

export interface ReadRequest {
  index: number
  context: Uint8Array
  key: string
  acks: Set<NodeId>
}

export function contextKey(ctx: Uint8Array): string {
  let s = ''
  for (const b of ctx) s += b.toString(16).padStart(2, '0')
  return s
}

export class ReadOnly {
  private readonly queue: ReadRequest[] = []
  private readonly byKey = new Map<string, ReadRequest>()

  get size(): number {
    return this.queue.length
  }

  has(ctx: Uint8Array): boolean {
    return this.byKey.has(contextKey(ctx))
  }

  add(index: number, context: Uint8Array): void {
    const key = contextKey(context)
    if (this.byKey.has(key)) return
    const req: ReadRequest = { index, context, key, acks: new Set() }
    this.queue.push(req)
    this.byKey.set(key, req)
  }

  /** Records an acknowledgement; returns who has acknowledged that request so far. */
  recvAck(from: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const req = this.byKey.get(contextKey(context))
    if (req === undefined) return undefined
    req.acks.add(from)
    return req.acks
  }

  /** Removes and returns every request up to and including the one with `context`. */
  advance(context: Uint8Array): ReadRequest[] {
    const key = contextKey(context)
    const at = this.queue.findIndex((r) => r.key === key)
    if (at < 0) return []
    const done = this.queue.splice(0, at + 1)
    for (const r of done) this.byKey.delete(r.key)
    return done
  }

  /** The context of the newest pending request (heartbeats carry it), if any. */
  lastContext(): Uint8Array | undefined {
    return this.queue[this.queue.length - 1]?.context
  }

  clear(): void {
    this.queue.length = 0
    this.byKey.clear()
  }
}
