export * from './fsm/index.js'
export * from './server/index.js'
export * from './placement/index.js'
