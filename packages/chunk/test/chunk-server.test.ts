import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { get } from 'node:http'
import { join } from 'node:path'
import { expect } from 'chai'
import { LIMITS, TesseraError, createLogger } from '@tessera/protocol'
import { computeBlockKey, type TempFileOpener } from '../src/index.js'
import { openTempFile } from '../src/store/fs-util.js'
import { blockFile, expectCode, flipByte, LogLines, patternBytes } from './store-helpers.js'
import { readFrom, TestChain, tokenFor, writeChain, writeThrough, type WriteAnswer } from './support/chain.js'

const KiB = 1024
const MiB = 1024 * KiB

/** A temp-file opener whose writes each wait `delayMs` first, and that records when each began and ended. */
function slowDisk(delayMs: number): { open: TempFileOpener; writes: Array<{ start: number; end: number; bytes: number }> } {
  const writes: Array<{ start: number; end: number; bytes: number }> = []
  const open: TempFileOpener = async (path) => {
    const file = await openTempFile(path)
    const isBlock = path.endsWith('.blk')
    return {
      async write(data, position) {
        const start = performance.now()
        await new Promise((resolve) => setTimeout(resolve, delayMs))
        await file.write(data, position)
        if (isBlock) writes.push({ start, end: performance.now(), bytes: data.byteLength })
      },
      sync: () => file.sync(),
      close: () => file.close(),
    }
  }
  return { open, writes }
}

/** A temp-file opener whose block writes wait until release() (a disk that stopped answering). */
function stalledDisk(): { open: TempFileOpener; release: () => void; written: () => number } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let written = 0
  const open: TempFileOpener = async (path) => {
    const file = await openTempFile(path)
    return {
      async write(data, position) {
        await gate
        await file.write(data, position)
        if (path.endsWith('.blk')) written += data.byteLength
      },
      sync: () => file.sync(),
      close: () => file.close(),
    }
  }
  return { open, release, written: () => written }
}

function copiesSummary(answer: WriteAnswer): Array<[boolean, string | undefined]> {
  return answer.copies.map((c) => [c.ok, c.error?.code])
}

