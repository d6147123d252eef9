/**
 * D/local.json: what `tessera up --dir D` started, so that `down`, `status --dir` and a later
 * `up` (which restarts stopped members with the same flags and data) can find it again.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TesseraError } from '@tessera/protocol'
import { writeDurably } from '../cluster-files.js'
import type { LocalMount } from './mount-process.js'

export const LOCAL_FILE = 'local.json'

export interface LocalDaemon {
  id: string
  /** host:port it serves on. */
  address: string
  /** Its data directory: also the marker that identifies its process (see processes.ts). */
  dataDir: string
  logFile: string
  /** `tessera` arguments that start it. */
  args: string[]
  /** The pid of the last start (may be stale: check with isOurProcess). */
  pid: number
}

export interface LocalState {
  metas: LocalDaemon[]
  /** Chunk servers (absent in files written before they existed: read as none). */
  chunks: LocalDaemon[]
  /** The FUSE mount `up --mount` started (absent when there is none). */
  mount?: LocalMount
}

export async function readLocalState(dir: string): Promise<LocalState | undefined> {
  const path = join(dir, LOCAL_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return undefined
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new TesseraError('EINVAL', `${path} is not valid JSON`)
  }
  const { metas, chunks = [], mount } = value as { metas?: unknown; chunks?: unknown; mount?: unknown }
  if (!Array.isArray(metas) || !metas.every(isDaemon) || !Array.isArray(chunks) || !chunks.every(isDaemon)
    || (mount !== undefined && !isMount(mount))) {
    throw new TesseraError('EINVAL', `${path}: malformed (expected {metas: [...], chunks: [...], mount?: {...}})`)
  }
  return mount === undefined ? { metas, chunks } : { metas, chunks, mount }
}

export async function writeLocalState(dir: string, state: LocalState): Promise<void> {
  await writeDurably(join(dir, LOCAL_FILE), JSON.stringify(state, null, 2) + '\n', 0o644)
}

function isDaemon(value: unknown): value is LocalDaemon {
  if (typeof value !== 'object' || value === null) return false
  const d = value as Record<string, unknown>
  return typeof d.id === 'string' && typeof d.address === 'string' && typeof d.dataDir === 'string'
    && typeof d.logFile === 'string' && Array.isArray(d.args) && d.args.every((a) => typeof a === 'string')
    && typeof d.pid === 'number'
}

function isMount(value: unknown): value is LocalMount {
  if (typeof value !== 'object' || value === null) return false
  const m = value as Record<string, unknown>
  return typeof m.mountpoint === 'string' && typeof m.pid === 'number' && typeof m.logFile === 'string'
}
