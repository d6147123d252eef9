/**
 * The test-only RPC catalogue a KV node process serves to clients (merged with
 * protocolCatalogue, which brings `raft.step` and `ping`).
 */
import { mergeCatalogues, protocolCatalogue, s, type Catalogue } from '@tessera/protocol'

const key = s.str(256, 1)
const value = s.str(4096)

export const kvMethods = {
  methods: {
    /** Replicates key=value; answers with the value the key held before, if any (exactly once per client/seq). */
    'kv.put': {
      request: s.object({ client: s.str(128, 1), seq: s.uint(), key, value }),
      response: s.object({ existed: s.bool(), previous: value }),
    },
    /** A linearizable read (ReadIndex on the leader). */
    'kv.get': {
      request: s.object({ key }),
      response: s.object({ found: s.bool(), value }),
    },
    /** This member's applied state, for checks after a run (not linearizable). */
    'kv.dump': {
      request: s.object({}),
      response: s.object({ applied: s.uint(), pairs: s.array(s.object({ key, value }), 1_000_000) }),
    },
  },
  notifications: {},
} as const satisfies Catalogue

export const kvCatalogue = mergeCatalogues(protocolCatalogue, kvMethods)
export type KvCatalogue = typeof kvCatalogue
