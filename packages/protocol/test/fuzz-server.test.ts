import { expect } from 'chai'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  FrameTag, RpcClient, RpcServer, checkFrame, decodeValue, encodeFrame, encodeValue, type Frame,
} from '../src/index.js'
import { startTestServer, testCatalogue, SECRET, prng, type TestCatalogue } from './support/catalogue.js'
import { rawAuthenticated, type RawPeer } from './support/raw.js'
import { frameSamples } from './support/samples.js'
import { mutate, mutateValue } from './support/fuzz.js'

const validBodies: Record<string, unknown> = {
  ping: { seq: 1 },
  echo: { text: 'hello', delayMs: 1 },
  sleep: { ms: 1 },
  fail: { code: 'EIO', message: 'boom' },
  'blob.put': { name: 'b' },
  'blob.get': { bytes: 10, chunkBytes: 5 },
}
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 10_000)
const methods = [...Object.keys(validBodies), 'nope', '']

/** The next fuzz input: mostly request-shaped (right envelope, mutated id, method or body). */
function nextFuzzFrame(rnd: () => number, lastId: number, encoded: Buffer[]): Buffer {
  if (rnd() >= 0.95) return mutate(rnd, encoded, frameSamples)
  if (rnd() < 0.03) {
    // A batch of request-shaped members (sometimes malformed itself).
    const members = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, k) =>
      [FrameTag.Request, lastId + 1 + k, methods[Math.floor(rnd() * methods.length)]!, mutateValue(rnd, structuredClone(validBodies.echo), 0)])
    const batch: unknown[] = [FrameTag.Batch, ...members]
    if (rnd() < 0.3) batch.push(rnd() < 0.5 ? [FrameTag.Batch, members[0]] : mutateValue(rnd, 0, 4))
    return encodeValue(batch)
  }
  const method = methods[Math.floor(rnd() * methods.length)]!
  const body = rnd() < 0.7 ? mutateValue(rnd, structuredClone(validBodies[method] ?? {}), 0) : validBodies[method]
  const id = rnd() < 0.99 ? lastId + 1 : Math.floor(rnd() * (lastId + 2))
  const value: unknown[] = [FrameTag.Request, id, method, body]
  if (rnd() < 0.03) value[Math.floor(rnd() * 4)] = mutateValue(rnd, 0, 4)
  return encodeFrame(value as Frame)
}

/** The numeric id in a frame's second slot, if any (the server's idea of "ids seen" follows it). */
function readId(bytes: Buffer): number {
  try {
    const v = decodeValue(bytes)
    if (Array.isArray(v) && v[0] === FrameTag.Batch) return Math.max(0, ...v.slice(1).map((m) => readIdOf(m)))
    return readIdOf(v)
  } catch {
    return 0
  }
}

function readIdOf(v: unknown): number {
  return Array.isArray(v) && typeof v[1] === 'number' && Number.isSafeInteger(v[1]) && v[1] > 0 ? v[1] : 0
}

/** What the server must do with a frame, judged locally with the same catalogue. */
function mustAnswerWithError(bytes: Buffer, lastId: number): number | undefined {
  let value: unknown
  try {
    value = decodeValue(bytes)
  } catch {
    return undefined
  }
  const check = checkFrame(value)
  if (!check.ok) return check.requestId !== undefined && check.requestId > lastId ? check.requestId : undefined
  const frame = check.frame
  if (frame[0] !== FrameTag.Request || frame[1] <= lastId) return undefined // batches land here: not judged
  const spec = Object.hasOwn(testCatalogue.methods, frame[2]) ? testCatalogue.methods[frame[2] as keyof TestCatalogue['methods']] : undefined
  if (spec === undefined) return frame[1]
  return spec.request.safeParse(frame[3]).ok ? undefined : frame[1]
}

