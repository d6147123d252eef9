import { expect } from 'chai'
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer } from 'node:net'
import { createServer as createHttpsServer } from 'node:https'
import { readFileSync } from 'node:fs'
import { randomFillSync } from 'node:crypto'
import { WebSocketServer } from 'ws'
import {
  RpcClient, RpcServer, TesseraError, FrameTag, LIMITS, createLogger, protocolCatalogue, encodeFrame,
  type RpcClientOptions, type PeerConnection, type RaftMessage,
} from '../src/index.js'
import { startTestServer, testCatalogue, testHandlers, SECRET, OTHER_SECRET, checksum, type TestCatalogue, type ServerProbe } from './support/catalogue.js'
import { rawAuthenticated, rawConnect } from './support/raw.js'
import { raftSamples } from './support/samples.js'

async function expectError(promise: Promise<unknown>, code: string): Promise<TesseraError> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    expect((err as TesseraError).code, (err as Error).message).to.equal(code)
    return err as TesseraError
  }
  throw new Error(`expected ${code}, got success`)
}

function lineCollector(): { lines: string[]; destination: { write(line: string): void } } {
  const lines: string[] = []
  return { lines, destination: { write: (line: string) => { lines.push(line) } } }
}

describe('protocol/rpc over ws', function () {
  this.timeout(15_000)
  let server: RpcServer<TestCatalogue>
  let probe: ServerProbe
  let url: string
  const clients: RpcClient<TestCatalogue>[] = []

  function client(extra: Partial<RpcClientOptions<TestCatalogue>> = {}): RpcClient<TestCatalogue> {
    const c = new RpcClient({ url, catalogue: testCatalogue, secret: SECRET, clientId: 'c1', ...extra })
    clients.push(c)
    return c
  }

  beforeEach(async () => {
    ({ server, probe, url } = await startTestServer())
  })

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await server.close()
  })

  it('answers ping with the server id and proves identities both ways', async () => {
    const c = client()
    expect(await c.call('ping', { seq: 5 })).to.deep.equal({ seq: 5, node: 'srv-1' })
    expect(c.server?.id).to.equal('srv-1')
  })

  it('runs many calls in flight on one socket and matches each answer to its call', async () => {
    const c = client()
    await c.ready()
    const finished: number[] = []
    const calls = Array.from({ length: 500 }, (_, i) =>
      c.call('echo', { text: `m${i}`, delayMs: (i * 7919) % 20 }).then((r) => {
        finished.push(i)
        return r.text
      }))
    const answers = await Promise.all(calls)
    expect(answers).to.deep.equal(Array.from({ length: 500 }, (_, i) => `m${i}`))
    expect(finished).to.not.deep.equal([...finished].sort((a, b) => a - b)) // answers came out of order
    expect(c.connections).to.equal(1)
  })

  it('times out a slow call, and the server handler sees the cancellation', async () => {
    const c = client()
    await c.ready()
    const started = Date.now()
    const err = await expectError(c.call('sleep', { ms: 5000 }, { timeoutMs: 100 }), 'ETIMEDOUT')
    expect(err.message).to.match(/sleep timed out after 100 ms/)
    expect(Date.now() - started).to.be.lessThan(1000)
    for (let i = 0; i < 100 && probe.aborted === 0; i++) await sleep(10)
    expect(probe.aborted).to.equal(1)
    expect((await c.call('echo', { text: 'still fine' })).text).to.equal('still fine')
  })

  it('cancels a call through its AbortSignal', async () => {
    const c = client()
    await c.ready()
    const controller = new AbortController()
    const pending = c.call('sleep', { ms: 5000 }, { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await expectError(pending, 'ECANCELED')
    for (let i = 0; i < 100 && probe.aborted === 0; i++) await sleep(10)
    expect(probe.aborted).to.equal(1)
    await expectError(c.call('echo', { text: 'x' }, { signal: controller.signal }), 'ECANCELED')
  })

  it('carries typed errors from handlers', async () => {
    const c = client()
    const err = await expectError(c.call('fail', { code: 'ENOENT', message: 'no such file: /a' }), 'ENOENT')
    expect(err.message).to.equal('no such file: /a')
    expect(err.errno).to.equal(2)
  })

  it('turns a handler answer that cannot be encoded or breaks its schema into a typed error', async () => {
    const c = client()
    const unencodable = await expectError(c.call('misbehave', { how: 'unencodable' }), 'EINVAL')
    expect(unencodable.message).to.match(/cannot encode/)
    const invalid = await expectError(c.call('misbehave', { how: 'invalid' }), 'PROTOCOL')
    expect(invalid.message).to.equal('misbehave.response.ok: expected a boolean, got string')
    expect((await c.call('ping', { seq: 3 })).seq).to.equal(3)
  })

  it('fails a call whose request cannot be encoded or is too large, without sending it', async () => {
    const c = client()
    await c.ready()
    await expectError(c.call('echo', { text: 2n ** 80n } as unknown as { text: string }), 'EINVAL')
    await expectError(c.call('echo', { text: 'x'.repeat(LIMITS.maxFrameBytes + 1) }), 'EFBIG')
    expect((await c.call('echo', { text: 'next' })).text).to.equal('next')
  })

  it('delivers notifications both ways', async () => {
    const received: RaftMessage[] = []
    const peers: PeerConnection<TestCatalogue>[] = []
    await server.close()
    ;({ server, probe, url } = await startTestServer({
      notificationHandlers: { 'raft.step': ({ messages }) => { received.push(...messages) } },
      onConnection: (peer) => peers.push(peer),
    }))
    const c = client()
    const notes: number[] = []
    c.onNotification('test.note', ({ n }) => { notes.push(n) })
    await c.ready()
    expect(c.notify('raft.step', { messages: raftSamples })).to.equal(true)
    expect(peers).to.have.length(1)
    expect(peers[0]!.peer?.id).to.equal('c1')
    peers[0]!.notify('test.note', { n: 1 })
    server.peers()[0]!.notify('test.note', { n: 2 })
    for (let i = 0; i < 100 && (received.length < raftSamples.length || notes.length < 2); i++) await sleep(10)
    expect(received).to.deep.equal(raftSamples)
    expect(notes).to.deep.equal([1, 2])
  })

  it('streams a request body to the server (blob.put) and a response body back (blob.get)', async () => {
    const c = client()
    const put = await c.open('blob.put', { name: 'b1' })
    const expected = { sum: 0, pos: 0 }
    // One buffer refilled with random bytes after each write resolves (the writer's contract),
    // in sizes below, around and above the chunk limit (the writer splits those).
    const reused = Buffer.alloc(LIMITS.maxStreamChunkBytes * 2 + 5)
    const sizes = [1, 100, 65_535, 65_536, 300_000, LIMITS.maxStreamChunkBytes, LIMITS.maxStreamChunkBytes + 1, reused.length]
    for (let i = 0; i < 24; i++) {
      const chunk = reused.subarray(0, sizes[i % sizes.length]!)
      randomFillSync(chunk)
      checksum(expected, chunk)
      await put.writer.write(chunk)
    }
    await put.writer.end()
    expect(await put.response).to.deep.equal({ bytes: expected.pos, checksum: expected.sum })

    const get = await c.open('blob.get', { bytes: 5_000_000, chunkBytes: 256 * 1024 })
    let total = 0
    let n = 0
    for await (const chunk of get.reader) {
      expect(chunk[0]).to.equal(n++ & 0xff)
      total += chunk.byteLength
    }
    expect(total).to.equal(5_000_000)
    expect(await get.response).to.deep.equal({ bytes: 5_000_000 })
  })

  it('keeps the sender bounded while a slow reader consumes a large stream', async () => {
    const c = client()
    const put = await c.open('blob.put', { name: 'slow', readDelayMs: 6 }, { timeoutMs: 0 })
    const chunks = 64
    const chunk = Buffer.alloc(LIMITS.maxStreamChunkBytes, 1)
    let sent = 0
    let maxBuffered = 0
    let maxUnconsumed = 0
    const sampler = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, c.bufferedBytes)
      maxUnconsumed = Math.max(maxUnconsumed, sent - probe.consumed)
    }, 2)
    const started = Date.now()
    try {
      for (let i = 0; i < chunks; i++) {
        await put.writer.write(chunk)
        sent += chunk.byteLength
        maxUnconsumed = Math.max(maxUnconsumed, sent - probe.consumed)
      }
      await put.writer.end()
      const writesDone = Date.now() - started
      const result = await put.response
      expect(result.bytes).to.equal(chunks * chunk.byteLength)
      // The writer could not run ahead of the reader by more than the window.
      const windowChunks = LIMITS.streamWindowBytes / chunk.byteLength
      expect(writesDone).to.be.at.least((chunks - windowChunks - 2) * 6)
    } finally {
      clearInterval(sampler)
    }
    expect(maxUnconsumed).to.be.at.most(LIMITS.streamWindowBytes + chunk.byteLength)
    expect(maxBuffered).to.be.at.most(LIMITS.socketHighWaterBytes + 2 * chunk.byteLength)
    expect(probe.maxReaderQueued).to.be.at.most(LIMITS.streamWindowBytes)
    // 64 MiB went through, and at no time did more than a window's worth wait anywhere.
    expect(chunks * chunk.byteLength).to.be.greaterThan(4 * (LIMITS.streamWindowBytes + LIMITS.socketHighWaterBytes))
  })

  it('fails a stream writer with the error the handler answered early with', async () => {
    const c = client()
    const put = await c.open('blob.put', { name: 'x' })
    put.cancel()
    await expectError(put.response, 'ECANCELED')
    await expectError(put.writer.write(Buffer.alloc(10)), 'ECANCELED')
  })

  it('fails calls in flight with UNAVAILABLE when the connection drops, then reconnects after a restart', async () => {
    const c = client({ reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200 })
    await c.ready()
    const port = server.address().port
    const inFlight = expectError(c.call('sleep', { ms: 10_000 }), 'UNAVAILABLE')
    await sleep(30)
    await server.close()
    expect((await inFlight).message).to.match(/lost with the call in flight/)
    // A call made while the server is down waits for it, up to its timeout.
    const waiting = c.call('echo', { text: 'after restart' }, { timeoutMs: 5000 })
    await sleep(300)
    ;({ server, probe, url } = await startTestServer({ port }))
    expect((await waiting).text).to.equal('after restart')
    expect(c.connections).to.equal(2)
    // Without a server, a waiting call ends with UNAVAILABLE at its deadline.
    await server.close()
    const err = await expectError(c.call('echo', { text: 'x' }, { timeoutMs: 200 }), 'UNAVAILABLE')
    expect(err.message).to.match(/not connected to ws:\/\/127\.0\.0\.1/)
    ;({ server, probe, url } = await startTestServer({ port }))
  })

  it('reconnects with exponential back-off and full jitter', async () => {
    // A TCP listener that drops every connection: each client attempt fails at once.
    const attemptsAt = async (random: () => number, count: number): Promise<number[]> => {
      const times: number[] = []
      const sink = createServer((socket) => { times.push(performance.now()); socket.destroy() })
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
      const port = (sink.address() as { port: number }).port
      const c = client({ url: `ws://127.0.0.1:${port}`, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 160, random })
      try {
        for (let i = 0; i < 300 && times.length < count; i++) await sleep(10)
      } finally {
        await c.close()
        await new Promise((resolve) => sink.close(resolve))
      }
      return times.slice(1, count).map((t, k) => t - times[k]!)
    }
    // random -> 1: the delay ceilings themselves, doubling from 20 ms up to the 160 ms cap.
    const top = await attemptsAt(() => 0.999, 7)
    const ceilings = [20, 40, 80, 160, 160, 160]
    top.forEach((gap, k) => {
      expect(gap, `gap ${k}: ${top.map(Math.round).join(',')}`).to.be.at.least(ceilings[k]! * 0.9)
      // Timers never fire early; late by scheduling noise on a busy machine, so a loose upper bound.
      expect(gap, `gap ${k}: ${top.map(Math.round).join(',')}`).to.be.below(ceilings[k]! + 150)
    })
    // random -> 0: full jitter may pick no delay at all.
    const bottom = await attemptsAt(() => 0, 7)
    expect(bottom.reduce((a, b) => a + b, 0)).to.be.below(300)
  })

  it('refuses a client with the wrong secret: AUTH_FAILED on its side, one log line on ours', async () => {
    const log = lineCollector()
    await server.close()
    ;({ server, probe, url } = await startTestServer({ logger: createLogger({ component: 'rpc', destination: log.destination }) }))
    const c = client({ secret: OTHER_SECRET, clientId: 'intruder' })
    const err = await expectError(c.call('ping', { seq: 1 }), 'AUTH_FAILED')
    expect(err.message).to.match(/does not hold the cluster secret/)
    await expectError(c.ready(2000), 'AUTH_FAILED') // the next attempt is refused the same way
    await c.close()
    const refusals = log.lines.filter((l) => l.includes('authentication failed'))
    expect(refusals.length).to.be.at.least(2)
    // One line per refused connection, and nothing else logged about them.
    expect(log.lines.filter((l) => JSON.parse(l).level >= 40)).to.deep.equal(refusals)
    expect(JSON.parse(refusals[0]!)).to.include({ claimedId: 'intruder', level: 40 })
    const good = client()
    expect((await good.call('ping', { seq: 2 })).seq).to.equal(2)
  })

  it('refuses a server that cannot prove the secret (mutual authentication)', async () => {
    const fake = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise((resolve) => fake.once('listening', resolve))
    fake.on('connection', (ws) => {
      ws.send(encodeFrame([FrameTag.AuthChallenge, Buffer.alloc(32, 1), 'fake']))
      ws.on('message', () => ws.send(encodeFrame([FrameTag.AuthOk, Buffer.alloc(32, 2)])))
    })
    try {
      const port = (fake.address() as { port: number }).port
      const c = client({ url: `ws://127.0.0.1:${port}` })
      const err = await expectError(c.ready(2000), 'AUTH_FAILED')
      expect(err.message).to.match(/fake .* did not prove it holds the cluster secret/)
      await c.close()
    } finally {
      for (const ws of fake.clients) ws.terminate()
      await new Promise((resolve) => fake.close(resolve))
    }
  })

  it('rejects a secret shorter than 32 bytes', () => {
    expect(() => client({ secret: Buffer.alloc(16) })).to.throw(TesseraError, /at least 32 bytes/)
  })

  it('answers bad requests with typed errors and keeps the connection', async () => {
    const peer = await rawAuthenticated(url, SECRET)
    try {
      peer.send([FrameTag.Request, 1, 'no.such.method', {}])
      const unknown = await peer.next()
      expect(unknown).to.deep.equal([FrameTag.Error, 1, { code: 'PROTOCOL', message: 'unknown method "no.such.method"' }])
      peer.send([FrameTag.Request, 2, 'echo', { text: 5 }])
      const badBody = await peer.next()
      expect(badBody).to.deep.equal([FrameTag.Error, 2, { code: 'PROTOCOL', message: 'echo.request.text: expected a string, got number' }])
      peer.send(encodeFrame([FrameTag.Request, 3, 'ping', { seq: 1 }]))
      expect(await peer.next()).to.deep.equal([FrameTag.Response, 3, { seq: 1, node: 'srv-1' }])
    } finally {
      await peer.close()
    }
  })

  it('closes connections that break the protocol, with 1002/1008, and keeps serving others', async () => {
    const c = client()
    await c.ready()
    const cases: { name: string; send: (p: Awaited<ReturnType<typeof rawAuthenticated>>) => void; codes: number[] }[] = [
      { name: 'garbage bytes', send: (p) => p.send(Buffer.from([0xc1, 0xff, 0x00])), codes: [1002] },
      { name: 'a text frame', send: (p) => p.send('hello'), codes: [1008] },
      { name: 'a response sent to a server', send: (p) => p.send([FrameTag.Response, 1, {}]), codes: [1002] },
      { name: 'a chunk for a call never made', send: (p) => p.send([FrameTag.Chunk, 77, Buffer.alloc(1)]), codes: [1002] },
      { name: 'a reused request id', send: (p) => { p.send([FrameTag.Request, 5, 'ping', { seq: 1 }]); p.send([FrameTag.Request, 5, 'ping', { seq: 1 }]) }, codes: [1002] },
      { name: 'an unknown notification', send: (p) => p.send([FrameTag.Notify, 'nope', {}]), codes: [1002] },
      { name: 'an invalid raft.step', send: (p) => p.send([FrameTag.Notify, 'raft.step', { messages: [{ type: 'vote' }] }]), codes: [1002] },
      { name: 'a second proof', send: (p) => p.send([FrameTag.AuthProof, 'x', Buffer.alloc(32), Buffer.alloc(32)]), codes: [1002] },
      { name: 'a frame over the size limit', send: (p) => p.send(Buffer.alloc(LIMITS.maxFrameBytes + 1)), codes: [1009] },
    ]
    for (const { name, send, codes } of cases) {
      const peer = await rawAuthenticated(url, SECRET)
      send(peer)
      const code = await Promise.race([peer.closed, sleep(2000).then(() => -1)])
      expect(codes, name).to.include(code)
      expect((await c.call('ping', { seq: 1 })).seq, name).to.equal(1)
    }
  })

  it('treats frames before authentication as a protocol error', async () => {
    const peer = await rawConnect(url)
    await peer.next() // the challenge
    peer.send([FrameTag.Request, 1, 'ping', { seq: 1 }])
    expect(await peer.closed).to.equal(1008)
  })

  it('closes a stream whose sender ignores its credit', async () => {
    const peer = await rawAuthenticated(url, SECRET)
    peer.send([FrameTag.Request, 1, 'blob.put', { name: 'greedy', readDelayMs: 1000 }])
    const chunk = Buffer.alloc(LIMITS.maxStreamChunkBytes)
    for (let i = 0; i < LIMITS.streamWindowBytes / chunk.length + 4; i++) peer.send([FrameTag.Chunk, 1, chunk])
    expect(await peer.closed).to.equal(1002)
  })

  it('terminates a peer that stops answering pings', async () => {
    await server.close()
    ;({ server, probe, url } = await startTestServer({ pingIntervalMs: 40, maxMissedPings: 2 }))
    const peer = await rawAuthenticated(url, SECRET, 'mute', { autoPong: false })
    const started = Date.now()
    const code = await Promise.race([peer.closed, sleep(3000).then(() => -1)])
    expect(code).to.equal(1006) // terminated without a close frame
    expect(Date.now() - started).to.be.lessThan(1000)
    const c = client({ pingIntervalMs: 40, maxMissedPings: 2 })
    await c.ready()
    await sleep(300) // a live client answers pings and stays
    expect(c.connected).to.equal(true)
    expect(c.connections).to.equal(1)
  })

  it('serves wss:// when attached to an https server', async () => {
    const fixtures = new URL('../../test/fixtures/', import.meta.url)
    const cert = readFileSync(new URL('localhost-cert.pem', fixtures))
    const key = readFileSync(new URL('localhost-key.pem', fixtures))
    const https = createHttpsServer({ cert, key })
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve))
    const tlsServer = await RpcServer.listen({ catalogue: testCatalogue, handlers: testHandlers({ aborted: 0, maxReaderQueued: 0, consumed: 0 }), secret: SECRET, serverId: 'tls-1', server: https })
    try {
      const port = tlsServer.address().port
      const c = client({ url: `wss://127.0.0.1:${port}`, tls: { ca: cert } })
      expect(await c.call('ping', { seq: 9 })).to.deep.equal({ seq: 9, node: 'tls-1' })
      const untrusting = client({ url: `wss://127.0.0.1:${port}`, reconnectInitialDelayMs: 1000 })
      const err = await expectError(untrusting.ready(500), 'UNAVAILABLE')
      expect(err.message).to.match(/certificate/)
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()))
      await tlsServer.close()
      await new Promise((resolve) => https.close(resolve))
    }
    expect(() => client({ url: 'http://127.0.0.1:1' })).to.throw(TesseraError, /not a ws/)
  })

  it('exposes the production catalogue methods', () => {
    expect(Object.keys(protocolCatalogue.methods)).to.deep.equal(['ping'])
    expect(Object.keys(protocolCatalogue.notifications)).to.deep.equal(['raft.step'])
  })
})
