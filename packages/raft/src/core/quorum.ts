/**
 * Majority-quorum maths, pure and tiny: the commit index a set of voters has reached, and the
 * outcome of a vote. Learners never appear here; callers pass only voters.
 */
import type { NodeId } from '@tessera/protocol'

/** How many of `voterCount` voters form a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1
}

/**
 * The largest index that a majority of `voters` have matched: sort the match indexes in
 * descending order and take the majority-th one. An empty configuration commits nothing.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0
  const matches = voters.map((id) => matchOf(id)).sort((a, b) => b - a)
  return matches[majority(voters.length) - 1]!
}

export type VoteResult = 'won' | 'lost' | 'pending'

/**
 * The result of an election among `voters` given the answers so far (true = granted).
 * Answers from non-voters are ignored.
 */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'lost'
  let granted = 0
  let rejected = 0
  for (const id of voters) {
    const v = votes.get(id)
    if (v === true) granted++
    else if (v === false) rejected++
  }
  const need = majority(voters.length)
  if (granted >= need) return 'won'
  if (voters.length - rejected < need) return 'lost'
  return 'pending'
}
