import { constants, type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises'
import * as path from 'node:path'
import { TesseraError } from '@tessera/protocol'
import type { Disk, DiskFile, OpenMode, OpenOptions } from './disk.js'

const OPEN_FLAGS: Readonly<Record<OpenMode, number>> = {
  read: constants.O_RDONLY,
  readWrite: constants.O_RDWR,
  create: constants.O_RDWR | constants.O_CREAT,
}

/**
 * The production Disk: node:fs/promises under one root directory. Errors from the file
 * system are passed through unchanged, so callers can test `.code` ('ENOENT', 'ENOSPC', ...).
 */
export class NodeDisk implements Disk {
  readonly root: string

  constructor(root: string) {
    this.root = path.resolve(root)
  }

  async open(file: string, mode: OpenMode, options: OpenOptions = {}): Promise<DiskFile> {
    // O_DSYNC means nothing to a file that is only read.
    const durableWrites = options.durableWrites === true && mode !== 'read'
    const handle = await open(this.resolve(file), OPEN_FLAGS[mode] | (durableWrites ? constants.O_DSYNC : 0), 0o644)
    return new NodeDiskFile(handle, durableWrites)
  }

  async list(dir: string): Promise<string[]> {
    try {
      const names = await readdir(this.resolve(dir))
      return names.sort()
    } catch (err) {
      if (hasNodeCode(err, 'ENOENT')) return []
      throw err
    }
  }

  async exists(file: string): Promise<boolean> {
    try {
      await stat(this.resolve(file))
      return true
    } catch (err) {
      if (hasNodeCode(err, 'ENOENT')) return false
      throw err
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.resolve(from), this.resolve(to))
  }

  async remove(file: string): Promise<void> {
    try {
      await unlink(this.resolve(file))
    } catch (err) {
      if (!hasNodeCode(err, 'ENOENT')) throw err
    }
  }

  async mkdirp(dir: string): Promise<void> {
    await mkdir(this.resolve(dir), { recursive: true })
  }

  async syncDir(dir: string): Promise<void> {
    const handle = await open(this.resolve(dir), constants.O_RDONLY | constants.O_DIRECTORY)
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  /** Maps a '/'-separated relative path under the root; anything escaping the root is EINVAL. */
  private resolve(relative: string): string {
    if (relative.includes('\0') || relative.startsWith('/') || relative.includes('\\')) {
      throw new TesseraError('EINVAL', `bad disk path: ${JSON.stringify(relative)}`)
    }
    const parts = relative.split('/').filter((part) => part !== '' && part !== '.')
    if (parts.includes('..')) {
      throw new TesseraError('EINVAL', `disk path escapes its root: ${JSON.stringify(relative)}`)
    }
    return path.join(this.root, ...parts)
  }
}

class NodeDiskFile implements DiskFile {
  private readonly handle: FileHandle
  readonly durableWrites: boolean

  constructor(handle: FileHandle, durableWrites: boolean) {
    this.handle = handle
    this.durableWrites = durableWrites
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.allocUnsafe(length)
    let filled = 0
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, position + filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    return filled === length ? buffer : buffer.subarray(0, filled)
  }

  async write(position: number, data: Uint8Array): Promise<void> {
    let written = 0
    while (written < data.length) {
      const { bytesWritten } = await this.handle.write(data, written, data.length - written, position + written)
      written += bytesWritten
    }
  }

  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size)
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size
  }

  async sync(): Promise<void> {
    await this.handle.datasync()
  }

  async close(): Promise<void> {
    await this.handle.close()
  }
}

function hasNodeCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}
