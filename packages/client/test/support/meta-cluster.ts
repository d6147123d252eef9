/**
 * A one-member meta service in this process (127.0.0.1, port 0, temp data dir) for the VFS
 * tests. @tessera/meta depends on this package, so it is loaded at run time (by then every
 * package is built) and typed here by the little the tests use.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BlockCopies, Credentials } from '@tessera/protocol'
import { MetaCalls, MetaClient } from '../../src/index.js'

interface MetaServiceLike {
  readonly address: string
  readonly raft: { isLeader(): boolean } | undefined
  start(options: { peers: Record<string, string> }): Promise<void>
  stop(): Promise<void>
}

interface MetaModule {
  MetaService: {
    listen(options: {
      id: string; dataDir: string; secret: Uint8Array; port: number
      raft: { tickMs: number; electionTicks: number; heartbeatTicks: number }
    } & MetaExtras): Promise<MetaServiceLike>
  }
}

/** Settings a test may give the meta member (the few MetaServiceOptions the tests use). */
export interface MetaExtras {
  namespace?: { maxBlockBytes?: number }
  gc?: { graceMs?: number; intervalMs?: number; pinMarginMs?: number }
  dataPath?: { tokenTtlMs?: number; chunkTimeoutMs?: number }
}

const META_MODULE = '@tessera/meta'

export class SingleMeta {
  private readonly clients: MetaClient[] = []
  private readonly calls: MetaCalls[] = []

  private constructor(readonly service: MetaServiceLike, readonly secret: Uint8Array, private readonly dir: string) {}

  static async start(extras: MetaExtras = {}): Promise<SingleMeta> {
    const { MetaService } = (await import(META_MODULE)) as MetaModule
    const dir = await mkdtemp(join(tmpdir(), 'tessera-vfs-meta-'))
    const secret = randomBytes(32)
    const service = await MetaService.listen({
      id: 'm1', dataDir: join(dir, 'm1'), secret, port: 0, raft: { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 }, ...extras,
    })
    await service.start({ peers: { m1: service.address } })
    const deadline = Date.now() + 5000
    while (service.raft?.isLeader() !== true) {
      if (Date.now() > deadline) {
        await service.stop()
        throw new Error('the meta member did not become leader')
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return new SingleMeta(service, secret, dir)
  }

  client(cred?: Credentials): MetaClient {
    const client = new MetaClient({
      addresses: [this.service.address], secret: this.secret, deadlineMs: 10_000, ...(cred === undefined ? {} : { cred }),
    })
    this.clients.push(client)
    return client
  }

  /**
   * Registers a stand-in chunk server at `address` (nothing listens there) and returns a function
   * that records blocks as held by it (meta.blocksWritten), as a cluster's recordWritten does.
   */
  async standInChunkServer(address: string): Promise<(written: readonly BlockCopies[]) => Promise<void>> {
    const calls = new MetaCalls({ addresses: [this.service.address], secret: this.secret, deadlineMs: 10_000 })
    this.calls.push(calls)
    await calls.call('chunk.register', { id: 'stand-in', address, zone: 'default', capacityBytes: 2 ** 40, usedBytes: 0 })
    return async (written) => {
      await calls.call('meta.blocksWritten', { blocks: [...written] })
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.calls.splice(0).map((c) => c.close()))
    await Promise.all(this.clients.splice(0).map((c) => c.close()))
    await this.service.stop()
    await rm(this.dir, { recursive: true, force: true })
  }
}
