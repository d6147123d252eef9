/**
 * A test client for KV node processes: finds the leader by following NOT_LEADER hints,
 * retries through fail-overs with the same (client, seq) so a put applies exactly once, and
 * records every operation as a KvEvent for the linearizability checker.
 */
import { RpcClient, TesseraError, hasCode } from '@tessera/protocol'
import type { KvEvent } from '@tessera/sim'
import { kvCatalogue, type KvCatalogue } from './kv-catalogue.js'

export interface KvClientOptions {
  /** Who this client is (its session id). */
  name: string
  secret: Uint8Array
  /** Every member's address (host:port): tried in turn when no hint is known. */
  addresses: string[]
  /** Give up on one operation after this long (its outcome is then unknown). Default 8 s. */
  opTimeoutMs?: number
  /** The clock the history is written in (shared by every client of one history). */
  now?: () => number
}

export class KvClient {
  readonly history: KvEvent[] = []
  private readonly clients = new Map<string, RpcClient<KvCatalogue>>()
  private target: string
  private next = 0
  private seq = 0
  private readonly now: () => number

  constructor(private readonly options: KvClientOptions) {
    this.target = options.addresses[0]!
    this.now = options.now ?? (() => performance.now())
  }

  /** Writes key=value. Resolves true when acknowledged, false when the outcome is unknown. */
  async put(key: string, value: string): Promise<boolean> {
    const seq = ++this.seq
    const invokedAt = this.now()
    try {
      await this.withLeader((client) => client.call('kv.put', { client: this.options.name, seq, key, value }, { timeoutMs: 2000 }))
      this.history.push({ client: this.options.name, op: 'put', key, value, invokedAt, returnedAt: this.now(), ok: true })
      return true
    } catch {
      this.history.push({ client: this.options.name, op: 'put', key, value, invokedAt, ok: 'unknown' })
      return false
    }
  }

  /** A linearizable read; undefined when it failed (a failed read has no effect). */
  async get(key: string): Promise<string | null | undefined> {
    const invokedAt = this.now()
    try {
      const answer = await this.withLeader((client) => client.call('kv.get', { key }, { timeoutMs: 2000 }))
      const result = answer.found ? answer.value : null
      this.history.push({ client: this.options.name, op: 'get', key, result, invokedAt, returnedAt: this.now(), ok: true })
      return result
    } catch {
      this.history.push({ client: this.options.name, op: 'get', key, invokedAt, returnedAt: this.now(), ok: false })
      return undefined
    }
  }

  /** Asks one member directly (no redirects). */
  async dump(address: string): Promise<{ applied: number; pairs: { key: string; value: string }[] }> {
    return this.clientFor(address).call('kv.dump', {}, { timeoutMs: 2000 })
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()))
    this.clients.clear()
  }

  private async withLeader<T>(call: (client: RpcClient<KvCatalogue>) => Promise<T>): Promise<T> {
    const deadline = this.now() + (this.options.opTimeoutMs ?? 8000)
    let lastError: unknown
    while (this.now() < deadline) {
      try {
        return await call(this.clientFor(this.target))
      } catch (err) {
        lastError = err
        const hint = hasCode(err, 'NOT_LEADER') ? err.details?.leaderHint : undefined
        if (hint !== undefined && hint !== this.target) {
          this.target = hint
          continue
        }
        // No hint, or the hinted member cannot serve yet: try the next member after a pause.
        this.next = (this.next + 1) % this.options.addresses.length
        this.target = this.options.addresses[this.next]!
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    throw lastError instanceof TesseraError ? lastError : new TesseraError('ETIMEDOUT', 'no leader answered in time')
  }

  private clientFor(address: string): RpcClient<KvCatalogue> {
    let client = this.clients.get(address)
    if (client === undefined) {
      client = new RpcClient({
        url: `ws://${address}`,
        catalogue: kvCatalogue,
        secret: this.options.secret,
        clientId: this.options.name,
        defaultTimeoutMs: 2000,
        reconnectInitialDelayMs: 20,
        reconnectMaxDelayMs: 200,
      })
      this.clients.set(address, client)
    }
    return client
  }
}
