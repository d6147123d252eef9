export * from './fsm/index.js'
export * from './server/index.js'
