import { expect } from 'chai'
import { Prng } from '../src/prng.js'
import { SimNetwork, swarmNetworkFaults, type SimNetworkOptions } from '../src/network.js'

interface Delivery { tick: number; to: string; from: string; msg: string }

function makeNet(seed: number, options: Partial<SimNetworkOptions<string>> = {}) {
  const log: Delivery[] = []
  const net: SimNetwork<string> = new SimNetwork<string>({
    prng: new Prng(seed),
    endpoints: ['a', 'b', 'c'],
    onDeliver: (to, from, msg) => log.push({ tick: net.now(), to, from, msg }),
    ...options,
  })
  return { net, log }
}

function run(net: SimNetwork<string>, ticks: number): void {
  for (let i = 0; i < ticks; i++) net.tick()
}

describe('SimNetwork', () => {
  it('delivers after the minimum delay, in send order on a path without jitter', () => {
    const { net, log } = makeNet(1, { minDelayTicks: 2 })
    net.send('a', 'b', 'm1')
    net.send('a', 'b', 'm2')
    net.tick()
    expect(log).to.deep.equal([])
    net.tick()
    expect(log.map((d) => d.msg)).to.deep.equal(['m1', 'm2'])
    expect(log[0]).to.include({ tick: 2, to: 'b', from: 'a' })
    expect(net.stats).to.include({ sent: 2, delivered: 2, dropped: 0 })
    expect(net.inFlight()).to.equal(0)
  })

  it('messages sent from the handler arrive on a later tick', () => {
    const ticks: number[] = []
    const net: SimNetwork<string> = new SimNetwork<string>({
      prng: new Prng(1),
      onDeliver: (to, from, msg) => {
        ticks.push(net.now())
        if (msg === 'ping') net.send(to, from, 'pong')
      },
    })
    net.send('a', 'b', 'ping')
    run(net, 3)
    expect(ticks).to.deep.equal([1, 2])
  })

  it('copies Uint8Array messages on send so the sender may reuse its buffer', () => {
    const got: Uint8Array[] = []
    const net = new SimNetwork<Uint8Array>({ prng: new Prng(1), onDeliver: (_to, _from, m) => got.push(m) })
    const buf = new Uint8Array([1, 2, 3])
    net.send('a', 'b', buf)
    buf[0] = 9
    net.tick()
    expect([...got[0]!]).to.deep.equal([1, 2, 3])
  })

  it('is deterministic: the same seed gives the same deliveries', () => {
    const scenario = (seed: number) => {
      const { net, log } = makeNet(seed, {
        dropProbability: 0.2, duplicateProbability: 0.2, meanExtraDelayTicks: 5, pathCapacity: 8,
      })
      for (let i = 0; i < 200; i++) {
        net.send(['a', 'b', 'c'][i % 3]!, ['b', 'c', 'a'][i % 3]!, `m${i}`)
        if (i % 4 === 0) net.tick()
      }
      run(net, 200)
      return { log, stats: { ...net.stats } }
    }
    expect(scenario(11)).to.deep.equal(scenario(11))
    expect(scenario(11).log).to.not.deep.equal(scenario(12).log)
  })

  it('drops and duplicates at roughly the configured rates, and counts them', () => {
    const { net, log } = makeNet(2, { dropProbability: 0.3, duplicateProbability: 0.1 })
    for (let i = 0; i < 5000; i++) {
      net.send('a', 'b', `m${i}`)
      net.tick()
    }
    run(net, 5)
    const s = net.stats
    expect(s.droppedByFault / 5000).to.be.closeTo(0.3, 0.03)
    expect(s.duplicated / (5000 - s.droppedByFault)).to.be.closeTo(0.1, 0.02)
    expect(s.delivered).to.equal(log.length)
    expect(s.delivered).to.equal(s.sent - s.dropped + s.duplicated)
  })

  it('reorders messages when the delay is random', () => {
    const { net, log } = makeNet(3, { meanExtraDelayTicks: 10 })
    for (let i = 0; i < 50; i++) net.send('a', 'b', String(i))
    run(net, 1000)
    const order = log.map((d) => Number(d.msg))
    expect(order).to.have.length(50)
    expect(order).to.not.deep.equal([...order].sort((x, y) => x - y))
  })

  it('respects maxDelayTicks', () => {
    const { net, log } = makeNet(4, { minDelayTicks: 1, meanExtraDelayTicks: 1000, maxDelayTicks: 5 })
    for (let i = 0; i < 20; i++) net.send('a', 'b', String(i))
    run(net, 5)
    expect(log).to.have.length(20)
  })

  it('drops a random queued message when a path is full', () => {
    const { net, log } = makeNet(5, { pathCapacity: 4 })
    for (let i = 0; i < 10; i++) net.send('a', 'b', String(i))
    expect(net.inFlight()).to.equal(4)
    net.tick()
    expect(log).to.have.length(4)
    expect(log.map((d) => d.msg)).to.include('9') // the newest is always queued
    expect(net.stats.droppedByCapacity).to.equal(6)
  })

  it('symmetric partitions cut both ways and heal() restores traffic', () => {
    const { net, log } = makeNet(6)
    net.partition(['a'], ['b', 'c'])
    net.send('a', 'b', 'x')
    net.send('c', 'a', 'y')
    net.send('b', 'c', 'z')
    net.tick()
    expect(log.map((d) => d.msg)).to.deep.equal(['z'])
    expect(net.stats.droppedByPartition).to.equal(2)
    net.heal()
    net.send('a', 'b', 'x2')
    net.tick()
    expect(log.map((d) => d.msg)).to.deep.equal(['z', 'x2'])
  })

  it('asymmetric partitions cut only side A to side B', () => {
    const { net, log } = makeNet(7)
    net.partition(['a'], ['b'], { asymmetric: true })
    net.send('a', 'b', 'lost')
    net.send('b', 'a', 'kept')
    net.tick()
    expect(log.map((d) => d.msg)).to.deep.equal(['kept'])
  })

  it('drops messages already in flight when a partition starts before they arrive', () => {
    const { net, log } = makeNet(8, { minDelayTicks: 3 })
    net.send('a', 'b', 'm')
    net.tick()
    net.isolate('b')
    run(net, 5)
    expect(log).to.deep.equal([])
    expect(net.stats.droppedByPartition).to.equal(1)
  })

  it('isolate() cuts one endpoint from every other known endpoint', () => {
    const { net, log } = makeNet(9)
    net.isolate('c')
    for (const [f, t] of [['a', 'c'], ['c', 'b'], ['a', 'b'], ['b', 'a']] as const) net.send(f, t, `${f}${t}`)
    net.tick()
    expect(log.map((d) => d.msg).sort()).to.deep.equal(['ab', 'ba'])
  })

  it('clog() holds a path and delivers its messages once it clears', () => {
    const { net, log } = makeNet(10)
    net.clog('a', 'b', 5)
    net.send('a', 'b', 'held')
    net.send('b', 'a', 'free')
    net.tick()
    expect(log.map((d) => d.msg)).to.deep.equal(['free'])
    expect(net.isClogged('a', 'b')).to.equal(true)
    run(net, 3)
    expect(log).to.have.length(1)
    net.tick()
    expect(log.map((d) => d.msg)).to.deep.equal(['free', 'held'])
    expect(log[1]!.tick).to.equal(5)
  })

  it('crash() drops queued and new traffic to and from a node until restart()', () => {
    const { net, log } = makeNet(11, { minDelayTicks: 2 })
    net.send('a', 'b', 'queued')
    net.send('b', 'c', 'queued-from-b')
    net.send('a', 'c', 'other')
    net.crash('b')
    net.send('c', 'b', 'new')
    run(net, 3)
    expect(log.map((d) => d.msg)).to.deep.equal(['other'])
    expect(net.stats.droppedByCrash).to.equal(3)
    net.restart('b')
    net.send('c', 'b', 'after')
    run(net, 2)
    expect(log.map((d) => d.msg)).to.deep.equal(['other', 'after'])
  })

  it('automatic partitions start and heal, respecting the stability period', () => {
    const events: string[] = []
    const { net } = makeNet(12, {
      endpoints: ['a', 'b', 'c', 'd', 'e'],
      autoPartition: {
        probability: 0.5, healProbability: 0.5, stabilityTicks: 10, asymmetricProbability: 0.5,
        modes: ['uniform-size', 'uniform-partition', 'isolate-single'],
      },
      onEvent: (text) => events.push(text),
    })
    const changes: number[] = []
    let wasBlocked = false
    for (let i = 0; i < 2000; i++) {
      net.tick()
      const ids = net.endpoints()
      const blocked = ids.some((f) => ids.some((t) => f !== t && net.isBlocked(f, t)))
      if (blocked !== wasBlocked) changes.push(net.now())
      wasBlocked = blocked
    }
    expect(changes.length).to.be.greaterThan(20)
    for (let i = 1; i < changes.length; i++) expect(changes[i]! - changes[i - 1]!).to.be.at.least(10)
    expect(events.some((e) => e.includes('auto-partition ('))).to.equal(true)
    expect(events.some((e) => e.includes('auto-partition healed'))).to.equal(true)
  })

  it('automatic clogs delay traffic without losing it', () => {
    const { net, log } = makeNet(13, { autoClog: { probability: 0.05, meanTicks: 20 } })
    for (let i = 0; i < 300; i++) {
      net.send('a', 'b', String(i))
      net.tick()
    }
    run(net, 1000)
    expect(log).to.have.length(300)
    expect(log.some((d) => d.tick - Number(d.msg) > 5)).to.equal(true)
  })

  it('setFaults() changes the weather mid-run', () => {
    const { net, log } = makeNet(14, { dropProbability: 1 })
    net.send('a', 'b', 'lost')
    net.setFaults({ dropProbability: 0 })
    net.send('a', 'b', 'kept')
    net.tick()
    expect(log.map((d) => d.msg)).to.deep.equal(['kept'])
  })

  it('rejects invalid fault settings', () => {
    expect(() => makeNet(1, { dropProbability: 2 })).to.throw(RangeError)
    expect(() => makeNet(1, { minDelayTicks: 0 })).to.throw(RangeError)
    expect(() => makeNet(1, { pathCapacity: 0 })).to.throw(RangeError)
    expect(() => makeNet(1, { meanExtraDelayTicks: Number.NaN })).to.throw(RangeError)
  })

  it('swarmNetworkFaults draws valid, seed-dependent settings', () => {
    const a = swarmNetworkFaults(new Prng(1))
    expect(a).to.deep.equal(swarmNetworkFaults(new Prng(1)))
    const seen = new Set<string>()
    for (let seed = 0; seed < 20; seed++) {
      const faults = swarmNetworkFaults(new Prng(seed))
      expect(() => new SimNetwork<string>({ prng: new Prng(seed), ...faults })).to.not.throw()
      seen.add(JSON.stringify(faults))
    }
    expect(seen.size).to.equal(20)
  })
})
