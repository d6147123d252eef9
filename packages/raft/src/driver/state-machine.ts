import type { Entry } from '@tessera/protocol'

/**
 * The application the Raft driver replicates (the metadata namespace in production, a
 * key-value map in tests). Called only from the driver, in log order.
 */
export interface RaftStateMachine {
  /**
   * Applies one committed entry that carries a command (never called for no-ops or membership
   * changes). Must be deterministic. The return value is handed to the proposer, if it is
   * waiting on this node.
   */
  apply(entry: Entry): unknown
  /**
   * Serializes the state as of the last applied entry. The view must be captured before this
   * returns its promise (the driver applies more entries while the bytes are produced).
   */
  snapshot(): Promise<Uint8Array>
  /** Replaces the whole state with one produced by snapshot() (possibly on another member). */
  restore(data: Uint8Array): void
}
