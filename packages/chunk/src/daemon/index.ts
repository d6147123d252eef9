export { ChunkDaemon, type ChunkDaemonOptions } from './chunk-daemon.js'
export type { ChunkMetaLink } from './meta-link.js'
