/**
 * The chunk daemon obeys meta's delete orders: deletes the block and its sidecar, counts a key
 * it does not hold as done, reports every done order with blocksGone, ignores (and logs once)
 * malformed orders, and keeps heartbeating through all of it.
 */
import { access } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { createLogger, type ChunkHeartbeatReply, type ChunkHeartbeatRequest } from '@tessera/protocol'
import { BlockStore, ChunkDaemon, type ChunkMetaLink } from '../src/index.js'
import { blockFile, LogLines, patternBytes, sidecarFile, storeBytes, TempDirs } from './store-helpers.js'

const exists = (path: string) => access(path).then(() => true, () => false)

/** A meta that hands out the given orders with every heartbeat and records what it hears. */
class FakeMeta implements ChunkMetaLink {
  heartbeats: ChunkHeartbeatRequest[] = []
  gone: string[] = []
  constructor(public orders: ChunkHeartbeatReply['deletes']) {}
  async register(): Promise<void> {}
  async heartbeat(request: ChunkHeartbeatRequest): Promise<ChunkHeartbeatReply> {
    this.heartbeats.push(request)
    return { deletes: this.orders, register: false }
  }
  async blockReport(): Promise<void> {}
  async blocksGone(request: { id: string; blocks: string[] }): Promise<void> {
    this.gone.push(...request.blocks)
    // Meta drops an order once it is reported done.
    this.orders = this.orders.filter((o) => !request.blocks.includes((o as { key?: string } | null)?.key ?? ''))
  }
  async close(): Promise<void> {}
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('chunk daemon: delete orders', function () {
  this.timeout(15_000)
  const dirs = new TempDirs()
  after(() => dirs.removeAll())

  it('deletes ordered blocks with their sidecars, reports them gone (held or not), ignores malformed orders', async () => {
    const dir = await dirs.make()
    const store = await BlockStore.open(dir)
    const doomed = (await storeBytes(store, patternBytes(70_000, 1))).key
    const kept = (await storeBytes(store, patternBytes(5000, 2))).key
    await store.close()
    const notHeld = 'ffffffffffffffff-123'
    const malformed = [{ key: '../../etc/passwd' }, { key: 42 }, null] as unknown as ChunkHeartbeatReply['deletes']
    const meta = new FakeMeta([{ key: doomed }, { key: notHeld }, ...malformed])
    const logs = new LogLines()
    const daemon = await ChunkDaemon.start({
      id: 'c1', dataDir: dir, secret: randomBytes(32), meta, heartbeatMs: 30,
      logger: createLogger({ component: 'chunk', level: 'info', destination: logs }),
    })
    try {
      expect(daemon.store.usage().blockCount).to.equal(2)
      await until('the orders to be confirmed', () => meta.gone.includes(doomed) && meta.gone.includes(notHeld))
      expect(await exists(blockFile(dir, doomed))).to.equal(false)
      expect(await exists(sidecarFile(dir, doomed))).to.equal(false)
      expect(await exists(blockFile(dir, kept))).to.equal(true)
      expect(daemon.store.has(doomed)).to.equal(false)
      expect(daemon.store.usage().blockCount).to.equal(1)
      // Several more heartbeats with the malformed orders still in every reply: logged once each.
      const seen = meta.heartbeats.length
      await until('more heartbeats', () => meta.heartbeats.length >= seen + 3)
      expect(meta.heartbeats.at(-1)!.blockCount).to.equal(1)
      expect(logs.matching('malformed delete order')).to.have.length(3)
      expect(logs.matching('talking to meta failed'), JSON.stringify(logs.matching('talking to meta failed'))).to.have.length(0)
      expect(meta.gone.filter((k) => k === doomed)).to.have.length(1)
      expect(meta.gone).to.not.include('../../etc/passwd')
    } finally {
      await daemon.stop()
    }
  })

  it('a block deleted and ordered again (a resent order) is still success', async () => {
    const dir = await dirs.make()
    const store = await BlockStore.open(dir)
    const key = (await storeBytes(store, patternBytes(1000, 3))).key
    await store.close()
    const meta = new FakeMeta([{ key }])
    const daemon = await ChunkDaemon.start({ id: 'c2', dataDir: dir, secret: randomBytes(32), meta, heartbeatMs: 30 })
    try {
      await until('the first confirmation', () => meta.gone.includes(key))
      meta.orders = [{ key }]
      await until('the second confirmation', () => meta.gone.filter((k) => k === key).length === 2)
      expect(daemon.store.has(key)).to.equal(false)
    } finally {
      await daemon.stop()
    }
  })
})
