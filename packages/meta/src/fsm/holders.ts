/**
 * The servers holding a block, as the locations table stores them. Nearly every block has one to
 * three copies on servers numbered below 1024: those sets are packed into one small integer
 * (ten bits a server, sorted), which V8 keeps inline in the table without an allocation; an array
 * per block cost ~40 bytes of leader heap (measure-memory.ts). Larger sets stay arrays.
 */
export type Holders = number | readonly number[]

const BITS = 10
const LIMIT = 1 << BITS
const MASK = LIMIT - 1
const PACKED_MAX = 3

/** `nums` sorted ascending, non-empty; the packed form when it fits. */
export function packHolders(nums: readonly number[]): Holders {
  if (nums.length > PACKED_MAX) return nums
  let packed = 0
  for (const n of nums) {
    if (n <= 0 || n >= LIMIT) return nums
    packed = packed * LIMIT + n
  }
  return packed
}

export function unpackHolders(holders: Holders): readonly number[] {
  if (typeof holders !== 'number') return holders
  const nums: number[] = []
  for (let rest = holders; rest > 0; rest = Math.floor(rest / LIMIT)) nums.unshift(rest & MASK)
  return nums
}

/** The servers holding `block` in a locations table, sorted; undefined when none does. */
export function holdersOf(locations: { get(block: string): Holders | undefined }, block: string): readonly number[] | undefined {
  const holders = locations.get(block)
  return holders === undefined ? undefined : unpackHolders(holders)
}
