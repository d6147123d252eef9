#!/usr/bin/env -S node --initial-old-space-size=128
// The flag is DATA_NODE_FLAGS (packages/client/src/data/node-flags.ts): a shebang cannot import it.
import { main } from '../dist/src/main.js'

process.exitCode = await main(process.argv.slice(2))
