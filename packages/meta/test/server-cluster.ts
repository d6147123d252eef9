/** Three MetaService members in this process on 127.0.0.1 (port 0), with tmp data dirs. */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MetaClient, type MetaClientOptions } from '@tessera/client'
import { MetaService, type MetaServiceOptions } from '../src/index.js'

/** Fast timers: 20 ms ticks, elections after 200-400 ms. */
export const FAST_RAFT = { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 }

export class TestCluster {
  readonly secret = randomBytes(32)
  members: MetaService[] = []
  private clients: MetaClient[] = []

  private constructor(readonly root: string, readonly ids: string[]) {}

  static async start(size = 3, extra: Partial<MetaServiceOptions> = {}): Promise<TestCluster> {
    const root = await mkdtemp(join(tmpdir(), 'tessera-meta-server-'))
    const cluster = new TestCluster(root, Array.from({ length: size }, (_, i) => `m${i + 1}`))
    await cluster.boot(extra)
    return cluster
  }

  /**
   * (Re)starts every member from its data dir; the first boot founds the group on ports the
   * kernel picks, a restart reuses them (members know each other's addresses from the log).
   */
  async boot(extra: Partial<MetaServiceOptions> = {}): Promise<void> {
    const ports = this.members.map((m) => Number(m.address.split(':').pop()))
    this.members = []
    for (const [i, id] of this.ids.entries()) {
      this.members.push(await MetaService.listen({
        id, dataDir: join(this.root, id), secret: this.secret, raft: FAST_RAFT, port: ports[i] ?? 0, ...extra,
      }))
    }
    const peers = Object.fromEntries(this.members.map((m) => [m.id, m.address]))
    for (const member of this.members) await member.start({ peers })
  }

  addresses(): string[] {
    return this.members.map((m) => m.address)
  }

  client(options: Partial<MetaClientOptions> = {}): MetaClient {
    const client = new MetaClient({ addresses: this.addresses(), secret: this.secret, deadlineMs: 10_000, ...options })
    this.clients.push(client)
    return client
  }

  /** Waits (bounded) until one member leads and every member knows it. */
  async leader(timeoutMs = 5000): Promise<MetaService> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const leaders = this.members.filter((m) => m.raft?.isLeader())
      const leader = leaders[0]
      if (leaders.length === 1 && this.members.every((m) => m.raft?.leaderId() === leader!.id)) return leader!
      if (Date.now() > deadline) throw new Error('no leader elected in time')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  followers(leader: MetaService): MetaService[] {
    return this.members.filter((m) => m !== leader)
  }

  async stopMembers(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()))
    await Promise.all(this.members.map((m) => m.stop()))
  }

  async destroy(): Promise<void> {
    await this.stopMembers()
    await rm(this.root, { recursive: true, force: true })
  }
}
