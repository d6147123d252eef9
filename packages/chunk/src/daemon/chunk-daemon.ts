/**
 * The chunk daemon: a BlockStore, the ChunkServer in front of it, and the conversation with meta
 * (DESIGN decision 7):
 *
 *   start   -> open the store (its scan quarantines damaged files), listen, register with the
 *              first batch of the block report, send the rest of the report;
 *   every ~3 s -> heartbeat with the store's figures; carry out the delete orders it returns;
 *              register again when meta asks (it had declared this server down);
 *   always  -> blocks deleted or found corrupt are reported to meta (batched, retried).
 *
 * Delete orders (meta's GC of unreferenced blocks) are idempotent: a key the store does not hold
 * counts as done, and every done order is reported with chunk.blocksGone, which is how meta
 * learns it may drop the order. A malformed order is logged once and ignored; a delete that
 * fails (disk error) is logged and left for meta to send again.
 *
 * Meta being unreachable never stops the server from serving: it keeps retrying in the
 * background. stop() ends the loops and closes the server, then the store.
 */
import { MAX_REPORT_KEYS, asTesseraError, silentLogger, type ChunkHeartbeatReply, type Logger } from '@tessera/protocol'
import { isBlockKey } from '../store/block-key.js'
import { ChunkServer } from '../server/chunk-server.js'
import { BlockStore } from '../store/block-store.js'
import type { ChunkMetaLink } from './meta-link.js'

export interface ChunkDaemonOptions {
  id: string
  dataDir: string
  secret: Uint8Array
  meta: ChunkMetaLink
  /** Listen address; default 127.0.0.1 and port 0. */
  host?: string
  port?: number
  advertiseAddress?: string
  /** Failure domain for placement (rack, host, ...); default ''. */
  zone?: string
  capacityBytes?: number
  reserveBytes?: number
  maxBlockBytes?: number
  /** Default 3 s. */
  heartbeatMs?: number
  logger?: Logger
}

/** Longest pause between retries of registration or reports. */
const MAX_RETRY_MS = 2000
/** Malformed delete orders remembered (so each is logged once) before the memory starts over. */
const MAX_BAD_ORDERS_REMEMBERED = 1024

export class ChunkDaemon {
  private readonly log: Logger
  private readonly gone = new Set<string>()
  private readonly badOrders = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private registered = false
  private running: Promise<void> | undefined
  private stopped = false
  private failures = 0

  private constructor(
    private readonly options: ChunkDaemonOptions,
    readonly store: BlockStore,
    private server: ChunkServer | undefined,
    log: Logger,
  ) {
    this.log = log
  }

