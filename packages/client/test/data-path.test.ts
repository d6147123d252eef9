/**
 * The data path against real in-process chunk servers on 127.0.0.1 (port 0, temp dirs):
 * writes through replication chains, range reads with fail-over, dedup, memory bound.
 */
import { expect } from 'chai'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  RpcServer, TesseraError, chunkServerCatalogue, signBlockToken, type BlockId, type BlockOp, type ChunkServerCatalogue,
} from '@tessera/protocol'
import { BlockStore, ChunkServer } from '@tessera/chunk'
import {
  BlockReader, BlockWriter, ChunkConnections, DEFAULT_READ_AHEAD_BLOCKS, FileWriter, chunkKeyOf, chunkKeyOfRef, loadHasher, nameBytes,
  type BlockPlanner, type Location, type PlaceRequest, type Placement, type WrittenBlock,
} from '../src/data/index.js'

const SECRET = randomBytes(32)
const MiB = 1024 * 1024

interface Member { server: ChunkServer; store: BlockStore; dir: string; address: string; down: boolean }

/** N chunk servers; `close` stops every one of them and removes their directories. */
class Cluster {
  readonly members: Member[] = []

  static async start(size: number): Promise<Cluster> {
    const cluster = new Cluster()
    try {
      for (let i = 0; i < size; i++) {
        const dir = await mkdtemp(join(tmpdir(), 'tessera-client-data-'))
        const store = await BlockStore.open(dir)
        const server = await ChunkServer.start({
          id: `chunk-${i}`, secret: SECRET, store, host: '127.0.0.1', port: 0, downstreamConnectTimeoutMs: 500,
        })
        cluster.members.push({ server, store, dir, address: server.address, down: false })
      }
    } catch (err) {
      await cluster.close()
      throw err
    }
    return cluster
  }

  get addresses(): string[] {
    return this.members.map((m) => m.address)
  }

  async kill(index: number): Promise<void> {
    this.members[index]!.down = true
    await this.members[index]!.server.close()
  }

  blockPath(index: number, key: string): string {
    return join(this.members[index]!.dir, 'blocks', key.slice(0, 2), key.slice(2, 4), key)
  }

  async close(): Promise<void> {
    for (const m of this.members) await m.server.close()
    for (const m of this.members) await m.store.close()
    await Promise.all(this.members.map((m) => rm(m.dir, { recursive: true, force: true })))
  }
}

/**
 * What meta will do, reduced to a list: place on the first `replication` servers not excluded,
 * locate on every server in list order (it does not know who is down), record bad copies.
 */
class TestPlanner implements BlockPlanner {
  readonly badCopies: { ref: BlockId; server: string }[] = []
  readonly placements: PlaceRequest[] = []

  constructor(private readonly servers: string[], private readonly minCopies = 2, private readonly replication = 3) {}

  private token(key: string, op: BlockOp): string {
    return signBlockToken(SECRET, { key, op, expiresAtMs: Date.now() + 60_000, clientId: 'test-planner' })
  }

  async placeBlock(request: PlaceRequest): Promise<Placement> {
    this.placements.push(request)
    const servers = this.servers.filter((s) => !(request.exclude ?? []).includes(s)).slice(0, this.replication)
    return { servers, token: this.token(request.key, 'write'), minCopies: this.minCopies }
  }

  async locateBlock(ref: BlockId): Promise<Location> {
    return { servers: [...this.servers], token: this.token(chunkKeyOfRef(ref), 'read') }
  }

  async reportBadCopy(ref: BlockId, server: string): Promise<void> {
    this.badCopies.push({ ref, server })
  }
}

/** Deterministic bytes (xorshift32) so a failure reproduces. */
function patternBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    bytes[i] = x & 0xff
  }
  return bytes
}

