import { expect } from 'chai'
import { Prng } from '../src/prng.js'
import { checkKvHistory, type KvEvent, type LinearizabilityResult } from '../src/linearizability.js'

const put = (client: string, key: string, value: string, invokedAt: number, returnedAt: number): KvEvent =>
  ({ client, op: 'put', key, value, invokedAt, returnedAt, ok: true })
const get = (client: string, key: string, result: string | null, invokedAt: number, returnedAt: number): KvEvent =>
  ({ client, op: 'get', key, result, invokedAt, returnedAt, ok: true })

function violation(result: LinearizabilityResult): { key: string; explanation: string } {
  if (result.ok || result.kind !== 'violation') throw new Error(`expected a violation, got ${JSON.stringify(result)}`)
  return result
}

/** Changes the result of one completed get or cas. */
function mutate(prng: Prng, history: KvEvent[]): void {
  const candidates = history.filter((e) => e.ok === true && (e.op === 'get' || e.op === 'cas'))
  if (candidates.length === 0) return
  const victim = prng.pick(candidates)
  if (victim.op === 'cas') victim.result = !victim.result
  else victim.result = victim.result === null ? prng.pick(['0', '1', '2', '3', '4', '5']) : prng.pick([null, 'x'])
}

/**
 * The definition, by exhaustion: some order of the operations that respects real time (a
 * before b when a returned before b was invoked) replays on a sequential store with the
 * recorded results; unknown operations may be left out. Single key, no memoization.
 */
function bruteForce(history: readonly KvEvent[]): boolean {
  const ops = history.filter((e) => e.ok !== false && !(e.ok === 'unknown' && e.op === 'get'))
  const end = (e: KvEvent): number => (e.ok === true ? (e.returnedAt as number) : Infinity)
  const placed = new Array<boolean>(ops.length).fill(false)
  const search = (state: string | null, left: number): boolean => {
    if (ops.every((e, i) => placed[i] || e.ok !== true)) return true
    if (left === 0) return false
    for (let i = 0; i < ops.length; i++) {
      if (placed[i]) continue
      const e = ops[i]!
      // e can go next only if no other unplaced op returned strictly before e was invoked.
      if (ops.some((o, j) => !placed[j] && j !== i && end(o) < e.invokedAt)) continue
      const definite = e.ok === true
      let next: string | null
      if (e.op === 'get') {
        if ((e.result ?? null) !== state) continue
        next = state
      } else if (e.op === 'put') {
        next = e.value!
      } else if (e.op === 'delete') {
        if (definite && typeof e.result === 'boolean' && e.result !== (state !== null)) continue
        next = null
      } else {
        const matches = state === (e.expected ?? null)
        if (definite && e.result !== matches) continue
        next = matches ? e.value! : state
      }
      placed[i] = true
      const ok = search(next, left - 1)
      placed[i] = false
      if (ok) return true
    }
    return false
  }
  return search(null, ops.length)
}

