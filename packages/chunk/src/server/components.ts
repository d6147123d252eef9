/**
 * The seam between the chunk server and whatever tells meta about it (the daemon wires it):
 * the server calls these as blocks come and go, and knows nothing of meta's protocol.
 * Callbacks must not throw and must not block; a failure inside one is logged and ignored.
 */
export interface ChunkServerComponents {
  /** A block became durable here (not called when the write found the same block already stored). */
  onBlockStored(key: string): void
  /** A block was deleted here on request. */
  onBlockDeleted(key: string): void
  /** A block was found damaged here (on read); the store has quarantined it, meta should re-replicate. */
  onCorruptBlock(key: string): void
}

export const noComponents: ChunkServerComponents = {
  onBlockStored: () => undefined,
  onBlockDeleted: () => undefined,
  onCorruptBlock: () => undefined,
}
