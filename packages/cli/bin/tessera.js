#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912 node --initial-old-space-size=128
// The shebang's settings are DATA_GLIBC_TUNABLES and DATA_NODE_FLAGS (packages/client/src/data/node-flags.ts):
// a shebang cannot import them.
import { main } from '../dist/src/main.js'

process.exitCode = await main(process.argv.slice(2))
