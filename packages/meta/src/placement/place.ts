/**
 * Placement of a new block's copies (the leader's decision, not the log's): distinct servers,
 * each drawn at random with probability proportional to its free space, preferring at every
 * draw a zone not used yet, so copies spread across zones where zones exist. Servers without
 * room for the block are never chosen. Randomness is injected (tests seed it).
 */

export interface Candidate {
  id: string
  address: string
  zone: string
  freeBytes: number
}

/** Returns up to `count` distinct candidates, head of the chain first. */
export function choosePlacement(
  candidates: readonly Candidate[], count: number, blockBytes: number, random: () => number,
): Candidate[] {
  let pool = candidates.filter((c) => c.freeBytes >= blockBytes)
  const chosen: Candidate[] = []
  const zones = new Set<string>()
  while (chosen.length < count && pool.length > 0) {
    const fresh = pool.filter((c) => !zones.has(c.zone))
    const pick = weightedPick(fresh.length > 0 ? fresh : pool, random)
    chosen.push(pick)
    zones.add(pick.zone)
    pool = pool.filter((c) => c !== pick)
  }
  return chosen
}

function weightedPick(pool: readonly Candidate[], random: () => number): Candidate {
  let total = 0
  for (const c of pool) total += Math.max(1, c.freeBytes)
  let target = random() * total
  for (const c of pool) {
    target -= Math.max(1, c.freeBytes)
    if (target < 0) return c
  }
  return pool[pool.length - 1]!
}