describe('checkKvHistory', () => {
  describe('hand-made histories', () => {
    it('accepts an empty history and a sequential one', () => {
      expect(checkKvHistory([]).ok).to.equal(true)
      expect(checkKvHistory([
        get('a', 'x', null, 0, 1),
        put('a', 'x', '1', 2, 3),
        get('b', 'x', '1', 4, 5),
        { client: 'c', op: 'delete', key: 'x', invokedAt: 6, returnedAt: 7, result: true, ok: true },
        get('a', 'x', null, 8, 9),
      ]).ok).to.equal(true)
    })

    it('rejects a stale read', () => {
      const r = violation(checkKvHistory([put('a', 'x', '1', 0, 1), get('b', 'x', null, 2, 3)]))
      expect(r.key).to.equal('x')
      expect(r.explanation).to.include('read (absent) but the value was "1"')
    })

    it('rejects a lost write', () => {
      violation(checkKvHistory([put('a', 'x', '1', 0, 1), put('a', 'x', '2', 2, 3), get('b', 'x', '1', 4, 5)]))
    })

    it('rejects a read of a value never written', () => {
      const r = violation(checkKvHistory([put('a', 'x', '1', 0, 10), get('b', 'x', '7', 2, 3)]))
      expect(r.explanation).to.include('client b get("x") -> "7" [2, 3]')
    })

    it('accepts a read concurrent with a write seeing either the old or the new value', () => {
      expect(checkKvHistory([put('a', 'x', '1', 0, 10), get('b', 'x', null, 2, 3)]).ok).to.equal(true)
      expect(checkKvHistory([put('a', 'x', '1', 0, 10), get('b', 'x', '1', 2, 3)]).ok).to.equal(true)
    })

    it('accepts concurrent writes in either order, but then reads must agree', () => {
      const writes = [put('a', 'x', '1', 0, 10), put('b', 'x', '2', 0, 10)]
      expect(checkKvHistory([...writes, get('c', 'x', '1', 11, 12)]).ok).to.equal(true)
      expect(checkKvHistory([...writes, get('c', 'x', '2', 11, 12)]).ok).to.equal(true)
      violation(checkKvHistory([...writes, get('c', 'x', '2', 11, 12), get('c', 'x', '1', 13, 14)]))
    })

    it('rejects a new-then-old read pair during one write (no going back in time)', () => {
      violation(checkKvHistory([put('a', 'x', '1', 0, 100), get('b', 'x', '1', 10, 20), get('c', 'x', null, 30, 40)]))
      expect(checkKvHistory([put('a', 'x', '1', 0, 100), get('b', 'x', null, 10, 20), get('c', 'x', '1', 30, 40)]).ok).to.equal(true)
    })

    it('treats operations that touch at the same instant as concurrent', () => {
      expect(checkKvHistory([put('a', 'x', '1', 0, 5), get('b', 'x', null, 5, 6)]).ok).to.equal(true)
    })

    it('checks cas results against the value at its linearization point', () => {
      const cas = (expected: string | null, value: string, result: boolean, t0: number, t1: number): KvEvent =>
        ({ client: 'c', op: 'cas', key: 'k', expected, value, result, invokedAt: t0, returnedAt: t1, ok: true })
      expect(checkKvHistory([put('a', 'k', '1', 0, 1), cas('1', '2', true, 2, 3), get('a', 'k', '2', 4, 5)]).ok).to.equal(true)
      expect(checkKvHistory([cas(null, '1', true, 0, 1), cas(null, '2', false, 2, 3), get('a', 'k', '1', 4, 5)]).ok).to.equal(true)
      expect(violation(checkKvHistory([put('a', 'k', '1', 0, 1), cas('0', '2', true, 2, 3)])).explanation)
        .to.include('swapped but the value was "1", not "0"')
      expect(violation(checkKvHistory([put('a', 'k', '1', 0, 1), cas('1', '2', false, 2, 3)])).explanation)
        .to.include('did not swap')
      // Two concurrent cas from the same expected value: exactly one may win.
      const race = [put('a', 'k', '0', 0, 1), cas('0', 'A', true, 2, 10), cas('0', 'B', true, 2, 10)]
      violation(checkKvHistory(race))
    })

    it('checks a delete that reports whether the key existed', () => {
      const del = (result: boolean): KvEvent => ({ client: 'a', op: 'delete', key: 'x', result, invokedAt: 2, returnedAt: 3, ok: true })
      expect(checkKvHistory([put('a', 'x', '1', 0, 1), del(true)]).ok).to.equal(true)
      violation(checkKvHistory([put('a', 'x', '1', 0, 1), del(false)]))
    })

    it('ignores operations that failed for certain', () => {
      const failed: KvEvent = { client: 'a', op: 'put', key: 'x', value: '9', invokedAt: 0, returnedAt: 1, ok: false }
      expect(checkKvHistory([failed, get('b', 'x', null, 2, 3)]).ok).to.equal(true)
      violation(checkKvHistory([failed, get('b', 'x', '9', 2, 3)]))
    })

    it('lets an unknown write take effect any time after its call, or never', () => {
      const unknown: KvEvent = { client: 'a', op: 'put', key: 'x', value: '1', invokedAt: 10, ok: 'unknown' }
      expect(checkKvHistory([unknown, get('b', 'x', null, 20, 21)]).ok).to.equal(true)
      expect(checkKvHistory([unknown, get('b', 'x', '1', 20, 21)]).ok).to.equal(true)
      expect(checkKvHistory([unknown, get('b', 'x', null, 20, 21), get('b', 'x', '1', 1000, 1001)]).ok).to.equal(true)
      // ... but not before it was invoked, and not undone once seen.
      violation(checkKvHistory([unknown, get('b', 'x', '1', 0, 5)]))
      violation(checkKvHistory([unknown, get('b', 'x', '1', 20, 21), get('b', 'x', null, 30, 31)]))
    })

    it('lets an unknown cas either apply or not', () => {
      const base = put('a', 'x', '0', 0, 1)
      const cas: KvEvent = { client: 'a', op: 'cas', key: 'x', expected: '0', value: '1', invokedAt: 2, ok: 'unknown' }
      expect(checkKvHistory([base, cas, get('b', 'x', '1', 5, 6)]).ok).to.equal(true)
      expect(checkKvHistory([base, cas, get('b', 'x', '0', 5, 6)]).ok).to.equal(true)
      violation(checkKvHistory([base, cas, get('b', 'x', '2', 5, 6)]))
    })

    it('checks keys independently and names the failing one', () => {
      const r = violation(checkKvHistory([
        put('a', 'good', '1', 0, 1), get('a', 'good', '1', 2, 3),
        put('a', 'bad', '1', 0, 1), get('a', 'bad', '2', 2, 3),
      ]))
      expect(r.key).to.equal('bad')
    })

    it('explains a failure with the longest linearizable prefix and the blocked operations', () => {
      const r = violation(checkKvHistory([put('a', 'x', '1', 0, 1), put('a', 'x', '2', 2, 3), get('b', 'x', '1', 4, 5)]))
      expect(r.explanation).to.include('Longest linearizable prefix found (2 operations)')
      expect(r.explanation).to.include('client a put("x", "2") [2, 3]')
      expect(r.explanation).to.include('read "1" but the value was "2"')
    })

    it('reports running out of steps as a timeout, never as a pass', () => {
      const history: KvEvent[] = []
      for (let i = 0; i < 24; i++) history.push(put(`c${i}`, 'x', String(i), 0, 100))
      history.push(get('r', 'x', 'never', 200, 201))
      const r = checkKvHistory(history, { maxSteps: 5000 })
      expect(r.ok).to.equal(false)
      expect(r.ok === false && r.kind).to.equal('timeout')
    })

    it('rejects malformed events with EINVAL', () => {
      const bad = [
        { client: 'a', op: 'nope', key: 'x', invokedAt: 0, returnedAt: 1, ok: true },
        { client: 'a', op: 'get', key: 'x', invokedAt: 5, returnedAt: 1, ok: true },
        { client: 'a', op: 'get', key: 'x', invokedAt: 0, ok: true },
        { client: 'a', op: 'put', key: 'x', invokedAt: 0, returnedAt: 1, ok: true },
        { client: 'a', op: 'cas', key: 'x', value: '1', invokedAt: 0, returnedAt: 1, ok: true },
      ]
      for (const event of bad) {
        expect(() => checkKvHistory([event as unknown as KvEvent])).to.throw().with.property('code', 'EINVAL')
      }
    })
  })

  describe('randomized histories from a real sequential store', () => {
    /**
     * Runs random operations against a Map in linearization order, then gives each an
     * interval around its linearization point. Some writes get an unknown outcome: they either
     * took effect (at their point) or never did.
     */
    function generate(prng: Prng, n: number, shape = { keys: ['a', 'b', 'c'], spread: 35 }): KvEvent[] {
      const store = new Map<string, string>()
      const keys = shape.keys
      const history: KvEvent[] = []
      for (let i = 0; i < n; i++) {
        const point = i * 10
        const invokedAt = point - prng.int(0, shape.spread)
        const returnedAt = point + prng.int(0, shape.spread)
        const key = prng.pick(keys)
        const client = `c${prng.int(0, 5)}`
        const current = store.get(key) ?? null
        const kind = prng.pick(['put', 'get', 'get', 'cas', 'delete'] as const)
        const unknown = kind !== 'get' && prng.chance(0.1)
        const applies = !unknown || prng.chance(0.5)
        if (kind === 'get') {
          history.push({ client, op: 'get', key, result: current, invokedAt, returnedAt, ok: true })
        } else if (kind === 'put') {
          const value = String(prng.int(0, 6))
          if (applies) store.set(key, value)
          history.push(unknown ? { client, op: 'put', key, value, invokedAt, ok: 'unknown' } : { client, op: 'put', key, value, invokedAt, returnedAt, ok: true })
        } else if (kind === 'cas') {
          const expected = prng.chance(0.5) ? current : prng.pick([null, '0', '1', '2'])
          const value = String(prng.int(0, 6))
          const swapped = expected === current
          if (applies && swapped) store.set(key, value)
          history.push(unknown
            ? { client, op: 'cas', key, expected, value, invokedAt, ok: 'unknown' }
            : { client, op: 'cas', key, expected, value, result: swapped, invokedAt, returnedAt, ok: true })
        } else {
          const existed = current !== null
          if (applies) store.delete(key)
          history.push(unknown ? { client, op: 'delete', key, invokedAt, ok: 'unknown' } : { client, op: 'delete', key, result: existed, invokedAt, returnedAt, ok: true })
        }
      }
      return prng.shuffle(history) // input order must not matter
    }

    it('accepts every history produced by a linearizable store', () => {
      for (let seed = 0; seed < 40; seed++) {
        const history = generate(new Prng(seed), 150)
        const result = checkKvHistory(history)
        expect(result, `seed ${seed}: ${JSON.stringify(result)}`).to.deep.include({ ok: true })
      }
    })

    it('agrees with a brute-force search over all orders on small histories', () => {
      let violations = 0
      for (let seed = 0; seed < 300; seed++) {
        const prng = new Prng(5000 + seed)
        const history = generate(prng, 7, { keys: ['k'], spread: 25 })
        if (prng.chance(0.7)) mutate(prng, history)
        const expected = bruteForce(history)
        const result = checkKvHistory(history)
        expect(result.ok, `seed ${5000 + seed}: ${JSON.stringify(history)}`).to.equal(expected)
        if (!expected) violations++
      }
      expect(violations).to.be.greaterThan(50) // both outcomes were exercised
    })

    it('rejects most of them once one result is mutated', () => {
      let failed = 0
      const runs = 40
      for (let seed = 0; seed < runs; seed++) {
        const prng = new Prng(1000 + seed)
        // Less overlap than above, so that a mutated result is rarely still explainable.
        const history = generate(prng, 150, { keys: ['a', 'b', 'c'], spread: 15 })
        mutate(prng, history)
        const result = checkKvHistory(history)
        if (!result.ok) {
          expect(result.kind, `seed ${seed}`).to.equal('violation')
          failed++
        }
      }
      expect(failed / runs).to.be.at.least(0.75)
    })
  })
})
