/**
 * A chain of in-process chunk servers for tests, and a plain caller: write a block through the
 * chain (the first server and the rest as its `chain`), read it back from any server. No client
 * library: one RpcClient per server and the block.write / block.read calls as they are.
 */
import { randomBytes } from 'node:crypto'
import {
  RpcClient, chunkServerCatalogue, signBlockToken, type BlockOp, type ChunkServerCatalogue, type Logger, type ResponseOf,
} from '@tessera/protocol'
import { BlockStore, ChunkServer, type BlockStoreOptions, type ChunkServerComponents, type ChunkServerOptions } from '../../src/index.js'
import { TempDirs } from '../store-helpers.js'

export const SECRET = randomBytes(32)

export type WriteAnswer = ResponseOf<ChunkServerCatalogue, 'block.write'>

/** A token for `key`/`op`, valid for `ttlMs` from now (negative: already expired). */
export function tokenFor(key: string, op: BlockOp, options: { ttlMs?: number; secret?: Uint8Array } = {}): string {
  return signBlockToken(options.secret ?? SECRET, { key, op, expiresAtMs: Date.now() + (options.ttlMs ?? 60_000), clientId: 'test-client' })
}

export interface ChainMember {
  server: ChunkServer
  store: BlockStore
  dir: string
  client: RpcClient<ChunkServerCatalogue>
  /** Keys passed to each component callback, in order. */
  events: { stored: string[]; deleted: string[]; corrupt: string[] }
}

export interface ChainOptions {
  /** Store options per member index (e.g. a slow openTempFile, a tiny capacity). */
  store?: (index: number) => BlockStoreOptions
  server?: (index: number) => Partial<ChunkServerOptions>
  logger?: Logger
}

export class TestChain {
  private readonly dirs = new TempDirs()
  readonly members: ChainMember[] = []

  static async start(size: number, options: ChainOptions = {}): Promise<TestChain> {
    const chain = new TestChain()
    try {
      for (let i = 0; i < size; i++) await chain.add(i, options)
    } catch (err) {
      await chain.close()
      throw err
    }
    return chain
  }

  private async add(index: number, options: ChainOptions): Promise<void> {
    const dir = await this.dirs.make('tessera-chunk-')
    const store = await BlockStore.open(dir, options.store?.(index) ?? {})
    const events = { stored: [] as string[], deleted: [] as string[], corrupt: [] as string[] }
    const components: ChunkServerComponents = {
      onBlockStored: (key) => events.stored.push(key),
      onBlockDeleted: (key) => events.deleted.push(key),
      onCorruptBlock: (key) => events.corrupt.push(key),
    }
    let server: ChunkServer
    try {
      server = await ChunkServer.start({
        id: `chunk-${index}`, secret: SECRET, store, components, downstreamConnectTimeoutMs: 1000,
        ...(options.logger ? { logger: options.logger } : {}),
        ...options.server?.(index),
      })
    } catch (err) {
      await store.close()
      throw err
    }
    const client = new RpcClient({
      url: `ws://${server.address}`, catalogue: chunkServerCatalogue, secret: SECRET, clientId: `test-client-${index}`,
    })
    this.members.push({ server, store, dir, client, events })
  }

  get addresses(): string[] {
    return this.members.map((m) => m.server.address)
  }

  /** Closes member `index`'s server (its store stays open, as after a crash of the network side). */
  async kill(index: number): Promise<void> {
    await this.members[index]!.server.close()
  }

  async close(): Promise<void> {
    for (const m of this.members) await m.client.close()
    for (const m of this.members) await m.server.close()
    for (const m of this.members) await m.store.close()
    await this.dirs.removeAll()
  }
}

export interface WriteOptions {
  key: string
  /** Servers after the first; default: the other members in order. */
  chain?: string[]
  /** Size of the pieces the caller sends. Default 1 MiB. */
  pieceBytes?: number
  token?: string | undefined
  minCopies?: number
  /** Called after each piece is accepted by the stream, with the bytes sent so far. */
  onSent?: (sent: number) => void | Promise<void>
  timeoutMs?: number
}

/** Streams `bytes` to `first` with the given chain and returns its answer (or its error). */
export async function writeThrough(
  first: ChainMember, bytes: Uint8Array, options: WriteOptions,
): Promise<WriteAnswer> {
  const call = await first.client.open('block.write', {
    key: options.key,
    length: bytes.byteLength,
    ...(options.token === undefined ? {} : { token: options.token }),
    chain: options.chain ?? [],
    minCopies: options.minCopies ?? 1,
  }, { timeoutMs: options.timeoutMs ?? 20_000 })
  const pieceBytes = options.pieceBytes ?? 1024 * 1024
  try {
    for (let at = 0; at < bytes.byteLength; at += pieceBytes) {
      const piece = bytes.subarray(at, Math.min(at + pieceBytes, bytes.byteLength))
      await call.writer.write(piece)
      await options.onSent?.(at + piece.byteLength)
    }
    await call.writer.end()
  } catch {
    // The server refused or failed the call mid-stream: its answer says why.
  }
  return call.response
}

/** Writes through the whole chain: member 0 first, the others as its chain, with a write token. */
export function writeChain(chain: TestChain, bytes: Uint8Array, key: string, options: Partial<WriteOptions> = {}): Promise<WriteAnswer> {
  return writeThrough(chain.members[0]!, bytes, { key, chain: chain.addresses.slice(1), token: tokenFor(key, 'write'), ...options })
}

/** Reads a block (or a range) from one member, with a read token. */
export async function readFrom(
  member: ChainMember, key: string, length: number, options: { offset?: number; token?: string } = {},
): Promise<Buffer> {
  const call = await member.client.open('block.read', {
    key, offset: options.offset ?? 0, length, token: options.token ?? tokenFor(key, 'read'),
  }, { timeoutMs: 20_000 })
  const parts: Uint8Array[] = []
  let failure: unknown
  try {
    for await (const piece of call.reader) parts.push(piece)
  } catch (err) {
    failure = err
  }
  const answer = await call.response
  if (failure !== undefined) throw failure
  const bytes = Buffer.concat(parts)
  if (answer.length !== bytes.byteLength) throw new Error(`read answered length ${answer.length} but streamed ${bytes.byteLength}`)
  return bytes
}
