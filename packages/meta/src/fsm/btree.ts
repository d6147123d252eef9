/** sorted-btree is CommonJS with `exports.default`; Node's ESM import sees the exports object. */
import sortedBtree from 'sorted-btree'

export const BTree = sortedBtree.default
export type BTree<K, V> = InstanceType<typeof sortedBtree.default<K, V>>

const compareNumbers = (a: number, b: number): number => a - b
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Wider nodes than the default 32 halve the per-entry overhead of node objects. */
const NODE_SIZE = 64

export function numberTree<V>(): BTree<number, V> {
  return new BTree<number, V>(undefined, compareNumbers, NODE_SIZE)
}

export function stringTree<V>(): BTree<string, V> {
  return new BTree<string, V>(undefined, compareStrings, NODE_SIZE)
}
