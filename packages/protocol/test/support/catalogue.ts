/** Test-only methods, served by startTestServer: vehicles for calls, streams and errors. */
import { setTimeout as sleep } from 'node:timers/promises'
import {
  s, mergeCatalogues, protocolCatalogue, RpcServer, TesseraError, isErrorCode, type Catalogue, type Handlers,
  type RpcServerOptions, type StreamReader,
} from '../../src/index.js'

export const testCatalogue = mergeCatalogues(protocolCatalogue, {
  methods: {
    echo: {
      request: s.object({ text: s.str(1 << 20), delayMs: s.optional(s.uint(10_000)) }),
      response: s.object({ text: s.str(1 << 20) }),
    },
    sleep: { request: s.object({ ms: s.uint(60_000) }), response: s.object({ slept: s.uint() }) },
    fail: { request: s.object({ code: s.str(32), message: s.str(1000) }), response: s.object({}) },
    /** A buggy handler: answers something msgpack cannot carry, or that breaks the response schema. */
    misbehave: { request: s.object({ how: s.literal('unencodable', 'invalid') }), response: s.object({ ok: s.bool() }) },
    'blob.put': {
      request: s.object({ name: s.str(255), readDelayMs: s.optional(s.uint(1000)) }),
      response: s.object({ bytes: s.uint(), checksum: s.uint() }),
      requestStream: true,
    },
    'blob.get': {
      request: s.object({ bytes: s.uint(64 << 20), chunkBytes: s.int(1, 1 << 20) }),
      response: s.object({ bytes: s.uint() }),
      responseStream: true,
    },
  },
  notifications: { 'test.note': s.object({ n: s.uint() }) },
} as const satisfies Catalogue)

export type TestCatalogue = typeof testCatalogue

export const SECRET = Buffer.alloc(32, 7)
export const OTHER_SECRET = Buffer.alloc(32, 9)

/** A position-sensitive checksum over every byte (Fletcher-like), so reordered or reused buffers show. */
export function checksum(state: { sum: number; pos: number }, chunk: Uint8Array): void {
  let { sum, pos } = state
  for (let i = 0; i < chunk.length; i++) sum = (sum * 31 + chunk[i]! + ((pos + i) & 0xff)) % 4294967291
  state.sum = sum
  state.pos = pos + chunk.length
}

/** What the test handlers observed, for assertions. */
export interface ServerProbe {
  aborted: number
  /** Largest bytes queued in a blob.put reader (received, not yet consumed). */
  maxReaderQueued: number
  /** Bytes blob.put handlers consumed so far. */
  consumed: number
}

export function testHandlers(probe: ServerProbe): Handlers<TestCatalogue> {
  return {
    echo: async ({ text, delayMs }, { signal }) => {
      if (delayMs) await sleep(delayMs, undefined, { signal })
      return { text }
    },
    sleep: async ({ ms }, { signal }) => {
      const started = Date.now()
      try {
        await sleep(ms, undefined, { signal })
      } catch (err) {
        probe.aborted++
        throw err
      }
      return { slept: Date.now() - started }
    },
    fail: ({ code, message }) => {
      throw new TesseraError(isErrorCode(code) ? code : 'EIO', message)
    },
    misbehave: ({ how }) => (how === 'unencodable' ? { ok: 2n ** 80n } : { ok: 'yes' }) as unknown as { ok: boolean },
    'blob.put': async ({ readDelayMs }, { requestStream }) => {
      return readSlowly(requestStream, readDelayMs ?? 0, probe)
    },
    'blob.get': async ({ bytes, chunkBytes }, { responseStream }) => {
      let sent = 0
      let n = 0
      while (sent < bytes) {
        const size = Math.min(chunkBytes, bytes - sent)
        await responseStream.write(Buffer.alloc(size, n++ & 0xff))
        sent += size
      }
      return { bytes: sent }
    },
  }
}

async function readSlowly(reader: StreamReader, delayMs: number, probe: ServerProbe): Promise<{ bytes: number; checksum: number }> {
  const state = { sum: 0, pos: 0 }
  for await (const chunk of reader) {
    probe.maxReaderQueued = Math.max(probe.maxReaderQueued, reader.queuedBytes + chunk.byteLength)
    if (delayMs > 0) await sleep(delayMs)
    checksum(state, chunk)
    probe.consumed += chunk.byteLength
  }
  return { bytes: state.pos, checksum: state.sum }
}

export async function startTestServer(
  extra: Partial<RpcServerOptions<TestCatalogue>> = {},
): Promise<{ server: RpcServer<TestCatalogue>; probe: ServerProbe; url: string }> {
  const probe: ServerProbe = { aborted: 0, maxReaderQueued: 0, consumed: 0 }
  const server = await RpcServer.listen({
    catalogue: testCatalogue,
    handlers: testHandlers(probe),
    secret: SECRET,
    serverId: 'srv-1',
    host: '127.0.0.1',
    port: 0,
    ...extra,
  })
  const { port } = server.address()
  return { server, probe, url: `ws://127.0.0.1:${port}` }
}

/** A small seeded PRNG (mulberry32) so that fuzz failures replay. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
