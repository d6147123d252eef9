export { ChunkDaemon, type ChunkDaemonOptions } from './chunk-daemon.js'
export { chunkMetaLinkOver, type ChunkMetaLink, type MetaCaller } from './meta-link.js'
