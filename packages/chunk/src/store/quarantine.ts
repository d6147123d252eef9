/**
 * Files that failed a check are moved, never deleted: quarantine/<name>.<time>-<n>. A human or a
 * later tool may look at them; the store forgets them (meta re-replicates from other copies).
 */
import { rename } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Logger } from '@tessera/protocol'
import { errnoCode, fsyncDir } from './fs-util.js'

export class Quarantine {
  private sequence = 0

  constructor(private readonly dir: string, private readonly log: Logger) {}

  /** Moves each existing file of `paths` into quarantine, with one log line for the lot. */
  async move(paths: readonly string[], what: string, reason: string): Promise<void> {
    const stamp = `${Date.now()}-${this.sequence++}`
    const moved: string[] = []
    const sourceDirs = new Set<string>()
    for (const path of paths) {
      try {
        await rename(path, join(this.dir, `${basename(path)}.${stamp}`))
        moved.push(basename(path))
        sourceDirs.add(dirname(path))
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err
      }
    }
    if (moved.length > 0) {
      await fsyncDir(this.dir)
      for (const dir of sourceDirs) await fsyncDir(dir)
    }
    this.log.warn({ what, reason, moved }, `quarantined ${what}: ${reason}`)
  }
}
