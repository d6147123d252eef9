import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino'

export type { Logger } from 'pino'

export interface LoggerConfig {
  /** Which part of the system logs: 'meta', 'chunk', 'rpc', 'raft', 'mount', ... */
  component: string
  /** The node's id within the cluster, when it has one. */
  nodeId?: string
  /** pino level; defaults to TESSERA_LOG_LEVEL or 'info'. */
  level?: string
  /** Where to write; defaults to stderr so that stdout stays for command output. */
  destination?: DestinationStream
}

/** The one logger factory every daemon and library uses: structured JSON lines via pino. */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? process.env.TESSERA_LOG_LEVEL ?? 'info',
    base: config.nodeId === undefined
      ? { component: config.component, pid: process.pid }
      : { component: config.component, node: config.nodeId, pid: process.pid },
  }
  return pino(options, config.destination ?? pino.destination(2))
}

/** A logger that drops everything: the default for libraries whose caller passed none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
