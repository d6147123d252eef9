/**
 * @tessera/fuse: puts a Vfs on a local directory with @tessera/fuse-native (a thin adapter: each
 * handler is one Vfs call; errno mapping happens in errno.ts only).
 */
export { mountVfs, checkMountpoint, type MountVfsOptions, type MountHandle } from './mount.js'
export { fuseErrno } from './errno.js'
export { libfuseOptions, fuseNativeOptions, MAX_FUSE_WRITE, type MountOptions } from './mount-options.js'
export { isMountPoint, mountPoints } from './mount-table.js'
