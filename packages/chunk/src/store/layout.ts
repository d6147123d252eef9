/**
 * Where things live under a chunk server's data directory:
 *
 *   <dir>/blocks/<hash[0:2]>/<hash[2:4]>/<key>        the block's bytes
 *   <dir>/blocks/<hash[0:2]>/<hash[2:4]>/<key>.sum    its checksum sidecar
 *   <dir>/tmp/                                        writes in progress (emptied at open)
 *   <dir>/quarantine/                                 blocks that failed a check, kept for a human
 *
 * The two-level fan-out keeps directories small: a million blocks are ~15 per directory.
 */
import { join } from 'node:path'

export const SIDECAR_SUFFIX = '.sum'

export class StoreLayout {
  readonly blocksDir: string
  readonly tmpDir: string
  readonly quarantineDir: string

  constructor(readonly root: string) {
    this.blocksDir = join(root, 'blocks')
    this.tmpDir = join(root, 'tmp')
    this.quarantineDir = join(root, 'quarantine')
  }

  /** The directory holding a key's files; `key` must be a valid block key. */
  fanOutDir(key: string): string {
    return join(this.blocksDir, key.slice(0, 2), key.slice(2, 4))
  }

  blockPath(key: string): string {
    return join(this.fanOutDir(key), key)
  }

  sidecarPath(key: string): string {
    return join(this.fanOutDir(key), key + SIDECAR_SUFFIX)
  }
}
