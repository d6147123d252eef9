/** Small file-system helpers the store needs: durable directories, quiet removal, error mapping. */
import { mkdir, open, rm, unlink, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { TesseraError } from '@tessera/protocol'

/** A file being written in tmp/. A seam: tests wrap it to inject faults such as ENOSPC. */
export interface TempFile {
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

export type TempFileOpener = (path: string) => Promise<TempFile>

/** Creates `path` exclusively and returns it as a TempFile. */
export const openTempFile: TempFileOpener = async (path) => {
  const handle = await open(path, 'wx', 0o644)
  return {
    write: (data, position) => writeFully(handle, data, data.byteLength, position),
    sync: () => handle.sync(),
    close: () => handle.close(),
  }
}

export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

/** Any failure as a TesseraError; a full disk (or quota) becomes a clean ENOSPC. */
export function toStoreError(err: unknown, doing: string): TesseraError {
  if (err instanceof TesseraError) return err
  const code = errnoCode(err)
  const message = err instanceof Error ? err.message : String(err)
  if (code === 'ENOSPC' || code === 'EDQUOT') return new TesseraError('ENOSPC', `no space left ${doing}: ${message}`)
  return new TesseraError('EIO', `${doing}: ${message}`)
}

/** Makes a rename or unlink inside `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** mkdir -p, and when it created directories, makes their entries durable too. */
export async function ensureDurableDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true })
  if (first === undefined) return
  for (let created = dir; ; created = dirname(created)) {
    await fsyncDir(dirname(created))
    if (created === first || dirname(created) === created) break
  }
}

export async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true })
}

/** Writes the first `length` bytes of `data` at `position`, however many calls that takes. */
export async function writeFully(handle: FileHandle, data: Uint8Array, length: number, position: number): Promise<void> {
  let done = 0
  while (done < length) {
    const { bytesWritten } = await handle.write(data, done, length - done, position + done)
    if (bytesWritten === 0) throw new TesseraError('EIO', 'a write wrote nothing')
    done += bytesWritten
  }
}

/** Reads until `buffer` is full or the file ends; returns the bytes read. */
export async function readFully(handle: FileHandle, buffer: Uint8Array, position: number): Promise<number> {
  let done = 0
  while (done < buffer.byteLength) {
    const { bytesRead } = await handle.read(buffer, done, buffer.byteLength - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}
