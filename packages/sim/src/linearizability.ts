/**
 * A linearizability checker for key-value histories: the Wing & Gong backtracking search with
 * Lowe's memoization (a cache of (linearized-set, model state) pairs already explored), run
 * per key (a key-value store is linearizable iff each key's sub-history is, P-compositionality).
 *
 * Events are complete operations: invocation time, return time, and outcome. An operation
 * that failed for certain (`ok: false`) had no effect and is ignored. One whose outcome is
 * unknown (`ok: 'unknown'`, e.g. a timeout) may take effect at any point after its
 * invocation, or never: it is given an infinite return time and an unconstrained result, so
 * the search may place it anywhere after its call or leave it for "after the end".
 * Times are compared as numbers; an operation that returns at the same instant another is
 * invoked counts as concurrent with it (the lenient reading, so equal ticks never raise a
 * false alarm).
 *
 * The search is bounded (`maxSteps`); running out is reported as `kind: 'timeout'` with
 * `ok: false`, never as a pass.
 */
import { TesseraError } from '@tessera/protocol'

export type KvOpKind = 'put' | 'get' | 'cas' | 'delete'

export interface KvEvent {
  /** Who issued it (only for explanations; per-client ordering is implied by the times). */
  client: string | number
  op: KvOpKind
  key: string
  /** put: the value written; cas: the new value. */
  value?: string
  /** cas: the value it expects; null (or absent) means "the key does not exist". */
  expected?: string | null
  invokedAt: number
  /** Required when ok is true or false; ignored when 'unknown'. */
  returnedAt?: number
  /** get: the value read, null (or absent) when the key did not exist; cas: whether it swapped; delete (optional): whether the key existed. */
  result?: string | null | boolean
  ok: true | false | 'unknown'
}

export type LinearizabilityResult =
  | { ok: true; keys: number; steps: number }
  | { ok: false; kind: 'violation'; key: string; explanation: string; ops: KvEvent[] }
  | { ok: false; kind: 'timeout'; key: string; explanation: string }

export interface CheckOptions {
  /** Search steps allowed per key before giving up with 'timeout' (default 1,000,000; memory grows with it). */
  maxSteps?: number
}

type State = string | null

interface Op {
  index: number
  event: KvEvent
  call: number
  ret: number // Infinity when unknown
  definite: boolean
}

interface ListNode {
  op: number
  isCall: boolean
  match: ListNode | undefined // a call's return node
  prev: ListNode | undefined
  next: ListNode | undefined
}

type StepResult = { ok: true; state: State } | { ok: false; why: string }

/** The sequential model of one key: apply `op` to `state`. */
function stepModel(state: State, op: Op): StepResult {
  const e = op.event
  switch (e.op) {
    case 'put':
      return { ok: true, state: e.value as string }
    case 'get': {
      const read = (e.result ?? null) as State
      return read === state ? { ok: true, state } : { ok: false, why: `read ${fmtValue(read)} but the value was ${fmtValue(state)}` }
    }
    case 'cas': {
      const expected = e.expected ?? null
      const matches = state === expected
      if (!op.definite) return { ok: true, state: matches ? (e.value as string) : state }
      if (e.result === true) {
        return matches ? { ok: true, state: e.value as string } : { ok: false, why: `swapped but the value was ${fmtValue(state)}, not ${fmtValue(expected)}` }
      }
      return matches ? { ok: false, why: `did not swap although the value was ${fmtValue(expected)}` } : { ok: true, state }
    }
    case 'delete': {
      if (op.definite && typeof e.result === 'boolean' && e.result !== (state !== null)) {
        return { ok: false, why: `reported existed=${String(e.result)} but the value was ${fmtValue(state)}` }
      }
      return { ok: true, state: null }
    }
  }
}

/** Checks a whole history, key by key; returns the first key that fails. */
export function checkKvHistory(history: readonly KvEvent[], options: CheckOptions = {}): LinearizabilityResult {
  const maxSteps = options.maxSteps ?? 1_000_000
  const byKey = new Map<string, KvEvent[]>()
  history.forEach((event, i) => {
    validateEvent(event, i)
    let list = byKey.get(event.key)
    if (list === undefined) byKey.set(event.key, (list = []))
    list.push(event)
  })
  let steps = 0
  for (const [key, events] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const result = checkKey(key, events, maxSteps)
    if (!result.ok) return result
    steps += result.steps
  }
  return { ok: true, keys: byKey.size, steps }
}

