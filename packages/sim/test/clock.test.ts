import { expect } from 'chai'
import { SimClock } from '../src/clock.js'

describe('SimClock', () => {
  it('now() is ticks times msPerTick', () => {
    const clock = new SimClock({ msPerTick: 5 })
    expect(clock.now()).to.equal(0)
    clock.advance(3)
    expect(clock.ticks()).to.equal(3)
    expect(clock.now()).to.equal(15)
  })

  it('fires timers at the first tick at or after their due time', () => {
    const clock = new SimClock({ msPerTick: 10 })
    const fired: Array<[string, number]> = []
    clock.setTimer(25, () => fired.push(['a', clock.now()]))
    clock.setTimer(10, () => fired.push(['b', clock.now()]))
    clock.setTimer(0, () => fired.push(['c', clock.now()]))
    clock.advance(1)
    expect(fired).to.deep.equal([['c', 10], ['b', 10]])
    clock.advance(1)
    expect(fired).to.have.length(2)
    clock.advance(1)
    expect(fired[2]).to.deep.equal(['a', 30])
  })

  it('orders by due time, then by insertion order', () => {
    const clock = new SimClock({ msPerTick: 100 })
    const order: number[] = []
    for (let i = 0; i < 20; i++) clock.setTimer((i % 4) * 10, () => order.push(i))
    clock.advance(1)
    expect(order).to.deep.equal([0, 4, 8, 12, 16, 1, 5, 9, 13, 17, 2, 6, 10, 14, 18, 3, 7, 11, 15, 19])
  })

  it('cancel() stops a timer; cancelling twice returns false', () => {
    const clock = new SimClock()
    let fired = false
    const id = clock.setTimer(10, () => { fired = true })
    expect(clock.pendingTimers()).to.equal(1)
    expect(clock.cancel(id)).to.equal(true)
    expect(clock.cancel(id)).to.equal(false)
    clock.advance(5)
    expect(fired).to.equal(false)
    expect(clock.pendingTimers()).to.equal(0)
  })

  it('timers set by a firing timer run in the same advance when already due', () => {
    const clock = new SimClock({ msPerTick: 10 })
    const fired: number[] = []
    clock.setTimer(10, () => {
      fired.push(1)
      clock.setTimer(0, () => fired.push(2))
      clock.setTimer(10, () => fired.push(3))
    })
    clock.advance(1)
    expect(fired).to.deep.equal([1, 2])
    clock.advance(1)
    expect(fired).to.deep.equal([1, 2, 3])
  })

  it('stops a timer loop that re-arms itself at 0 ms', () => {
    const clock = new SimClock({ maxTimersPerTick: 100 })
    const rearm = (): void => { clock.setTimer(0, rearm) }
    clock.setTimer(0, rearm)
    expect(() => clock.advance(1)).to.throw(/timer loop/)
  })

  it('rejects bad arguments', () => {
    const clock = new SimClock()
    expect(() => clock.setTimer(-1, () => {})).to.throw(RangeError)
    expect(() => clock.advance(-1)).to.throw(RangeError)
    expect(() => new SimClock({ msPerTick: 0 })).to.throw(RangeError)
  })
})

describe('NodeClock', () => {
  it('applies a constant skew', () => {
    const world = new SimClock({ msPerTick: 10 })
    const node = world.nodeClock({ skewMs: -250 })
    world.advance(100)
    expect(node.now()).to.equal(1000 - 250)
    expect(node.skew()).to.equal(-250)
  })

  it('drifts linearly and keeps past drift when the rate changes', () => {
    const world = new SimClock({ msPerTick: 10 })
    const node = world.nodeClock({ driftPpm: 1000 }) // 0.1% fast
    world.advance(10_000) // 100 s of true time
    expect(node.now()).to.equal(100_000 + 100)
    node.setDrift(0)
    world.advance(10_000)
    expect(node.now()).to.equal(200_000 + 100)
    node.setDrift(-2000)
    world.advance(10_000)
    expect(node.now()).to.equal(300_000 + 100 - 200)
  })

  it('step() moves the clock, backwards too', () => {
    const world = new SimClock({ msPerTick: 10 })
    const node = world.nodeClock()
    world.advance(10)
    node.step(-50)
    expect(node.now()).to.equal(50)
    world.advance(1)
    expect(node.now()).to.equal(60)
  })

  it('node timers measure node time: a fast clock fires earlier in true time', () => {
    const world = new SimClock({ msPerTick: 1 })
    const fast = world.nodeClock({ driftPpm: 100_000 }) // 10% fast
    let firedAt = -1
    fast.setTimer(1100, () => { firedAt = world.now() })
    world.advance(999)
    expect(firedAt).to.equal(-1)
    world.advance(1)
    expect(firedAt).to.equal(1000)
    expect(fast.now()).to.be.at.least(1100)
  })

  it('rejects a drift that is not a rate', () => {
    const world = new SimClock()
    expect(() => world.nodeClock({ driftPpm: -1_000_000 })).to.throw(RangeError)
    expect(() => world.nodeClock({ skewMs: Number.NaN })).to.throw(RangeError)
  })
})