describe('protocol/fuzz: a live RPC server under 10,000 random and mutated frames', function () {
  this.timeout(60_000)
  let server: RpcServer<TestCatalogue>
  let url: string

  before(async () => {
    ({ server, url } = await startTestServer())
  })

  after(async () => {
    await server.close()
  })

  it('answers each bad frame with a typed error or closes that connection, and keeps serving others', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)
    const rnd = prng(seed)
    const context = `replay with FUZZ_SEED=${seed}`
    const encoded = frameSamples.map((f) => encodeFrame(f))

    // A well-behaved client on another connection, calling all along.
    const good = new RpcClient({ url, catalogue: testCatalogue, secret: SECRET, clientId: 'good' })
    let goodCalls = 0
    let goodFailures = 0
    let fuzzing = true
    const goodLoop = (async () => {
      await good.ready()
      while (fuzzing) {
        try {
          const r = await good.call('echo', { text: `g${goodCalls}` })
          if (r.text !== `g${goodCalls}`) goodFailures++
        } catch {
          goodFailures++
        }
        goodCalls++
        await sleep(2) // steady traffic, without starving the fuzzer of CPU
      }
    })()

    const started = performance.now()
    let peer: RawPeer = await rawAuthenticated(url, SECRET, 'fuzzer')
    let lastId = 0 // the highest request id the server may have seen on this connection
    const stats = { frames: 0, closed: 0, answeredWithError: 0, accepted: 0 }
    const BATCH = 64
    try {
      while (stats.frames < FRAMES) {
        // A batch of fuzz frames, each followed by a ping probe: once the probe is answered, the
        // server has processed the frame before it (frames on one connection are handled in order).
        const batch: { bytes: Buffer; expectErrorFor: number | undefined; probeId: number }[] = []
        for (let k = 0; k < BATCH && stats.frames + batch.length < FRAMES; k++) {
          const bytes = nextFuzzFrame(rnd, lastId, encoded)
          const expectErrorFor = mustAnswerWithError(bytes, lastId)
          lastId = Math.max(lastId, readId(bytes)) + 1
          batch.push({ bytes, expectErrorFor, probeId: lastId })
        }
        const firstNew = peer.frames.length
        for (const { bytes, probeId } of batch) {
          peer.send(bytes)
          peer.send([FrameTag.Request, probeId, 'ping', { seq: probeId % 1000 }])
        }
        const lastProbe = batch[batch.length - 1]!.probeId
        try {
          await peer.next((f) => f[0] === FrameTag.Response && f[1] === lastProbe, 10_000)
        } catch {
          // closed part-way (or timed out: then the close-code check below fails)
        }
        expect(peer.undecodable, context).to.deep.equal([])
        const received = peer.frames.slice(firstNew)
        let cursor = 0
        let closedAt = -1
        for (let k = 0; k < batch.length; k++) {
          const { expectErrorFor, probeId } = batch[k]!
          const at = received.findIndex((f, n) => n >= cursor && f[0] === FrameTag.Response && f[1] === probeId)
          if (at < 0) {
            closedAt = k
            break
          }
          const answers = received.slice(cursor, at)
          cursor = at + 1
          stats.frames++
          if (expectErrorFor !== undefined) {
            const answer = answers.find((f) => f[0] === FrameTag.Error && f[1] === expectErrorFor)
            expect(answer, `${context}: frame ${stats.frames} (request ${expectErrorFor}) got no error`).to.not.equal(undefined)
            expect((answer as [number, number, { code: string }])[2].code, context).to.equal('PROTOCOL')
            stats.answeredWithError++
          } else {
            stats.accepted++
          }
        }
        if (closedAt >= 0) {
          // The first frame whose probe went unanswered closed the connection; later ones were dropped.
          const code = await Promise.race([peer.closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))])
          expect([1002, 1008, 1009], `${context}: frame ${stats.frames + 1} closed the connection with ${code}`).to.include(code)
          stats.frames++
          stats.closed++
          peer = await rawAuthenticated(url, SECRET, 'fuzzer')
          lastId = 0
        } else if (lastId > Number.MAX_SAFE_INTEGER - 1000) {
          await peer.close()
          peer = await rawAuthenticated(url, SECRET, 'fuzzer')
          lastId = 0
        }
        if (peer.frames.length > 4096) peer.frames.splice(0, peer.frames.length)
      }
    } finally {
      fuzzing = false
      await goodLoop
      await good.close()
      await peer.close()
    }
    if (process.env.FUZZ_VERBOSE) console.log(stats, { goodCalls, ms: Math.round(performance.now() - started) })
    expect(stats.frames).to.equal(FRAMES)
    expect(stats.answeredWithError, JSON.stringify(stats)).to.be.greaterThan(1000)
    expect(stats.closed, JSON.stringify(stats)).to.be.greaterThan(50)
    expect(goodFailures, context).to.equal(0)
    expect(goodCalls).to.be.greaterThan(100)
    // The server is still up and serving new connections.
    const after = await rawAuthenticated(url, SECRET, 'after')
    after.send([FrameTag.Request, 1, 'ping', { seq: 1 }])
    expect(await after.next()).to.deep.equal([FrameTag.Response, 1, { seq: 1, node: 'srv-1' }])
    await after.close()
  })
})