function checkKey(key: string, events: readonly KvEvent[], maxSteps: number): LinearizabilityResult {
  const ops: Op[] = []
  for (const event of events) {
    if (event.ok === false) continue // failed for certain: no effect
    if (event.ok === 'unknown' && event.op === 'get') continue // a read with no answer says nothing
    const definite = event.ok === true
    ops.push({ index: ops.length, event, call: event.invokedAt, ret: definite ? (event.returnedAt as number) : Infinity, definite })
  }

  // The history as a time-ordered doubly-linked list of call and return nodes.
  const nodes: ListNode[] = []
  for (const op of ops) {
    const ret: ListNode = { op: op.index, isCall: false, match: undefined, prev: undefined, next: undefined }
    nodes.push({ op: op.index, isCall: true, match: ret, prev: undefined, next: undefined }, ret)
  }
  const time = (n: ListNode): number => (n.isCall ? (ops[n.op] as Op).call : (ops[n.op] as Op).ret)
  // By time (Infinity for unknown returns, so no subtraction), calls before returns, then op order.
  nodes.sort((a, b) => cmp(time(a), time(b)) || Number(b.isCall) - Number(a.isCall) || a.op - b.op)
  const head: ListNode = { op: -1, isCall: false, match: undefined, prev: undefined, next: undefined }
  let prev = head
  for (const node of nodes) {
    prev.next = node
    node.prev = prev
    prev = node
  }

  const linearized = new Uint32Array(Math.ceil(ops.length / 32) || 1)
  const cache = new Set<string>()
  const stack: Array<{ node: ListNode; state: State }> = []
  let state: State = null
  let definiteLeft = ops.filter((op) => op.definite).length
  let best: { order: number[]; state: State; definiteLeft: number } = { order: [], state: null, definiteLeft }
  let entry = head.next
  let steps = 0

  while (definiteLeft > 0) {
    if (++steps > maxSteps) {
      return {
        ok: false, kind: 'timeout', key,
        explanation: `key ${JSON.stringify(key)}: gave up after ${maxSteps} search steps (${ops.length} operations); ` +
          'neither linearizable nor a violation was established',
      }
    }
    const node = entry as ListNode // a definite op's return node is always ahead
    if (node.isCall) {
      const op = ops[node.op] as Op
      const next = stepModel(state, op)
      if (next.ok) {
        setBit(linearized, op.index)
        const cacheKey = `${linearized.join(',')}|${JSON.stringify(next.state)}`
        if (!cache.has(cacheKey)) {
          cache.add(cacheKey)
          stack.push({ node, state })
          state = next.state
          lift(node)
          if (op.definite) definiteLeft--
          if (definiteLeft < best.definiteLeft) {
            best = { order: stack.map((s) => s.node.op), state, definiteLeft }
          }
          entry = head.next
          continue
        }
        clearBit(linearized, op.index)
      }
      entry = node.next
    } else {
      // A return reached before its call was linearized: undo the last choice.
      const top = stack.pop()
      if (top === undefined) {
        return { ok: false, kind: 'violation', key, explanation: explain(key, ops, best), ops: ops.map((o) => o.event) }
      }
      const op = ops[top.node.op] as Op
      state = top.state
      clearBit(linearized, op.index)
      unlift(top.node)
      if (op.definite) definiteLeft++
      entry = top.node.next
    }
  }
  return { ok: true, keys: 1, steps }
}

function cmp(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function lift(call: ListNode): void {
  const ret = call.match as ListNode
  ;(call.prev as ListNode).next = call.next
  if (call.next !== undefined) call.next.prev = call.prev
  ;(ret.prev as ListNode).next = ret.next
  if (ret.next !== undefined) ret.next.prev = ret.prev
}

function unlift(call: ListNode): void {
  const ret = call.match as ListNode
  ;(ret.prev as ListNode).next = ret
  if (ret.next !== undefined) ret.next.prev = ret
  ;(call.prev as ListNode).next = call
  if (call.next !== undefined) call.next.prev = call
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = (bits[i >>> 5] as number) | (1 << (i & 31))
}

function clearBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = (bits[i >>> 5] as number) & ~(1 << (i & 31))
}

