/**
 * An in-process meta group (1 or 3 MetaService members on 127.0.0.1, port 0) for the CLI
 * tests, with the secret in a 0600 file so that commands reach it with
 * `--meta ADDRS --secret-file FILE` exactly as a user would.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { MetaService, type MetaServiceOptions } from '@tessera/meta'
import { main } from '../../src/main.js'

const FAST_RAFT = { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 }

export interface Run {
  code: number
  out: string
  err: string
}

export class CliCluster {
  readonly secret = randomBytes(32)
  readonly members: MetaService[] = []

  private constructor(readonly root: string, readonly secretFile: string) {}

  static async start(size = 1, extra: Partial<MetaServiceOptions> = {}): Promise<CliCluster> {
    const root = await mkdtemp(join(tmpdir(), 'tessera-cli-cluster-'))
    const secretFile = join(root, 'secret')
    const cluster = new CliCluster(root, secretFile)
    await writeFile(secretFile, cluster.secret.toString('hex') + '\n', { mode: 0o600 })
    try {
      for (let i = 1; i <= size; i++) {
        cluster.members.push(await MetaService.listen({ id: `m${i}`, dataDir: join(root, `m${i}`), secret: cluster.secret, raft: FAST_RAFT, ...extra }))
      }
      const peers = Object.fromEntries(cluster.members.map((m) => [m.id, m.address]))
      for (const member of cluster.members) await member.start({ peers })
      await cluster.leader()
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  /** Starts one more member, empty, waiting to be added (`tessera members add`). */
  async startJoiner(id: string, extra: Partial<MetaServiceOptions> = {}): Promise<MetaService> {
    const member = await MetaService.listen({ id, dataDir: join(this.root, id), secret: this.secret, raft: FAST_RAFT, ...extra })
    // It must know where the others are to answer them (they learn its address from the add).
    const peers = Object.fromEntries(this.members.map((m) => [m.id, m.address]))
    this.members.push(member)
    await member.start({ peers, join: true })
    return member
  }

  addresses(): string[] {
    return this.members.map((m) => m.address)
  }

  /** The flags that name this cluster. */
  target(): string[] {
    return ['--meta', this.addresses().join(','), '--secret-file', this.secretFile]
  }

  /** Runs `tessera <argv> <target flags>` in-process; passthrough arguments go after `--`. */
  async run(argv: string[], passthrough?: string[]): Promise<Run> {
    const out = new PassThrough()
    const err = new PassThrough()
    const chunks = { out: '', err: '' }
    out.on('data', (d: Buffer) => (chunks.out += d.toString()))
    err.on('data', (d: Buffer) => (chunks.err += d.toString()))
    const args = [...argv, ...this.target(), ...(passthrough === undefined ? [] : ['--', ...passthrough])]
    const code = await main(args, { out, err, env: {} })
    return { code, ...chunks }
  }

  async leader(timeoutMs = 5000): Promise<MetaService> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const leaders = this.members.filter((m) => m.raft?.isLeader())
      if (leaders.length === 1 && this.members.every((m) => m.raft?.leaderId() === leaders[0]!.id)) return leaders[0]!
      if (Date.now() > deadline) throw new Error('no leader elected in time')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()))
    await rm(this.root, { recursive: true, force: true })
  }
}
