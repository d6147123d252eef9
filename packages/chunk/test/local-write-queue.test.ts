import { expect } from 'chai'
import { TesseraError } from '@tessera/protocol'
import { LocalWriteQueue } from '../src/server/local-write-queue.js'
import type { BlockWriter } from '../src/store/block-writer.js'
import { expectCode } from './store-helpers.js'

/** A stand-in for BlockWriter.write: records pieces, each write held until released. */
class GatedWriter {
  readonly written: number[] = []
  private readonly gates: Array<() => void> = []
  active = 0
  maxActive = 0
  failOn: number | undefined

  async write(piece: Uint8Array): Promise<void> {
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    try {
      await new Promise<void>((resolve) => this.gates.push(resolve))
      if (piece[0] === this.failOn) throw new TesseraError('EIO', `disk failed on piece ${piece[0]}`)
      this.written.push(piece[0]!)
    } finally {
      this.active--
    }
  }

  /** Lets the oldest waiting write finish; resolves after the queue has seen it. */
  async releaseOne(): Promise<void> {
    for (let i = 0; i < 100 && this.gates.length === 0; i++) await tick()
    this.gates.shift()?.()
    await tick()
  }

  get waiting(): number {
    return this.gates.length
  }

  asWriter(): BlockWriter {
    return this as unknown as BlockWriter
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function piece(tag: number, bytes: number): Uint8Array {
  const p = new Uint8Array(bytes)
  p[0] = tag
  return p
}

/** Whether `promise` has settled after a few turns of the event loop. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  promise.then(() => { done = true }, () => { done = true })
  for (let i = 0; i < 5; i++) await tick()
  return done
}

describe('LocalWriteQueue: local writes behind the forwarding', () => {
  it('writes pieces one at a time, in order, and drain returns the writer', async () => {
    const disk = new GatedWriter()
    const queue = new LocalWriteQueue(Promise.resolve(disk.asWriter()), 1000)
    const pushes = [queue.push(piece(1, 100)), queue.push(piece(2, 100)), queue.push(piece(3, 100))]
    await Promise.all(pushes)
    expect(queue.pendingBytes).to.equal(300)
    const draining = queue.drain()
    for (let i = 0; i < 3; i++) await disk.releaseOne()
    expect(await draining).to.equal(disk)
    expect(disk.written).to.deep.equal([1, 2, 3])
    expect(disk.maxActive).to.equal(1)
    expect(queue.pendingBytes).to.equal(0)
  })

  it('holds the caller once more than its bound is queued, and lets it go as the disk catches up', async () => {
    const disk = new GatedWriter()
    const queue = new LocalWriteQueue(Promise.resolve(disk.asWriter()), 200)
    await queue.push(piece(1, 100))
    await queue.push(piece(2, 100))
    const third = queue.push(piece(3, 100))
    expect(await settled(third)).to.equal(false)
    expect(queue.pendingBytes).to.equal(300)
    await disk.releaseOne()
    expect(await settled(third)).to.equal(true)
    expect(queue.pendingBytes).to.equal(200)
    for (let i = 0; i < 2; i++) await disk.releaseOne()
    await queue.drain()
    expect(disk.written).to.deep.equal([1, 2, 3])
  })

  it('takes pieces before the writer has opened, and writes them once it has', async () => {
    const disk = new GatedWriter()
    let open!: (w: BlockWriter) => void
    const queue = new LocalWriteQueue(new Promise<BlockWriter>((resolve) => { open = resolve }), 1000)
    await queue.push(piece(1, 100))
    await queue.push(piece(2, 100))
    for (let i = 0; i < 5; i++) await tick()
    expect(disk.waiting).to.equal(0)
    open(disk.asWriter())
    const draining = queue.drain()
    for (let i = 0; i < 2; i++) await disk.releaseOne()
    await draining
    expect(disk.written).to.deep.equal([1, 2])
  })

  it('reports a failed write to the next push and to drain, and writes nothing after it', async () => {
    const disk = new GatedWriter()
    disk.failOn = 2
    const queue = new LocalWriteQueue(Promise.resolve(disk.asWriter()), 1000)
    await queue.push(piece(1, 100))
    await queue.push(piece(2, 100))
    await queue.push(piece(3, 100))
    await disk.releaseOne()
    await disk.releaseOne()
    await expectCode(queue.push(piece(4, 100)), 'EIO')
    await expectCode(queue.drain(), 'EIO')
    expect(disk.written).to.deep.equal([1])
    expect(disk.waiting).to.equal(0)
    expect((queue.failed as TesseraError).code).to.equal('EIO')
  })

  it('frees a caller held at the bound when a write fails', async () => {
    const disk = new GatedWriter()
    disk.failOn = 1
    const queue = new LocalWriteQueue(Promise.resolve(disk.asWriter()), 100)
    await queue.push(piece(1, 100))
    const held = queue.push(piece(2, 100))
    expect(await settled(held)).to.equal(false)
    await disk.releaseOne()
    await expectCode(held, 'EIO')
  })

  it('turns a writer that could not open into the failure of push and drain', async () => {
    const queue = new LocalWriteQueue(Promise.reject(new TesseraError('ENOSPC', 'no room')), 1000)
    await tick()
    await expectCode(queue.push(piece(1, 10)), 'ENOSPC')
    await expectCode(queue.drain(), 'ENOSPC')
  })
})