/**
 * The deepest partial linearization the search reached, and why each operation that could
 * come next (invoked before the earliest pending return) cannot.
 */
function explain(key: string, ops: readonly Op[], best: { order: number[]; state: State }): string {
  const lines = [`key ${JSON.stringify(key)} is not linearizable (${ops.length} operations).`]
  const placed = new Set(best.order)
  const shown = best.order.slice(-20)
  lines.push(`Longest linearizable prefix found (${best.order.length} operations${shown.length < best.order.length ? `, last ${shown.length} shown` : ''}):`)
  if (best.order.length === 0) lines.push('  (none)')
  for (const i of shown) lines.push(`  ${fmtOp(ops[i] as Op)}`)
  lines.push(`Value after it: ${fmtValue(best.state)}`)
  const pending = ops.filter((op) => !placed.has(op.index))
  const deadline = Math.min(...pending.filter((op) => op.definite).map((op) => op.ret))
  const blocker = pending.find((op) => op.definite && op.ret === deadline)
  if (blocker !== undefined) lines.push(`It must be followed by ${fmtOp(blocker)} (or something invoked before it returned), but:`)
  for (const op of pending.filter((p) => p.call <= deadline)) {
    const r = stepModel(best.state, op)
    lines.push(`  ${fmtOp(op)}: ${r.ok ? 'possible here, but every order from there fails' : r.why}`)
  }
  return lines.join('\n')
}

function fmtValue(v: State): string {
  return v === null ? '(absent)' : JSON.stringify(v)
}

function fmtOp(op: Op): string {
  const e = op.event
  const when = `[${e.invokedAt}, ${op.definite ? String(e.returnedAt) : '?'}]`
  const who = `client ${String(e.client)}`
  const res = op.definite ? '' : ' (outcome unknown)'
  switch (e.op) {
    case 'put':
      return `${who} put(${JSON.stringify(e.key)}, ${JSON.stringify(e.value)}) ${when}${res}`
    case 'get':
      return `${who} get(${JSON.stringify(e.key)}) -> ${fmtValue((e.result ?? null) as State)} ${when}`
    case 'cas': {
      const out = op.definite ? ` -> ${String(e.result)}` : ''
      return `${who} cas(${JSON.stringify(e.key)}, ${fmtValue(e.expected ?? null)} => ${JSON.stringify(e.value)})${out} ${when}${res}`
    }
    case 'delete': {
      const out = op.definite && typeof e.result === 'boolean' ? ` -> existed=${String(e.result)}` : ''
      return `${who} delete(${JSON.stringify(e.key)})${out} ${when}${res}`
    }
  }
}

function validateEvent(e: KvEvent, i: number): void {
  const bad = (why: string): never => {
    throw new TesseraError('EINVAL', `history event ${i}: ${why}`)
  }
  if (typeof e !== 'object' || e === null) bad('not an object')
  if (!['put', 'get', 'cas', 'delete'].includes(e.op)) bad(`unknown op ${String(e.op)}`)
  if (typeof e.key !== 'string') bad('key must be a string')
  if (e.ok !== true && e.ok !== false && e.ok !== 'unknown') bad(`ok must be true, false or 'unknown'`)
  if (!Number.isFinite(e.invokedAt)) bad('invokedAt must be a finite number')
  if (e.ok !== 'unknown') {
    if (typeof e.returnedAt !== 'number' || !Number.isFinite(e.returnedAt)) bad('a completed operation needs a finite returnedAt')
    if ((e.returnedAt as number) < e.invokedAt) bad('returnedAt is before invokedAt')
  }
  if ((e.op === 'put' || e.op === 'cas') && typeof e.value !== 'string') bad(`${e.op} needs a string value`)
  if (e.op === 'cas' && e.expected !== undefined && e.expected !== null && typeof e.expected !== 'string') bad('cas expected must be a string or null')
  if (e.ok === true) {
    if (e.op === 'get' && e.result !== undefined && e.result !== null && typeof e.result !== 'string') bad('get result must be a string or null')
    if (e.op === 'cas' && typeof e.result !== 'boolean') bad('a completed cas needs a boolean result')
    if (e.op === 'delete' && e.result !== undefined && typeof e.result !== 'boolean') bad('delete result must be a boolean if given')
  }
}