  /** Opens the store, starts serving, and begins talking to meta in the background. */
  static async start(options: ChunkDaemonOptions): Promise<ChunkDaemon> {
    const log = (options.logger ?? silentLogger()).child({ chunk: options.id })
    const store = await BlockStore.open(options.dataDir, {
      logger: log,
      ...(options.capacityBytes === undefined ? {} : { capacityBytes: options.capacityBytes }),
      ...(options.reserveBytes === undefined ? {} : { reserveBytes: options.reserveBytes }),
      ...(options.maxBlockBytes === undefined ? {} : { maxBlockBytes: options.maxBlockBytes }),
    })
    const daemon = new ChunkDaemon(options, store, undefined, log)
    try {
      daemon.server = await ChunkServer.start({
        id: options.id, secret: options.secret, store, logger: options.logger ?? silentLogger(),
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.port === undefined ? {} : { port: options.port }),
        ...(options.advertiseAddress === undefined ? {} : { advertiseAddress: options.advertiseAddress }),
        components: {
          onBlockDeleted: (key) => daemon.gone.add(key),
          onCorruptBlock: (key) => daemon.gone.add(key),
        },
      })
    } catch (err) {
      await store.close()
      throw err
    }
    daemon.schedule(0)
    return daemon
  }

  get address(): string {
    return this.server!.address
  }

  get id(): string {
    return this.options.id
  }

  /** Whether meta has accepted this server's registration and block report. */
  get isRegistered(): boolean {
    return this.registered
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.running?.catch(() => undefined)
    await this.server?.close()
    await this.store.close()
    await this.options.meta.close()
    this.log.info('chunk daemon stopped')
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.turn().finally(() => { this.running = undefined })
    }, delayMs)
    this.timer.unref?.()
  }

  /** One round with meta: (re)register if needed, heartbeat, carry out orders, report losses. */
  private async turn(): Promise<void> {
    const heartbeatMs = this.options.heartbeatMs ?? 3000
    try {
      if (!this.registered) await this.register()
      const usage = this.store.usage()
      const reply = await this.options.meta.heartbeat({
        id: this.options.id, usedBytes: usage.usedBytes, capacityBytes: usage.capacityBytes,
        blockCount: usage.blockCount, load: usage.reservedBytes,
      })
      if (reply.register) {
        this.log.warn('meta does not count this server as up: registering again')
        this.registered = false
        await this.register()
      }
      await this.obeyDeletes(reply.deletes)
      await this.reportGone()
      if (this.failures > 0) this.log.info({ failures: this.failures }, 'meta reachable again')
      this.failures = 0
      this.schedule(heartbeatMs)
    } catch (err) {
      if (this.stopped) return
      this.failures++
      const error = asTesseraError(err)
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.log.warn({ code: error.code, err: error.message, failures: this.failures }, 'talking to meta failed; retrying')
      }
      this.schedule(Math.min(heartbeatMs, Math.min(MAX_RETRY_MS, 100 * 2 ** this.failures)))
    }
  }

  /** Carries out delete orders; each one done (deleted, or not held) is reported gone. */
  private async obeyDeletes(orders: ChunkHeartbeatReply['deletes']): Promise<void> {
    const list: unknown[] = Array.isArray(orders) ? orders : []
    let deleted = 0
    let failed = 0
    for (const order of list) {
      if (this.stopped) break
      const key: unknown = (order as { key?: unknown } | null)?.key
      if (!isBlockKey(key)) {
        this.noteBadOrder(key)
        continue
      }
      try {
        if (await this.store.delete(key)) deleted++
        this.gone.add(key)
      } catch (err) {
        if (this.stopped) break
        failed++
        if (failed === 1) {
          const error = asTesseraError(err)
          this.log.warn({ key, code: error.code, err: error.message }, 'deleting a block on meta\'s order failed; meta will order it again')
        }
      }
    }
    if (deleted > 0 || failed > 0) this.log.info({ ordered: list.length, deleted, failed }, 'delete orders carried out')
  }

  private noteBadOrder(key: unknown): void {
    const shown = typeof key === 'string' ? key.slice(0, 64) : `<${typeof key}>`
    if (this.badOrders.has(shown)) return
    if (this.badOrders.size >= MAX_BAD_ORDERS_REMEMBERED) this.badOrders.clear()
    this.badOrders.add(shown)
    this.log.warn({ key: shown }, 'malformed delete order from meta ignored')
  }

  /** Registers with the first batch of the block report, then sends the rest. */
  private async register(): Promise<void> {
    const usage = this.store.usage()
    const keys = this.store.list()
    await this.options.meta.register({
      id: this.options.id, address: this.address, zone: this.options.zone ?? '',
      capacityBytes: usage.capacityBytes, usedBytes: usage.usedBytes, blocks: keys.slice(0, MAX_REPORT_KEYS),
    })
    for (let at = MAX_REPORT_KEYS; at < keys.length; at += MAX_REPORT_KEYS) {
      await this.options.meta.blockReport({ id: this.options.id, blocks: keys.slice(at, at + MAX_REPORT_KEYS), replace: false })
    }
    this.registered = true
    this.log.info({ address: this.address, blocks: keys.length }, 'registered with meta')
  }

  private async reportGone(): Promise<void> {
    while (this.gone.size > 0) {
      const batch = [...this.gone].slice(0, MAX_REPORT_KEYS)
      await this.options.meta.blocksGone({ id: this.options.id, blocks: batch })
      for (const key of batch) this.gone.delete(key)
    }
  }
}
