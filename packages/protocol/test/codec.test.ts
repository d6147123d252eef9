import { expect } from 'chai'
import {
  encodeFrame, decodeFrame, checkFrameBytes, FrameTag, LIMITS, TesseraError, raftMessageSchema, protocolCatalogue,
  encodeValue, decodeValue, joinBatch, encodeChunkFrame, checkFrame, type Frame,
} from '../src/index.js'
import { frameSamples, raftSamples } from './support/samples.js'
import { prng } from './support/catalogue.js'
import { mutate } from './support/fuzz.js'

describe('protocol/codec', () => {
  it('round-trips every frame kind', () => {
    const tags = new Set<number>()
    for (const frame of frameSamples) {
      const back = decodeFrame(encodeFrame(frame))
      expect(back).to.deep.equal(frame)
      tags.add(frame[0])
    }
    const allButBatch = Object.values(FrameTag).filter((tag) => tag !== FrameTag.Batch)
    expect([...tags].sort((a, b) => a - b)).to.deep.equal(allButBatch.sort((a, b) => a - b))
  })

  it('joins separately encoded frames into a batch that decodes to the same frames', () => {
    for (const count of [2, 15, 16, 300]) {
      const members = Array.from({ length: count }, (_, i) => frameSamples[i % frameSamples.length]!)
      const encoded = members.map((f) => encodeFrame(f))
      const batch = joinBatch(encoded, encoded.reduce((n, b) => n + b.byteLength, 0))
      const value = decodeValue(batch) as unknown[]
      expect(value[0]).to.equal(FrameTag.Batch)
      expect(value.slice(1)).to.deep.equal(members)
      // A batch is only ever the outer frame.
      expect(checkFrame(value).ok).to.equal(false)
    }
  })

  it('encodes stream chunks by hand exactly as msgpack would', () => {
    for (const id of [1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      for (const size of [0, 1, 255, 256, 65535, 65536, 1 << 20]) {
        const data = Buffer.alloc(size, id & 0xff)
        const bytes = encodeChunkFrame(id, data)
        expect(decodeFrame(bytes), `id ${id} size ${size}`).to.deep.equal([FrameTag.Chunk, id, data])
        expect(bytes.byteLength).to.equal(encodeValue([FrameTag.Chunk, id, data]).byteLength)
      }
    }
  })

  it('round-trips every Raft message kind through the codec and its schema', () => {
    const kinds = new Set<string>()
    for (const message of raftSamples) {
      const frame = decodeFrame(encodeFrame([FrameTag.Notify, 'raft.step', { messages: [message] }]))
      expect(frame[0]).to.equal(FrameTag.Notify)
      const body = protocolCatalogue.notifications['raft.step'].parse((frame as [number, string, unknown])[2])
      expect(body.messages[0]).to.deep.equal(message)
      expect(raftMessageSchema.parse(message)).to.deep.equal(message)
      kinds.add(message.type)
    }
    expect(kinds.size).to.equal(11)
  })

  it('round-trips the ping method', () => {
    const { request, response } = protocolCatalogue.methods.ping
    const req = decodeFrame(encodeFrame([FrameTag.Request, 1, 'ping', { seq: 42 }])) as [number, number, string, unknown]
    expect(request.parse(req[3])).to.deep.equal({ seq: 42 })
    const res = decodeFrame(encodeFrame([FrameTag.Response, 1, { seq: 42, node: 'srv' }])) as [number, number, unknown]
    expect(response.parse(res[2])).to.deep.equal({ seq: 42, node: 'srv' })
  })

  it('keeps binary payloads as Buffers (zero-copy views) and encodes into fresh buffers', () => {
    const data = Buffer.alloc(1 << 20, 0xab)
    const a = encodeFrame([FrameTag.Chunk, 1, data])
    const b = encodeFrame([FrameTag.Chunk, 2, Buffer.alloc(16, 1)])
    const frame = decodeFrame(a)
    expect(Buffer.isBuffer(frame[2])).to.equal(true)
    expect((frame[2] as Buffer).equals(data)).to.equal(true)
    expect((frame[2] as Buffer).buffer).to.equal(a.buffer) // a view, not a copy
    expect(decodeFrame(b)[1]).to.equal(2) // encoding b did not overwrite a
    expect(decodeFrame(a)[1]).to.equal(1)
  })

  it('rejects oversized frames before decoding them', () => {
    const big = Buffer.alloc(LIMITS.maxFrameBytes + 1)
    const r = checkFrameBytes(big)
    expect(r.ok).to.equal(false)
    if (!r.ok) expect(r.error.message).to.match(/exceeds/)
  })

  it('reports the id of a malformed request so it can be answered', () => {
    const r = checkFrameBytes(encodeValue([FrameTag.Request, 9, 42, {}]))
    expect(r.ok).to.equal(false)
    if (!r.ok) expect(r.requestId).to.equal(9)
    const bad = checkFrameBytes(encodeValue([FrameTag.Request, 'x', 'ping', {}]))
    expect(bad.ok).to.equal(false)
    if (!bad.ok) expect(bad.requestId).to.equal(undefined)
  })

  it('rejects unknown kinds, wrong arity and bad fields', () => {
    const bad: unknown[] = [
      [], [99], ['x'], {}, 'frame', 5, null, [FrameTag.Cancel], [FrameTag.Cancel, 0], [FrameTag.Cancel, -1],
      [FrameTag.Cancel, 1.5], [FrameTag.Cancel, 1, 2], [FrameTag.Chunk, 1, 'text'], [FrameTag.Chunk, 1, Buffer.alloc(LIMITS.maxStreamChunkBytes + 1)],
      [FrameTag.Credit, 1, 0], [FrameTag.Credit, 1, 2 ** 40], [FrameTag.Notify, '', {}], [FrameTag.Notify, 'x'.repeat(65), {}],
      [FrameTag.AuthProof, 'id', Buffer.alloc(32), 'proof'], [FrameTag.AuthProof, 'id', Buffer.alloc(8), Buffer.alloc(32)],
      [FrameTag.AuthChallenge, Buffer.alloc(0), 'srv'], [FrameTag.AuthOk, Buffer.alloc(31)], [FrameTag.Response, 0, {}], [FrameTag.Request, 1, 'ping'],
      [FrameTag.Batch, [FrameTag.Cancel, 1]],
    ]
    for (const value of bad) {
      const r = checkFrameBytes(encodeValue(value))
      expect(r.ok, JSON.stringify(value)?.slice(0, 80)).to.equal(false)
      if (!r.ok) expect(r.error.code).to.equal('PROTOCOL')
    }
  })

  it('normalises a malformed wire error into a PROTOCOL error', () => {
    const frame = decodeFrame(encodeValue([FrameTag.Error, 3, { code: 'EWHAT', message: 5 }]))
    expect(frame[2]).to.deep.equal({ code: 'PROTOCOL', message: 'malformed error on the wire' })
  })

  it('survives 20,000 random and mutated frames: a frame or a PROTOCOL error, nothing else', function () {
    this.timeout(20_000)
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)
    const rnd = prng(seed)
    const encoded = frameSamples.map((f) => encodeFrame(f))
    let decoded = 0
    let rejected = 0
    for (let i = 0; i < 20_000; i++) {
      const bytes = mutate(rnd, encoded, frameSamples)
      let frame: Frame
      try {
        frame = decodeFrame(bytes)
      } catch (err) {
        expect(err, `seed ${seed} iteration ${i}`).to.be.instanceOf(TesseraError)
        expect((err as TesseraError).code, `seed ${seed} iteration ${i}`).to.equal('PROTOCOL')
        rejected++
        continue
      }
      decoded++
      // Bodies go through the catalogue's schemas next: those must not throw anything else either.
      if (frame[0] === FrameTag.Notify) {
        const r = protocolCatalogue.notifications['raft.step'].safeParse(frame[2])
        if (!r.ok) expect(r.error.code).to.equal('PROTOCOL')
      }
    }
    expect(decoded, `seed ${seed}`).to.be.greaterThan(100)
    expect(rejected, `seed ${seed}`).to.be.greaterThan(1000)
  })
})

