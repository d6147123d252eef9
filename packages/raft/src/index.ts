/**
 * @tessera/raft: the pure Raft core, durable log storage, and (subpath ./testing) the
 * simulator harness with its invariant checkers.
 */
export * from './core/index.js'
export * from './storage/index.js'
export * from './driver/index.js'
