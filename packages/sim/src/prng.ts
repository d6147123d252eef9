/**
 * The simulator's only source of randomness: xoshiro128** (Blackman & Vigna) on four u32
 * words, seeded through splitmix64. The hot path (`next`) is plain 32-bit integer maths;
 * BigInt appears only when seeding.
 *
 * `fork()` derives an independent child stream, so each subsystem (network, disk, clock,
 * workload) draws from its own stream and an extra draw in one never shifts another's.
 */

import { randomBytes } from 'node:crypto'

const MASK64 = (1n << 64n) - 1n
const TWO_POW_32 = 0x1_0000_0000
const TWO_POW_53 = 2 ** 53

/** A seed: any integer (number within ±2^53, or bigint); only its low 64 bits matter. */
export type Seed = number | bigint

export class Prng {
  private s0 = 0
  private s1 = 0
  private s2 = 0
  private s3 = 0
  /** The seed this stream started from (as an unsigned 64-bit bigint), for replay lines; 0 for `fromState` streams. */
  readonly seed: bigint

  constructor(seed: Seed) {
    this.seed = normalizeSeed(seed)
    let sm = this.seed
    const words: number[] = []
    for (let i = 0; i < 2; i++) {
      sm = (sm + 0x9e3779b97f4a7c15n) & MASK64
      const z = splitmix64Mix(sm)
      words.push(Number(z & 0xffffffffn), Number(z >> 32n))
    }
    ;[this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number]
    // xoshiro must never start from the all-zero state (it would stay there).
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  /** A stream resumed from a saved `state()` (four u32 words, not all zero). */
  static fromState(state: readonly [number, number, number, number]): Prng {
    if (state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff) || state.every((w) => w === 0)) {
      throw new RangeError('Prng.fromState: need four u32 words, not all zero')
    }
    const prng = new Prng(0)
    ;[prng.s0, prng.s1, prng.s2, prng.s3] = state
    return prng
  }

  /** The current internal state, for `fromState`. */
  state(): [number, number, number, number] {
    return [this.s0, this.s1, this.s2, this.s3]
  }

  /** A uniform unsigned 32-bit integer. */
  next(): number {
    const s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    const n2 = s2 ^ s0
    const n3 = s3 ^ s1
    this.s1 = (s1 ^ n2) >>> 0
    this.s0 = (s0 ^ n3) >>> 0
    this.s2 = (n2 ^ t) >>> 0
    this.s3 = rotl(n3, 11)
    return result
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.next() >>> 5 // 27 bits
    const lo = this.next() >>> 6 // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53
  }

  /**
   * A uniform integer in [lo, hi) (hi exclusive, like Python's randrange), without modulo bias.
   * Both bounds must be safe integers with lo < hi.
   */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi <= lo) {
      throw new RangeError(`Prng.int: need safe integers lo < hi, got [${lo}, ${hi})`)
    }
    const range = hi - lo
    if (range <= TWO_POW_32) {
      // Reject the top sliver so that every residue is equally likely.
      const limit = TWO_POW_32 - (TWO_POW_32 % range)
      for (;;) {
        const x = this.next()
        if (x < limit) return lo + (x % range)
      }
    }
    if (range > TWO_POW_53) throw new RangeError(`Prng.int: range ${range} exceeds 2^53`)
    const limit = TWO_POW_53 - (TWO_POW_53 % range)
    for (;;) {
      const x = this.float() * TWO_POW_53
      if (x < limit) return lo + (x % range)
    }
  }

  /**
   * True with probability p (0 <= p <= 1). Always draws once, even for p = 0 or 1, so that
   * tuning a probability never shifts the draws that follow.
   */
  chance(p: number): boolean {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Prng.chance: probability ${p} not in [0, 1]`)
    return this.float() < p
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Prng.pick: empty array')
    return items[this.int(0, items.length)] as T
  }

  /** Shuffles in place (Fisher-Yates) and returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1)
      const tmp = items[i] as T
      items[i] = items[j] as T
      items[j] = tmp
    }
    return items
  }

  /** An exponentially distributed float with the given mean (>= 0). */
  exponential(mean: number): number {
    if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`Prng.exponential: bad mean ${mean}`)
    if (mean === 0) {
      this.next() // keep the draw count independent of the mean
      return 0
    }
    return -mean * Math.log(1 - this.float())
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i += 4) {
      let x = this.next()
      for (let k = 0; k < 4 && i + k < length; k++) {
        out[i + k] = x & 0xff
        x >>>= 8
      }
    }
    return out
  }

  /**
   * An independent child stream. Consumes exactly two draws from this stream; the child's
   * seed is derived from them, so forking in a fixed order gives the same children.
   */
  fork(): Prng {
    const lo = BigInt(this.next())
    const hi = BigInt(this.next())
    return new Prng((hi << 32n) | lo)
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

function splitmix64Mix(x: bigint): bigint {
  let z = x
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64
  return z ^ (z >> 31n)
}

function normalizeSeed(seed: Seed): bigint {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Prng: seed ${seed} is not a safe integer`)
    return BigInt(seed) & MASK64
  }
  return seed & MASK64
}

/** A fresh seed from the OS, for runs that were not given one (print it first!). */
export function randomSeed(): bigint {
  const bytes = randomBytes(8)
  return bytes.readBigUInt64LE(0)
}

/**
 * Parses a seed as written on a replay command line: decimal or 0x-hex, up to 64 bits.
 * Returns undefined for anything else, so a CLI can print its own usage error.
 */
export function parseSeed(text: string): bigint | undefined {
  const trimmed = text.trim()
  if (!/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(trimmed)) return undefined
  const value = BigInt(trimmed)
  return value <= MASK64 ? value : undefined
}
