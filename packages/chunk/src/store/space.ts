/**
 * Free-space accounting. Capacity is the file system's size (statfs) or an operator's limit,
 * minus a reserve. Writes in progress hold a reservation for their whole block, so two writers
 * cannot both take the last free bytes. Free space is also capped by what the file system says
 * is available, because other files may share the disk; that cap counts the in-progress bytes
 * twice (already on disk and still reserved), which errs on the safe side.
 */
import { statfs } from 'node:fs/promises'
import { TesseraError } from '@tessera/protocol'

export interface SpaceOptions {
  /** Use at most this many bytes, whatever the file system's size. */
  capacityBytes?: number
  /** Keep this many bytes free. Default: 0 with capacityBytes, else 1% of the file system. */
  reserveBytes?: number
}

export interface StoreUsage {
  /** Bytes the store may fill: the capacity (configured or the file system's) minus the reserve. */
  capacityBytes: number
  /** Bytes of committed blocks and their sidecars. */
  usedBytes: number
  /** Bytes a new write may still take. */
  freeBytes: number
  blockCount: number
  /** Bytes held by writes in progress. */
  reservedBytes: number
}

export class SpaceAccount {
  private usedBytes = 0
  private blockCount = 0
  private reservedBytes = 0
  private fsTotalBytes = 0
  private fsAvailBytes = 0
  /** When refresh() last sampled the file system (Date.now()), 0 before the first sample. */
  private sampledAtMs = 0

  constructor(private readonly dir: string, private readonly options: SpaceOptions) {
    for (const name of ['capacityBytes', 'reserveBytes'] as const) {
      const value = options[name]
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
        throw new TesseraError('EINVAL', `${name} must be a non-negative integer, got ${value}`)
      }
    }
  }

  /** Samples the file system's size and free space. */
  async refresh(): Promise<void> {
    const stats = await statfs(this.dir)
    this.fsTotalBytes = stats.blocks * stats.bsize
    this.fsAvailBytes = stats.bavail * stats.bsize
    this.sampledAtMs = Date.now()
  }

  /**
   * Samples again only when the last sample is older than `maxAgeMs`: statfs is a thread-pool
   * call that took up to half a second under load, too slow for every block write. A sample
   * that is a little stale is safe: a write that then meets a full disk fails with a clean
   * ENOSPC, and a refusal is re-checked against a fresh sample before it is final.
   */
  async refreshIfOlderThan(maxAgeMs: number): Promise<void> {
    if (Date.now() - this.sampledAtMs < maxAgeMs) return
    await this.refresh()
  }

  addBlock(bytes: number): void {
    this.usedBytes += bytes
    this.blockCount += 1
  }

  removeBlock(bytes: number): void {
    this.usedBytes -= bytes
    this.blockCount -= 1
  }

  /** Reserves `bytes` for a write if they fit now; false if they do not. */
  tryReserve(bytes: number): boolean {
    if (bytes > this.usage().freeBytes) return false
    this.reservedBytes += bytes
    return true
  }

  release(bytes: number): void {
    this.reservedBytes -= bytes
  }

  usage(): StoreUsage {
    const reserve = this.options.reserveBytes
      ?? (this.options.capacityBytes === undefined ? Math.floor(this.fsTotalBytes / 100) : 0)
    const capacity = Math.max(0, (this.options.capacityBytes ?? this.fsTotalBytes) - reserve)
    const byCapacity = capacity - this.usedBytes - this.reservedBytes
    const byFileSystem = this.fsAvailBytes - reserve - this.reservedBytes
    return {
      capacityBytes: capacity,
      usedBytes: this.usedBytes,
      freeBytes: Math.max(0, Math.min(byCapacity, byFileSystem)),
      blockCount: this.blockCount,
      reservedBytes: this.reservedBytes,
    }
  }
}