async function tmpEntries(dir: string): Promise<string[]> {
  return readdir(join(dir, 'tmp'))
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('ChunkServer: the replication chain', function () {
  this.timeout(30_000)
  const chains: TestChain[] = []
  async function startChain(...args: Parameters<typeof TestChain.start>): Promise<TestChain> {
    const chain = await TestChain.start(...args)
    chains.push(chain)
    return chain
  }
  after(async () => {
    for (const chain of chains) await chain.close()
  })

  it('makes a 4 MiB block durable on all three servers and reads it back verified from each', async () => {
    const chain = await startChain(3)
    const bytes = patternBytes(4 * MiB, 1)
    const key = await computeBlockKey(bytes)
    const answer = await writeChain(chain, bytes, key, { minCopies: 3 })
    expect(answer.stored).to.equal(3)
    expect(answer.copies).to.deep.equal(chain.addresses.map((server) => ({ server, ok: true })))
    for (const member of chain.members) {
      expect(member.store.has(key)).to.equal(true)
      expect(await member.store.verify(key)).to.deep.equal({ ok: true })
      expect((await readFrom(member, key, bytes.byteLength)).equals(bytes)).to.equal(true)
      expect(member.events.stored).to.deep.equal([key])
      expect(member.server.blockReport()).to.deep.equal([key])
      expect(await tmpEntries(member.dir)).to.deep.equal([])
    }
    // A range read at an odd offset.
    const range = await readFrom(chain.members[2]!, key, 100_000, { offset: 65_000 })
    expect(range.equals(bytes.subarray(65_000, 165_000))).to.equal(true)
  })

  it('relays a 1 MiB block sent in 64 KiB pieces', async () => {
    const chain = await startChain(3)
    const bytes = patternBytes(MiB, 2)
    const key = await computeBlockKey(bytes)
    const answer = await writeChain(chain, bytes, key, { pieceBytes: 64 * KiB })
    expect(answer.stored).to.equal(3)
    for (const member of chain.members) expect((await readFrom(member, key, MiB)).equals(bytes)).to.equal(true)
  })

  it('forwards while receiving: the last hop writes before the first hop has the whole block', async () => {
    const disks = [slowDisk(8), slowDisk(8), slowDisk(8)]
    const chain = await startChain(3, { store: (i) => ({ openTempFile: disks[i]!.open }) })
    const bytes = patternBytes(4 * MiB, 3)
    const key = await computeBlockKey(bytes)
    const started = performance.now()
    const answer = await writeChain(chain, bytes, key, { pieceBytes: 256 * KiB })
    const elapsed = performance.now() - started
    expect(answer.stored).to.equal(3)
    const head = disks[0]!.writes
    const tail = disks[2]!.writes
    expect(head).to.have.length(16)
    expect(tail).to.have.length(16)
    // Store-and-forward would start the tail only after the head's last write.
    expect(tail[0]!.start).to.be.lessThan(head[head.length - 1]!.start)
    // Store-and-forward runs the hops' disk work one after another; pipelined, it overlaps.
    const serialWork = disks.reduce((sum, d) => sum + d.writes.reduce((s, w) => s + (w.end - w.start), 0), 0)
    expect(elapsed).to.be.lessThan(0.75 * serialWork)
  })

  it('forwards pieces ahead of a slow local disk: the head\'s writes do not hold up the tail', async () => {
    const disks = [slowDisk(150), slowDisk(0), slowDisk(0)]
    const chain = await startChain(3, { store: (i) => ({ openTempFile: disks[i]!.open }) })
    const bytes = patternBytes(4 * MiB, 14)
    const key = await computeBlockKey(bytes)
    const answer = await writeChain(chain, bytes, key, { pieceBytes: MiB })
    expect(answer.stored).to.equal(3)
    const head = disks[0]!.writes
    const tail = disks[2]!.writes
    expect(head).to.have.length(4)
    expect(tail).to.have.length(4)
    // Waiting for each local write before forwarding the next piece, the tail could begin its
    // third piece only after the head finished its second write.
    expect(tail[2]!.start).to.be.lessThan(head[1]!.end)
    for (const member of chain.members) expect((await readFrom(member, key, bytes.byteLength)).equals(bytes)).to.equal(true)
  })

  it('stalls the sender within the stream windows when the next disk stops (back-pressure end to end)', async () => {
    const tailDisk = stalledDisk()
    const bigBlocks = { maxBlockBytes: 64 * MiB }
    const chain = await startChain(2, { store: (i) => (i === 1 ? { ...bigBlocks, openTempFile: tailDisk.open } : bigBlocks) })
    const size = 48 * MiB
    const bytes = randomBytes(size)
    const key = await computeBlockKey(bytes)
    let sent = 0
    const writing = writeChain(chain, bytes, key, { pieceBytes: MiB, timeoutMs: 25_000, onSent: (n) => { sent = n } })
    // Wait until the sender makes no progress for half a second.
    for (let last = -1, i = 0; sent !== last && i < 40; i++) {
      last = sent
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    // Each of the two links may hold one stream window plus the piece being handled; without
    // back-pressure the sender would have sent the whole block into memory by now.
    const bound = 2 * (LIMITS.streamWindowBytes + MiB) + MiB
    expect(bound).to.be.lessThan(size * 0.8)
    expect(tailDisk.written()).to.equal(0)
    expect(sent, `sender ran ${(sent / MiB).toFixed(1)} MiB ahead of the stopped disk`).to.be.at.most(bound)
    expect(sent).to.be.greaterThan(0)
    tailDisk.release()
    const answer = await writing
    expect(answer.stored).to.equal(2)
    expect(tailDisk.written()).to.equal(size)
  })

  it('answers with the first copy durable when the middle server dies mid-stream', async () => {
    const chain = await startChain(3)
    const bytes = patternBytes(4 * MiB, 4)
    const key = await computeBlockKey(bytes)
    const [head, middle, tail] = chain.members
    const started = performance.now()
    let killed = false
    const answer = await writeChain(chain, bytes, key, {
      pieceBytes: 64 * KiB,
      onSent: async (sent) => {
        if (killed || sent < MiB) return
        killed = true
        // Wait until the tail has begun its copy, so the whole chain is mid-stream, then kill the middle.
        for (let i = 0; i < 200 && tail!.store.usage().reservedBytes === 0; i++) await new Promise((r) => setTimeout(r, 5))
        expect(tail!.store.usage().reservedBytes).to.be.greaterThan(0)
        await chain.kill(1)
      },
    })
    expect(performance.now() - started).to.be.lessThan(5000)
    expect(answer.stored).to.equal(1)
    expect(copiesSummary(answer)).to.deep.equal([[true, undefined], [false, 'UNAVAILABLE'], [false, 'UNAVAILABLE']])
    expect(answer.copies.map((c) => c.server)).to.deep.equal(chain.addresses)
    expect(head!.store.has(key)).to.equal(true)
    expect((await readFrom(head!, key, bytes.byteLength)).equals(bytes)).to.equal(true)
    // The tail's write was cancelled when the middle went away: nothing partial is left.
    for (let i = 0; i < 200 && tail!.store.usage().reservedBytes > 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(tail!.store.has(key)).to.equal(false)
    expect(middle!.store.has(key)).to.equal(false)
    expect(await tmpEntries(tail!.dir)).to.deep.equal([])
    expect(await tmpEntries(middle!.dir)).to.deep.equal([])
    expect(metricValue(head!.server.metricsText(), 'tessera_chunk_downstream_failures_total', '{code="UNAVAILABLE"}')).to.equal(1)
  })

  it('aborts every hop, leaving nothing behind, when the caller cancels mid-stream', async () => {
    const chain = await startChain(3)
    const bytes = patternBytes(2 * MiB, 13)
    const key = await computeBlockKey(bytes)
    const call = await chain.members[0]!.client.open('block.write', {
      key, length: bytes.byteLength, token: tokenFor(key, 'write'), chain: chain.addresses.slice(1), minCopies: 3,
    })
    await call.writer.write(bytes.subarray(0, MiB))
    const tail = chain.members[2]!
    for (let i = 0; i < 200 && tail.store.usage().reservedBytes === 0; i++) await new Promise((r) => setTimeout(r, 5))
    call.cancel()
    await expectCode(call.response, 'ECANCELED')
    for (const member of chain.members) {
      for (let i = 0; i < 400 && member.store.usage().reservedBytes > 0; i++) await new Promise((r) => setTimeout(r, 5))
      expect(member.store.usage().reservedBytes).to.equal(0)
      expect(member.store.has(key)).to.equal(false)
      expect(await tmpEntries(member.dir)).to.deep.equal([])
    }
  })

  it('refuses bytes that do not hash to the key with CHECKSUM_MISMATCH on every hop, storing nothing', async () => {
    const chain = await startChain(3)
    const bytes = patternBytes(300 * KiB, 5)
    const key = await computeBlockKey(patternBytes(300 * KiB, 6))
    await expectCode(writeChain(chain, bytes, key, { pieceBytes: 64 * KiB }), 'CHECKSUM_MISMATCH')
    for (const member of chain.members) {
      expect(member.store.has(key)).to.equal(false)
      expect(member.store.usage().reservedBytes).to.equal(0)
      expect(await tmpEntries(member.dir)).to.deep.equal([])
      expect(metricValue(member.server.metricsText(), 'tessera_chunk_errors_total', '{method="block.write",code="CHECKSUM_MISMATCH"}')).to.equal(1)
    }
  })

  it('reports ENOSPC on the second hop while the first copy stays', async () => {
    const chain = await startChain(3, { store: (i) => (i === 1 ? { capacityBytes: 1000 } : {}) })
    const bytes = patternBytes(MiB, 7)
    const key = await computeBlockKey(bytes)
    const answer = await writeChain(chain, bytes, key, { minCopies: 2 })
    expect(answer.stored).to.equal(1)
    expect(copiesSummary(answer)).to.deep.equal([[true, undefined], [false, 'ENOSPC'], [false, 'UNAVAILABLE']])
    expect(chain.members[0]!.store.has(key)).to.equal(true)
    expect(chain.members[1]!.store.has(key)).to.equal(false)
    expect(chain.members[2]!.store.has(key)).to.equal(false)
    expect((await readFrom(chain.members[0]!, key, MiB)).equals(bytes)).to.equal(true)
  })

  it('lists an unreachable next server as failed, in bounded time', async () => {
    const chain = await startChain(1)
    const bytes = patternBytes(200 * KiB, 8)
    const key = await computeBlockKey(bytes)
    // A port nothing listens on: take one, then close it.
    const spare = await TestChain.start(1)
    const deadAddress = spare.addresses[0]!
    await spare.close()
    const started = performance.now()
    const answer = await writeChain(chain, bytes, key, { chain: [deadAddress, '127.0.0.1:1'] })
    expect(performance.now() - started).to.be.lessThan(5000)
    expect(copiesSummary(answer)).to.deep.equal([[true, undefined], [false, 'UNAVAILABLE'], [false, 'UNAVAILABLE']])
    expect(answer.copies[2]!.error!.message).to.match(/not reached/)
  })

  it('serves a damaged copy as CHECKSUM_MISMATCH, quarantines it and tells meta; other copies stay good', async () => {
    const chain = await startChain(3)
    const bytes = patternBytes(512 * KiB, 9)
    const key = await computeBlockKey(bytes)
    expect((await writeChain(chain, bytes, key)).stored).to.equal(3)
    const damaged = chain.members[1]!
    await flipByte(blockFile(damaged.dir, key), 300_000)
    await expectCode(readFrom(damaged, key, bytes.byteLength), 'CHECKSUM_MISMATCH')
    expect(damaged.events.corrupt).to.deep.equal([key])
    expect(damaged.store.has(key)).to.equal(false)
    expect(damaged.server.blockReport()).to.deep.equal([])
    await expectCode(readFrom(damaged, key, bytes.byteLength), 'ENOENT')
    for (const i of [0, 2]) expect((await readFrom(chain.members[i]!, key, bytes.byteLength)).equals(bytes)).to.equal(true)
  })

  it('deletes with a delete token, answers stat, and reports both to meta', async () => {
    const chain = await startChain(1)
    const [member] = chain.members
    const bytes = patternBytes(70_000, 10)
    const key = await computeBlockKey(bytes)
    expect((await writeChain(chain, bytes, key)).stored).to.equal(1)
    expect(await member!.client.call('block.stat', { key, token: tokenFor(key, 'read') })).to.deep.equal({ exists: true, length: 70_000 })
    expect(await member!.client.call('block.delete', { key, token: tokenFor(key, 'delete') })).to.deep.equal({ deleted: true })
    expect(await member!.client.call('block.delete', { key, token: tokenFor(key, 'delete') })).to.deep.equal({ deleted: false })
    expect(member!.events.deleted).to.deep.equal([key])
    expect(await member!.client.call('block.stat', { key, token: tokenFor(key, 'read') })).to.deep.equal({ exists: false })
    const info = await member!.client.call('chunk.info', {})
    expect(info).to.deep.include({ id: 'chunk-0', address: member!.server.address })
    expect(info.usage.blockCount).to.equal(0)
  })

  it('refuses malformed writes: too many bytes, minCopies beyond the chain', async () => {
    const chain = await startChain(2)
    const bytes = patternBytes(100_000, 11)
    const key = await computeBlockKey(bytes)
    const longer = new Uint8Array(100_001)
    longer.set(bytes)
    await expectCode(writeChain(chain, longer, key), 'EINVAL')
    await expectCode(writeChain(chain, bytes, key, { minCopies: 3 }), 'EINVAL')
    for (const member of chain.members) {
      expect(member.store.has(key)).to.equal(false)
      expect(await tmpEntries(member.dir)).to.deep.equal([])
    }
    expect((await writeChain(chain, bytes, key, { minCopies: 2 })).stored).to.equal(2)
  })

  it('serves /healthz and /metrics on the RPC port', async () => {
    const chain = await startChain(2)
    const bytes = patternBytes(123_456, 12)
    const key = await computeBlockKey(bytes)
    await writeChain(chain, bytes, key)
    await readFrom(chain.members[1]!, key, bytes.byteLength)
    const head = chain.members[0]!.server
    const health = await httpGet(head.port, '/healthz')
    expect(health.status).to.equal(200)
    expect(JSON.parse(health.body)).to.deep.include({ status: 'ok', id: 'chunk-0', blocks: 1 })
    const metrics = await httpGet(head.port, '/metrics')
    expect(metrics.status).to.equal(200)
    expect(metricValue(metrics.body, 'tessera_chunk_bytes_written_total')).to.equal(123_456)
    expect(metricValue(metrics.body, 'tessera_chunk_blocks')).to.equal(1)
    expect(metricValue(metrics.body, 'tessera_chunk_chain_latency_seconds_count')).to.equal(1)
    expect(metricValue(metrics.body, 'tessera_chunk_requests_total', '{method="block.write"}')).to.equal(1)
    const tailMetrics = await httpGet(chain.members[1]!.server.port, '/metrics')
    expect(metricValue(tailMetrics.body, 'tessera_chunk_bytes_read_total')).to.equal(123_456)
    expect(metricValue(tailMetrics.body, 'tessera_chunk_chain_latency_seconds_count')).to.equal(0)
    expect((await httpGet(head.port, '/nope')).status).to.equal(404)
  })
})

describe('ChunkServer: block tokens', function () {
  this.timeout(20_000)
  const lines = new LogLines()
  let chain: TestChain
  let bytes: Uint8Array
  let key: string
  before(async () => {
    chain = await TestChain.start(3, { logger: createLogger({ component: 'chunk', level: 'info', destination: lines }) })
    bytes = patternBytes(150_000, 20)
    key = await computeBlockKey(bytes)
    // A valid token is accepted on every hop (downstream hops check the same token).
    expect((await writeChain(chain, bytes, key)).stored).to.equal(3)
  })
  after(() => chain.close())

  const refusals = (): number => lines.matching('bad token').length

  async function expectRefused(attempt: () => Promise<unknown>, why: RegExp): Promise<void> {
    const before = refusals()
    const err = await expectCode(attempt(), 'BAD_TOKEN')
    expect(err.message).to.match(why)
    expect(refusals() - before, 'one log line per refusal').to.equal(1)
  }

  it('refuses writes with a wrong-secret, expired, other-key, other-op or missing token', async () => {
    const other = patternBytes(10_000, 21)
    const otherKey = await computeBlockKey(other)
    const write = (token: string | undefined): Promise<WriteAnswer> =>
      writeChain(chain, other, otherKey, { token })
    await expectRefused(() => write(tokenFor(otherKey, 'write', { secret: randomBytes(32) })), /signature/)
    await expectRefused(() => write(tokenFor(otherKey, 'write', { ttlMs: -1 })), /expired/)
    await expectRefused(() => write(tokenFor(key, 'write')), /another block/)
    await expectRefused(() => write(tokenFor(otherKey, 'read')), /issued for read/)
    await expectRefused(() => write(undefined), /missing/)
    await expectRefused(() => write('not a token!'), /malformed/)
    for (const member of chain.members) expect(member.store.has(otherKey)).to.equal(false)
  })

  it('refuses reads, stats and deletes without the right token', async () => {
    const head = chain.members[0]!
    await expectRefused(() => readFrom(head, key, bytes.byteLength, { token: tokenFor(key, 'write') }), /issued for write/)
    await expectRefused(() => readFrom(head, key, bytes.byteLength, { token: tokenFor(key, 'read', { ttlMs: -5 }) }), /expired/)
    await expectRefused(() => head.client.call('block.stat', { key }), /missing/)
    await expectRefused(() => head.client.call('block.delete', { key, token: tokenFor(key, 'read') }), /issued for read/)
    await expectRefused(() => head.client.call('block.delete', { key, token: tokenFor(key, 'delete', { secret: randomBytes(32) }) }), /signature/)
    expect(head.store.has(key)).to.equal(true)
    expect((await readFrom(head, key, bytes.byteLength)).equals(bytes)).to.equal(true)
  })

  it('checks tokens against the injected clock', async () => {
    const dirs = await TestChain.start(1, { server: () => ({ clock: () => Date.now() + 120_000 }) })
    try {
      const member = dirs.members[0]!
      const small = patternBytes(5000, 22)
      const smallKey = await computeBlockKey(small)
      const err = await expectCode(writeThrough(member, small, { key: smallKey, token: tokenFor(smallKey, 'write', { ttlMs: 60_000 }) }), 'BAD_TOKEN')
      expect(err).to.be.instanceOf(TesseraError)
      expect((await writeThrough(member, small, { key: smallKey, token: tokenFor(smallKey, 'write', { ttlMs: 180_000 }) })).stored).to.equal(1)
    } finally {
      await dirs.close()
    }
  })
})
