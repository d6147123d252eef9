/**
 * Lets go of fuse-native's native mount state when the kernel mount is already gone (someone ran
 * umount or fusermount -u). fuse-native's unmount() first runs `fusermount -uz`, which fails
 * on a path that is no longer mounted, and then never calls its native unmount, the only thing
 * that unrefs the libuv handle its FUSE thread holds: the process could never exit. This calls
 * that native function directly, on the same binding fuse-native loaded (node-gyp-build resolves
 * the same .node file, and require caches it by path).
 */
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import type Fuse from '@tessera/fuse-native'

interface FuseNativeBinding {
  fuse_native_unmount(mountpoint: string, thread: Buffer): void
}

let binding: FuseNativeBinding | undefined

function loadBinding(): FuseNativeBinding {
  if (binding === undefined) {
    const require = createRequire(import.meta.url)
    const fuseNativeMain = require.resolve('@tessera/fuse-native')
    const gypBuild = createRequire(fuseNativeMain)('node-gyp-build') as (dir: string) => FuseNativeBinding
    binding = gypBuild(dirname(fuseNativeMain))
  }
  return binding
}

/** Releases `fuse`'s native state; the kernel mount at `mountpoint` must already be gone. */
export function releaseNativeMount(fuse: Fuse, mountpoint: string): void {
  // fuse-native keeps its native thread state in the private Buffer `_thread`.
  const thread = (fuse as unknown as { _thread?: unknown })._thread
  if (!Buffer.isBuffer(thread)) return // never mounted natively: nothing holds the loop
  loadBinding().fuse_native_unmount(mountpoint, thread)
}
