/**
 * How the processes that move file data (daemons, mounts, put and get) are tuned. The CLI's
 * spawned processes take these from here; bin/tessera.js's shebang repeats them for commands run
 * directly, since a shebang cannot import.
 */

/**
 * glibc malloc settings: ws receives every message of the data path into a fresh buffer of up
 * to a few MiB, which malloc serves by mmap and returns by munmap (then page faults on every
 * message) unless its mmap threshold is raised. Measured on the chain: page faults per MiB
 * 33-52 -> 11-18, about 10% less CPU; a client's 512 MiB get: a third fewer faults, ~10% less
 * CPU. The systemd units set the same.
 */
export const DATA_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912'

/**
 * V8 flags.
 * Every message the data path receives is a fresh buffer outside the JS heap, and with V8's small
 * default old-generation limit that external memory starts a full mark-compact every 10-20 MiB
 * (measured, 512 MiB put: 56 per chunk server; get: 54 in the client). Letting the old
 * generation start at 128 MiB leaves those buffers to the cheap young-generation collections:
 * no mark-compact at all in a chunk server, its CPU per MiB put 8.0 -> 6.3 ms, and a get's
 * client CPU about 25% less.
 */
export const DATA_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128']
