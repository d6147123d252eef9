/**
 * A small real cluster in this process for GC tests: a one-member meta service with a short GC
 * grace period (and short placement pins), and three chunk daemons that register, heartbeat and
 * carry out delete orders through MetaCalls, as `tessera chunk` does. Everything listens on
 * 127.0.0.1 and is stopped (and its temp dirs removed) by `stop`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChunkDaemon, chunkMetaLinkOver } from '@tessera/chunk'
import { MetaCalls, type MetaClient } from '../../src/index.js'
import { SingleMeta, type MetaExtras } from './meta-cluster.js'

export class GcCluster {
  private constructor(
    readonly meta: SingleMeta,
    readonly chunks: ChunkDaemon[],
    private readonly links: MetaCalls[],
    private readonly dirs: string[],
  ) {}

  static async start(extras: MetaExtras, chunkCount = 3, heartbeatMs = 100): Promise<GcCluster> {
    const meta = await SingleMeta.start(extras)
    const cluster = new GcCluster(meta, [], [], [])
    try {
      for (let i = 1; i <= chunkCount; i++) {
        const dir = await mkdtemp(join(tmpdir(), 'tessera-gc-chunk-'))
        cluster.dirs.push(dir)
        const calls = new MetaCalls({ addresses: [meta.service.address], secret: meta.secret, clientId: `chunk-${i}`, deadlineMs: 5000 })
        cluster.links.push(calls)
        const link = chunkMetaLinkOver(calls)
        cluster.chunks.push(await ChunkDaemon.start({
          id: `chunk-${i}`, dataDir: dir, secret: meta.secret, meta: link, host: '127.0.0.1', port: 0, heartbeatMs,
          ...(extras.namespace?.maxBlockBytes === undefined ? {} : { maxBlockBytes: extras.namespace.maxBlockBytes }),
        }))
      }
      const deadline = Date.now() + 10_000
      while (!cluster.chunks.every((c) => c.isRegistered)) {
        if (Date.now() > deadline) throw new Error('the chunk servers did not register in time')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  client(): MetaClient {
    return this.meta.client()
  }

  /** Leader-following cluster-map calls for a data path (closed by `stop`). */
  calls(): MetaCalls {
    const calls = new MetaCalls({ addresses: [this.meta.service.address], secret: this.meta.secret, deadlineMs: 10_000 })
    this.links.push(calls)
    return calls
  }

  /** How many chunk servers hold block `chunkKey` (key-len) right now. */
  holders(chunkKey: string): number {
    return this.chunks.filter((c) => c.store.has(chunkKey)).length
  }

  async stop(): Promise<void> {
    for (const chunk of this.chunks.splice(0)) await chunk.stop().catch(() => undefined)
    await Promise.all(this.links.splice(0).map((c) => c.close().catch(() => undefined)))
    await this.meta.stop()
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
  }
}
