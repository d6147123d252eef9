/**
 * Counts of the round trips a Vfs causes, by kind, so that the cost of a FUSE operation sequence
 * can be measured (the mount logs them at unmount; `Vfs.stats()` returns them at any time):
 *
 * - `meta.write.<op>`: namespace changes (each one Raft commit);
 * - `meta.read.<op>`: namespace queries (each one ReadIndex on the leader);
 * - `cluster.<method>`: cluster-map calls of the data path (placeBlock, locateBlock, blocksWritten;
 *   `cluster.locateBlock.cached` counts locations served from the cache instead);
 * - `chunk.call`: calls on chunk servers (block.read, block.write to a chain's head).
 */
import type { MetaRequest, MetaQuery, ReplyOf } from '@tessera/protocol'

export class CallStats {
  private readonly counts = new Map<string, number>()

  add(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n)
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0
  }

  /** The counts by name, sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
}

/** The two calls the VFS makes on the namespace (MetaClient has them). */
export interface NamespaceCalls {
  exec<R extends MetaRequest>(req: R): Promise<ReplyOf<R>>
  query<Q extends MetaQuery>(query: Q): Promise<ReplyOf<Q>>
}

/** `calls`, counting each change and query in `stats`. */
export function countedNamespace(calls: NamespaceCalls, stats: CallStats): NamespaceCalls {
  return {
    exec: (req) => {
      stats.add(`meta.write.${req.op}`)
      return calls.exec(req)
    },
    query: (query) => {
      stats.add(`meta.read.${query.op}`)
      return calls.query(query)
    },
  }
}