async function writeAll(writer: FileWriter, bytes: Uint8Array, writeSize: number) {
  for (let at = 0; at < bytes.byteLength; at += writeSize) await writer.write(bytes.subarray(at, at + writeSize))
  return writer.finish()
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<TesseraError> {
  let caught: unknown
  try { await promise } catch (err) { caught = err }
  expect(caught, `expected ${code}`).to.be.instanceOf(TesseraError)
  expect((caught as TesseraError).code).to.equal(code)
  return caught as TesseraError
}

describe('data path against real chunk servers', function () {
  this.timeout(30_000)
  let cluster: Cluster
  let connections: ChunkConnections
  let planner: TestPlanner
  let blockWriter: BlockWriter

  before(async () => {
    cluster = await Cluster.start(3)
    connections = new ChunkConnections({ secret: SECRET, clientId: 'data-test', connectTimeoutMs: 500 })
    planner = new TestPlanner(cluster.addresses)
    blockWriter = new BlockWriter({ planner, connections })
  })

  after(async () => {
    await connections?.close()
    await cluster?.close()
  })

  const fileBytes = patternBytes(10 * MiB + 12_345, 1)
  let written: Awaited<ReturnType<FileWriter['finish']>>

  it('writes a multi-block file with three copies of each block and reads it back byte-identical', async () => {
    written = await writeAll(new FileWriter(blockWriter, { blockSize: MiB }), fileBytes, 300 * 1024 + 7)
    expect(written.size).to.equal(fileBytes.byteLength)
    expect(written.blocks).to.have.length(11)
    expect(written.blocks.at(-1)).to.include({ len: 12_345, used: 12_345 })
    expect(written.underReplicated).to.deep.equal([])
    for (const w of written.written) expect(w.copies).to.deep.equal(cluster.addresses)
    for (const m of cluster.members) expect(m.store.list()).to.have.length(11)
    const back = await new BlockReader({ planner, connections }).readRange(written.blocks, 0, fileBytes.byteLength + 100)
    expect(back.equals(fileBytes)).to.equal(true)
  })

  it('reads random ranges, fetching only the blocks they touch', async () => {
    const reader = new BlockReader({ planner, connections, readAheadBlocks: 0 })
    let seed = 7
    const next = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    for (let i = 0; i < 25; i++) {
      const offset = next(fileBytes.byteLength)
      const length = next(3 * MiB)
      const before = reader.fetchCount
      const got = await reader.readRange(written.blocks, offset, length)
      const want = fileBytes.subarray(offset, Math.min(offset + length, fileBytes.byteLength))
      expect(got.equals(want), `range ${offset}+${length}`).to.equal(true)
      const touched = want.byteLength === 0 ? 0 : Math.floor((offset + want.byteLength - 1) / MiB) - Math.floor(offset / MiB) + 1
      expect(reader.fetchCount - before).to.equal(touched)
    }
  })

  it('serves sequential small reads from whole blocks fetched ahead', async () => {
    const reader = new BlockReader({ planner, connections, readAheadBlocks: 1 })
    const step = 128 * 1024
    const parts: Buffer[] = []
    for (let at = 0; at < fileBytes.byteLength; at += step) parts.push(await reader.readRange(written.blocks, at, step))
    expect(Buffer.concat(parts).equals(fileBytes)).to.equal(true)
    // ~89 reads; one fetch per block (the first read is not yet known to be sequential).
    expect(reader.fetchCount).to.be.at.most(written.blocks.length + 1)
  })

  it('dedups: the same content written twice gets the same keys and is stored once', async () => {
    const block = patternBytes(MiB, 99)
    const repeated = Buffer.concat([block, block, block])
    const counts = cluster.members.map((m) => m.store.list().length)
    const first = await writeAll(new FileWriter(blockWriter, { blockSize: MiB }), repeated, MiB)
    const second = await writeAll(new FileWriter(blockWriter, { blockSize: MiB }), repeated, 4096)
    expect(new Set(first.blocks.map((b) => b.key)).size).to.equal(1)
    expect(second.blocks).to.deep.equal(first.blocks)
    cluster.members.forEach((m, i) => expect(m.store.list().length).to.equal(counts[i]! + 1))
  })

  it('shares zero blocks written within the reuse window: one chain write for a file of zeros', async () => {
    const zeroWriter = new BlockWriter({ planner, connections, zeroReuseMs: 60_000 })
    const zeros = Buffer.alloc(6 * MiB + 100)
    const placedBefore = planner.placements.length
    const first = await writeAll(new FileWriter(zeroWriter, { blockSize: MiB, maxParallel: 4 }), zeros, MiB)
    const second = await writeAll(new FileWriter(zeroWriter, { blockSize: MiB }), zeros, 4096)
    // One full zero block and one 100-byte tail, each placed and written once for both files.
    expect(planner.placements.length - placedBefore).to.equal(2)
    expect(second.blocks).to.deep.equal(first.blocks)
    expect(first.written.every((w) => w.copies.length === 3)).to.equal(true)
    // Not-quite-zero bytes of the same length are not shared.
    const almost = Buffer.alloc(MiB)
    almost[MiB - 1] = 1
    const other = await zeroWriter.writeBlock(almost)
    expect(other.ref.key).to.not.equal(first.blocks[0]!.key)
    expect(planner.placements.length - placedBefore).to.equal(3)
    const back = await new BlockReader({ planner, connections }).readRange(first.blocks, 0, 6 * MiB + 100)
    expect(back.equals(zeros)).to.equal(true)
  })

  it('keeps the bytes of blocks in flight under the bound', async () => {
    let inflight = 0
    let peak = 0
    const instrumented = {
      writeBlock: async (bytes: Uint8Array): Promise<WrittenBlock> => {
        inflight += bytes.byteLength
        peak = Math.max(peak, inflight)
        try {
          return await blockWriter.writeBlock(bytes)
        } finally {
          inflight -= bytes.byteLength
        }
      },
    } as BlockWriter
    const blockSize = 256 * 1024
    const bound = Math.floor(2.5 * blockSize)
    const writer = new FileWriter(instrumented, { blockSize, maxParallel: 8, maxInflightBytes: bound })
    const bytes = patternBytes(16 * blockSize + 1000, 5)
    const result = await writeAll(writer, bytes, 100_000)
    expect(result.blocks).to.have.length(17)
    expect(peak).to.be.at.most(bound)
    expect(peak).to.be.above(blockSize) // blocks did go in parallel
    expect(writer.peakInflightBytes).to.equal(peak)
    const back = await new BlockReader({ planner, connections }).readRange(result.blocks, 0, bytes.byteLength)
    expect(back.equals(bytes)).to.equal(true)
  })

  it('recycles block buffers: at most maxParallel + 1 exist, and none is refilled while its block is in flight', async () => {
    const buffers = new Set<ArrayBufferLike>()
    const seen: Buffer[] = []
    const slow = {
      writeBlock: async (bytes: Uint8Array): Promise<WrittenBlock> => {
        buffers.add(bytes.buffer)
        const before = Buffer.from(bytes)
        await new Promise((resolve) => setTimeout(resolve, 2))
        expect(Buffer.from(bytes).equals(before), 'block bytes changed while in flight').to.equal(true)
        seen.push(before)
        return { ref: { key: '0'.repeat(16), len: bytes.byteLength, used: bytes.byteLength }, copies: [], underReplicated: false }
      },
    } as BlockWriter
    const blockSize = 64 * 1024
    const writer = new FileWriter(slow, { blockSize, maxParallel: 3 })
    const bytes = patternBytes(40 * blockSize + 99, 6)
    await writeAll(writer, bytes, 10_000)
    expect(seen).to.have.length(41)
    expect(Buffer.concat(seen.sort((a, b) => bytes.indexOf(a) - bytes.indexOf(b))).equals(bytes)).to.equal(true)
    expect(buffers.size).to.be.at.most(3 + 1)
  })

  it('a sequential reader fetches several blocks ahead by default, each once', async () => {
    expect(DEFAULT_READ_AHEAD_BLOCKS).to.be.above(1)
    let located = 0
    const counting: BlockPlanner = {
      placeBlock: (request) => planner.placeBlock(request),
      locateBlock: (ref) => { located++; return planner.locateBlock(ref) },
      reportBadCopy: (ref, server) => planner.reportBadCopy(ref, server),
    }
    const reader = new BlockReader({ planner: counting, connections })
    const first = await reader.readRange(written.blocks, 0, MiB)
    const second = await reader.readRange(written.blocks, MiB, MiB)
    // Block 0 directly, block 1 as the first sequential read, then the blocks after it at once.
    expect(located).to.equal(2 + DEFAULT_READ_AHEAD_BLOCKS)
    const rest = await reader.readRange(written.blocks, 2 * MiB, fileBytes.byteLength)
    expect(Buffer.concat([first, second, rest]).equals(fileBytes)).to.equal(true)
    expect(reader.fetchCount).to.equal(written.blocks.length)
  })

  it('fails over from a corrupted copy and reports it', async () => {
    const bytes = patternBytes(3 * 64 * 1024 + 5, 21)
    const { ref } = await blockWriter.writeBlock(bytes)
    const key = chunkKeyOfRef(ref)
    const path = cluster.blockPath(0, key)
    const onDisk = await readFile(path)
    onDisk[70_000] ^= 0x10
    await writeFile(path, onDisk)

    planner.badCopies.length = 0
    const reader = new BlockReader({ planner, connections, readAheadBlocks: 0 })
    const part = await reader.readRange([ref], 65_536, 10_000)
    expect(part.equals(bytes.subarray(65_536, 75_536))).to.equal(true)
    expect(planner.badCopies).to.deep.equal([{ ref, server: cluster.addresses[0] }])
    expect((await reader.readBlock(ref)).equals(bytes)).to.equal(true)
  })

  it('checks a whole block against its key, beyond the per-piece checksums the server verifies', async () => {
    // Copy B's block and sidecar over A's on server 0: every piece checksum agrees, the key does not.
    const a = await blockWriter.writeBlock(patternBytes(100_000, 22))
    const b = await blockWriter.writeBlock(patternBytes(100_000, 23))
    const aKey = chunkKeyOfRef(a.ref)
    const bKey = chunkKeyOfRef(b.ref)
    await writeFile(cluster.blockPath(0, aKey), await readFile(cluster.blockPath(0, bKey)))
    await writeFile(cluster.blockPath(0, aKey) + '.sum', await readFile(cluster.blockPath(0, bKey) + '.sum'))

    planner.badCopies.length = 0
    const back = await new BlockReader({ planner, connections }).readBlock(a.ref)
    expect(back.equals(patternBytes(100_000, 22))).to.equal(true)
    expect(planner.badCopies).to.deep.equal([{ ref: a.ref, server: cluster.addresses[0] }])
  })
})

describe('data path with chunk servers going down', function () {
  this.timeout(30_000)
  let cluster: Cluster
  let connections: ChunkConnections
  let planner: TestPlanner
  let blockWriter: BlockWriter

  before(async () => {
    cluster = await Cluster.start(4)
    connections = new ChunkConnections({ secret: SECRET, clientId: 'data-test-faults', connectTimeoutMs: 500 })
    planner = new TestPlanner(cluster.addresses)
    blockWriter = new BlockWriter({ planner, connections })
  })

  after(async () => {
    await connections?.close()
    await cluster?.close()
  })

  it('re-places a block when the head of its chain is down', async () => {
    await cluster.kill(0)
    const bytes = patternBytes(500_000, 31)
    const result = await blockWriter.writeBlock(bytes)
    expect(result.copies).to.deep.equal(cluster.addresses.slice(1))
    expect(result.underReplicated).to.equal(false)
    expect(planner.placements.at(-1)!.exclude).to.deep.equal([cluster.addresses[0]])
    const back = await new BlockReader({ planner, connections }).readBlock(result.ref)
    expect(back.equals(bytes)).to.equal(true)
  })

  it('with one server of the chain down, stores two copies and says so', async () => {
    await cluster.kill(3)
    const bytes = patternBytes(400_000, 32)
    const file = await writeAll(new FileWriter(blockWriter, { blockSize: 256 * 1024 }), bytes, 64 * 1024)
    expect(file.underReplicated).to.deep.equal([0, 1])
    for (const w of file.written) expect(w.copies).to.deep.equal([cluster.addresses[1], cluster.addresses[2]])
    const back = await new BlockReader({ planner, connections }).readRange(file.blocks, 0, bytes.byteLength)
    expect(back.equals(bytes)).to.equal(true)
  })

  it('with too few servers left, fails with a clear error', async () => {
    await cluster.kill(2)
    const err = await expectCode(blockWriter.writeBlock(patternBytes(100_000, 33)), 'UNAVAILABLE')
    expect(err.message).to.match(/not enough durable copies/)
    const fileErr = await expectCode(
      writeAll(new FileWriter(blockWriter, { blockSize: 64 * 1024 }), patternBytes(300_000, 34), 50_000), 'UNAVAILABLE')
    expect(fileErr.message).to.match(/copies/)
  })
})

describe('data path with a server down in the middle of the chain', function () {
  this.timeout(30_000)
  let cluster: Cluster
  let connections: ChunkConnections

  before(async () => {
    cluster = await Cluster.start(4)
    connections = new ChunkConnections({ secret: SECRET, clientId: 'data-test-middle', connectTimeoutMs: 500 })
  })

  after(async () => {
    await connections?.close()
    await cluster?.close()
  })

  it('excludes only the failed hop, not the servers the chain never reached', async () => {
    await cluster.kill(1)
    // minCopies 3: the head's lone copy is not enough, so the block is placed again.
    const planner = new TestPlanner(cluster.addresses, 3)
    const blockWriter = new BlockWriter({ planner, connections })
    const bytes = patternBytes(300_000, 41)
    const result = await blockWriter.writeBlock(bytes)
    expect(planner.placements).to.have.length(2)
    expect(planner.placements[1]!.exclude).to.deep.equal([cluster.addresses[1]])
    const [a, , c, d] = cluster.addresses
    expect(result.copies).to.deep.equal([a, c, d])
    expect(result.underReplicated).to.equal(false)
    const back = await new BlockReader({ planner, connections }).readBlock(result.ref)
    expect(back.equals(bytes)).to.equal(true)
  })
})

/**
 * xxh64 collisions cannot be made on purpose, and a real chunk server checks every key, so a
 * stand-in head plays the server that already holds other bytes under the normal key: it refuses
 * unsalted keys with HASH_COLLISION, as BlockStore does, and stores salted ones in a real store.
 */
describe('data path on a hash collision', function () {
  this.timeout(30_000)
  let dir: string
  let store: BlockStore
  let server: RpcServer<ChunkServerCatalogue>
  let connections: ChunkConnections
  const refused: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-client-collide-'))
    store = await BlockStore.open(dir)
    const nope = (): never => { throw new TesseraError('ENOSYS', 'not in this stand-in') }
    server = await RpcServer.listen({
      catalogue: chunkServerCatalogue, secret: SECRET, serverId: 'collider', host: '127.0.0.1', port: 0,
      handlers: {
        'block.write': async (request, context) => {
          if (!/-s[0-9]+$/.test(request.key)) {
            refused.push(request.key)
            for await (const piece of context.requestStream) void piece
            throw new TesseraError('HASH_COLLISION', `block ${request.key} is stored with different bytes`)
          }
          const writer = await store.beginWrite(request.key, { expectedLength: request.length })
          for await (const piece of context.requestStream) await writer.write(piece)
          await writer.commit()
          return { copies: [{ server: address(), ok: true }], stored: 1 }
        },
        'block.read': nope, 'block.delete': nope, 'block.stat': nope, 'chunk.info': nope,
      },
    })
    connections = new ChunkConnections({ secret: SECRET, clientId: 'data-test-collide', connectTimeoutMs: 500 })
  })

  function address(): string {
    return `127.0.0.1:${server.address().port}`
  }

  after(async () => {
    await connections?.close()
    await server?.close()
    await store?.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('writes the block again under the salted key with seed 1', async () => {
    const planner = new TestPlanner([address()], 1, 1)
    const writer = new BlockWriter({ planner, connections, replication: 1 })
    const bytes = patternBytes(200_000, 41)
    const result = await writer.writeBlock(bytes)
    const normal = chunkKeyOf(nameBytes(await loadHasher(), bytes))
    const salted = chunkKeyOf(nameBytes(await loadHasher(), bytes, 1))
    expect(refused).to.deep.equal([normal])
    expect(result.ref).to.deep.equal({ key: salted.replace(/-[0-9]+-s1$/, 's1'), len: 200_000, used: 200_000 })
    expect(chunkKeyOfRef(result.ref)).to.equal(salted)
    expect(Buffer.from(await store.read(salted, 0, bytes.byteLength)).equals(bytes)).to.equal(true)
  })
})
