/**
 * An in-memory network for RaftNodes in one process: each send is encoded and decoded with
 * the wire codec and validated against the `raft.step` schema (so what works here also
 * survives the wire), then delivered on a later turn of the event loop. A member can be cut
 * off (both directions) and healed, to make it lag behind.
 */
import { decodeValue, encodeValue, protocolCatalogue, type NodeId, type RaftMessage } from '@tessera/protocol'
import type { RaftTransport } from '../../src/driver/index.js'
import { splitBatches, type RaftStepTarget } from '../../src/driver/index.js'

export class LoopbackNetwork {
  private readonly targets = new Map<NodeId, RaftStepTarget>()
  private readonly isolated = new Set<NodeId>()
  delivered = 0
  dropped = 0

  /** The node that receives messages addressed to `id` (undefined detaches it). */
  attach(id: NodeId, target: RaftStepTarget | undefined): void {
    if (target === undefined) this.targets.delete(id)
    else this.targets.set(id, target)
  }

  isolate(id: NodeId): void {
    this.isolated.add(id)
  }

  heal(id: NodeId): void {
    this.isolated.delete(id)
  }

  transport(from: NodeId): RaftTransport {
    let closed = false
    return {
      send: (messages) => {
        if (closed) return
        for (const batch of splitBatches(messages)) this.carry(from, batch)
      },
      setPeers: () => undefined,
      close: async () => {
        closed = true
      },
    }
  }

  private carry(from: NodeId, batch: readonly RaftMessage[]): void {
    const schema = protocolCatalogue.notifications['raft.step']
    const wire = encodeValue({ messages: batch })
    setImmediate(() => {
      const { messages } = schema.parse(decodeValue(wire), 'raft.step')
      const byTarget = new Map<NodeId, RaftMessage[]>()
      for (const m of messages) {
        if (this.isolated.has(from) || this.isolated.has(m.to) || !this.targets.has(m.to)) {
          this.dropped++
          continue
        }
        const list = byTarget.get(m.to)
        if (list === undefined) byTarget.set(m.to, [m])
        else list.push(m)
      }
      for (const [to, list] of byTarget) {
        this.delivered += list.length
        this.targets.get(to)!.step(list)
      }
    })
  }
}
