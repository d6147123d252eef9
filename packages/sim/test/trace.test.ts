import { expect } from 'chai'
import { TraceBuffer } from '../src/trace.js'
import { SimClock } from '../src/clock.js'
import { SimNetwork } from '../src/network.js'
import { Prng } from '../src/prng.js'

describe('TraceBuffer', () => {
  it('keeps lines with their ticks, oldest first', () => {
    const trace = new TraceBuffer({ capacity: 4 })
    trace.record(1, 'a')
    trace.record(5, 'b')
    expect(trace.entries()).to.deep.equal([{ tick: 1, text: 'a' }, { tick: 5, text: 'b' }])
    expect(trace.dump()).to.equal('[       1] a\n[       5] b')
  })

  it('overwrites the oldest lines when full and says how many were lost', () => {
    const trace = new TraceBuffer({ capacity: 3 })
    for (let i = 0; i < 7; i++) trace.record(i, `line ${i}`)
    expect(trace.size()).to.equal(3)
    expect(trace.dropped()).to.equal(4)
    expect(trace.entries().map((e) => e.text)).to.deep.equal(['line 4', 'line 5', 'line 6'])
    expect(trace.dump().split('\n')[0]).to.equal('(4 earlier lines dropped)')
    trace.clear()
    expect(trace.size()).to.equal(0)
    expect(trace.dump()).to.equal('')
  })

  it('stamps log() lines from the clock and collects network events through sink()', () => {
    const clock = new SimClock()
    const trace = new TraceBuffer({ now: () => clock.ticks() })
    const net = new SimNetwork<string>({ prng: new Prng(1), endpoints: ['a', 'b'], onEvent: trace.sink(), onDeliver: () => {} })
    clock.advance(3)
    trace.log('hello')
    net.isolate('a')
    expect(trace.entries()).to.deep.equal([
      { tick: 3, text: 'hello' },
      { tick: 3, text: 'net@0: partition [a] <-/-> [b]' },
    ])
  })

  it('rejects a capacity below one', () => {
    expect(() => new TraceBuffer({ capacity: 0 })).to.throw(RangeError)
  })
})
