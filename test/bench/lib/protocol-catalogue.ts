/** The methods the protocol benchmark calls: bench-only, beside the production catalogue. */
import { s, mergeCatalogues, protocolCatalogue, type Catalogue } from '@tessera/protocol'

export const benchCatalogue = mergeCatalogues(protocolCatalogue, {
  methods: {
    echo: { request: s.object({ text: s.str(4096) }), response: s.object({ text: s.str(4096) }) },
    'blob.put': { request: s.object({}), response: s.object({ bytes: s.uint() }), requestStream: true },
  },
  notifications: {},
} as const satisfies Catalogue)

export const BENCH_SECRET = Buffer.alloc(32, 42)

/** Ports the child reports once its servers listen. */
export interface ServerPorts {
  rpc: number
  ws: number
  tcpEcho: number
  tcpSink: number
  bufferutil: boolean
}
