export { main, COMMANDS } from './main.js'
export * from './cluster-files.js'
