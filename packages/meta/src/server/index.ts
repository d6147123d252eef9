export { MetaService, formatAddress, type MetaServiceOptions, type StartOptions } from './service.js'
export { NamespaceStateMachine } from './state-machine.js'
export { MetricsRegistry, Counter, Histogram } from './metrics.js'
