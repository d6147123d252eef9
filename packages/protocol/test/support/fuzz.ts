/** Fuzz inputs for the decoder and the live server. */
import { encodeValue, type Frame } from '../../src/index.js'

/** One fuzz input: random bytes, a byte-level mutation of a valid frame, or a structural one. */
export function mutate(rnd: () => number, encoded: Buffer[], frames: Frame[]): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const mode = rnd()
  if (mode < 0.2) {
    const out = Buffer.alloc(Math.floor(rnd() * 64))
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(rnd() * 256)
    return out
  }
  if (mode < 0.6) {
    const out = Buffer.from(pick(encoded))
    const edits = 1 + Math.floor(rnd() * 4)
    let buf = out
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rnd() * buf.length)
      const op = rnd()
      if (op < 0.6) buf[at] = Math.floor(rnd() * 256)
      else if (op < 0.8) buf = buf.subarray(0, at)
      else buf = Buffer.concat([buf.subarray(0, at), Buffer.from([Math.floor(rnd() * 256)]), buf.subarray(at)])
      if (buf.length === 0) break
    }
    return buf
  }
  return encodeValue(mutateValue(rnd, structuredClone(pick(frames)) as unknown, 0))
}

const weird: unknown[] = [
  null, undefined, true, 0, -1, 1.5, 2 ** 53, -(2 ** 31), NaN, '', 'x', 'é'.repeat(100), [], {}, [1, 2, 3],
  Buffer.alloc(0), Buffer.alloc(40), { __proto__: { seq: 1 } }, { type: 'vote' }, new Date(0), 12n,
]

export function mutateValue(rnd: () => number, value: unknown, depth: number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  if (depth > 4 || rnd() < 0.25) return pick(weird)
  if (Array.isArray(value) && value.length > 0) {
    const i = Math.floor(rnd() * value.length)
    if (rnd() < 0.1) value.push(pick(weird))
    else if (rnd() < 0.1) value.pop()
    else value[i] = mutateValue(rnd, value[i], depth + 1)
    return value
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const keys = Object.keys(value)
    if (keys.length === 0) return pick(weird)
    const key = pick(keys)
    const obj = value as Record<string, unknown>
    if (rnd() < 0.15) delete obj[key]
    else obj[key] = mutateValue(rnd, obj[key], depth + 1)
    return obj
  }
  return pick(weird)
}
