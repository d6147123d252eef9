export * from './errors.js'
export * from './limits.js'
export * from './logger.js'
export * from './raft.js'
