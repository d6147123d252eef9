import { type Logger, type Snapshot, TesseraError } from '@tessera/protocol'
import type { Disk } from './disk.js'
import type { Hasher } from './hash.js'
import { decodeSnapshotFile, encodeSnapshotFile } from './snapshot-file.js'

export const SNAP_DIR = 'snap'

export interface SnapshotFileName {
  index: number
  term: number
  name: string
}

const PATTERN = /^(\d{20})-(\d{20})\.snap$/
const TMP_SUFFIX = '.tmp'

export function snapshotFileName(index: number, term: number): string {
  return `${String(index).padStart(20, '0')}-${String(term).padStart(20, '0')}.snap`
}

/** Snapshot files in snap/: written to a .tmp name, fsynced, renamed, directory fsynced. */
export class SnapshotStore {
  constructor(
    private readonly disk: Disk,
    private readonly hasher: Hasher,
    private readonly logger: Logger,
  ) {}

  /** Every complete-looking snapshot file, oldest first (by index, then term). */
  async list(): Promise<SnapshotFileName[]> {
    const found: SnapshotFileName[] = []
    for (const name of await this.disk.list(SNAP_DIR)) {
      const match = PATTERN.exec(name)
      if (match === null) continue
      found.push({ index: Number(match[1]), term: Number(match[2]), name })
    }
    return found.sort((a, b) => a.index - b.index || a.term - b.term)
  }

  /** Removes leftovers of writes a crash interrupted. */
  async removeTemporaries(): Promise<void> {
    const leftovers = (await this.disk.list(SNAP_DIR)).filter((name) => name.endsWith(TMP_SUFFIX))
    for (const name of leftovers) {
      this.logger.info({ file: `${SNAP_DIR}/${name}` }, 'removing an unfinished snapshot file')
    }
    await this.remove(leftovers)
  }

  /** Durable when it resolves: file contents, then its name. */
  async write(snapshot: Snapshot): Promise<void> {
    const name = snapshotFileName(snapshot.meta.index, snapshot.meta.term)
    const tmp = `${SNAP_DIR}/${name}${TMP_SUFFIX}`
    const { head, data } = encodeSnapshotFile(this.hasher, snapshot)
    const file = await this.disk.open(tmp, 'create')
    try {
      await file.truncate(0)
      await file.write(0, head)
      if (data.length > 0) await file.write(head.length, data)
      await file.sync()
    } finally {
      await file.close()
    }
    await this.disk.rename(tmp, `${SNAP_DIR}/${name}`)
    await this.disk.syncDir(SNAP_DIR)
  }

  /** Reads and verifies one snapshot; a damaged file is an EIO naming it. */
  async read(index: number, term: number): Promise<Snapshot> {
    const name = snapshotFileName(index, term)
    const path = `${SNAP_DIR}/${name}`
    const file = await this.disk.open(path, 'read')
    let bytes: Uint8Array
    try {
      bytes = await file.read(0, await file.size())
    } finally {
      await file.close()
    }
    let snapshot: Snapshot
    try {
      snapshot = decodeSnapshotFile(this.hasher, bytes)
    } catch (err) {
      throw new TesseraError('EIO', `snapshot corrupt at ${path}: ${(err as Error).message}`)
    }
    if (snapshot.meta.index !== index || snapshot.meta.term !== term) {
      throw new TesseraError(
        'EIO',
        `snapshot corrupt at ${path}: it holds ${snapshot.meta.index}-${snapshot.meta.term}`,
      )
    }
    return snapshot
  }

  async remove(names: readonly string[]): Promise<void> {
    if (names.length === 0) return
    for (const name of names) await this.disk.remove(`${SNAP_DIR}/${name}`)
    await this.disk.syncDir(SNAP_DIR)
  }
}
