/**
 * The start-up scan: rebuilds the index from the layout and repairs what a crash can leave.
 *
 * - tmp/ is emptied (writes that never committed).
 * - A sidecar without its block is removed: an interrupted commit (the sidecar is renamed into
 *   place first, the block last, so a block never appears without its sidecar) or delete.
 * - A block without a sidecar, of the wrong size, with a damaged sidecar, with a name that is
 *   not a key or in the wrong directory goes to quarantine, one log line each.
 * - With verifyOnOpen, every block's bytes are checked too (a full read of the store).
 */
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '@tessera/protocol'
import { tryParseBlockKey } from './block-key.js'
import { checkBlockFile, openBlockFile } from './block-file.js'
import type { Hasher } from './hasher.js'
import { SIDECAR_SUFFIX, type StoreLayout } from './layout.js'
import type { Quarantine } from './quarantine.js'

export interface IndexEntry {
  length: number
}

export interface ScanContext {
  layout: StoreLayout
  hasher: Hasher
  log: Logger
  quarantine: Quarantine
  verifyOnOpen: boolean
}

/** Blocks checked at once: enough to overlap I/O, few enough to stay far from EMFILE. */
const SCAN_PARALLELISM = 16
const FAN_OUT_NAME = /^[0-9a-f]{2}$/

export async function emptyTmp(layout: StoreLayout, log: Logger): Promise<void> {
  const leftovers = await readdir(layout.tmpDir)
  for (const name of leftovers) await rm(join(layout.tmpDir, name), { recursive: true, force: true })
  if (leftovers.length > 0) log.info({ count: leftovers.length }, 'removed unfinished writes from tmp/')
}

export async function scanBlocks(ctx: ScanContext): Promise<Map<string, IndexEntry>> {
  const index = new Map<string, IndexEntry>()
  for (const first of await readdir(ctx.layout.blocksDir, { withFileTypes: true })) {
    const firstPath = join(ctx.layout.blocksDir, first.name)
    if (!first.isDirectory() || !FAN_OUT_NAME.test(first.name)) {
      await ctx.quarantine.move([firstPath], first.name, 'unexpected entry in blocks/')
      continue
    }
    for (const second of await readdir(firstPath, { withFileTypes: true })) {
      const secondPath = join(firstPath, second.name)
      if (!second.isDirectory() || !FAN_OUT_NAME.test(second.name)) {
        await ctx.quarantine.move([secondPath], second.name, 'unexpected entry in blocks/')
        continue
      }
      await scanFanOutDir(ctx, secondPath, first.name + second.name, index)
    }
  }
  return index
}

async function scanFanOutDir(
  ctx: ScanContext, dir: string, prefix: string, index: Map<string, IndexEntry>,
): Promise<void> {
  const names = new Set(await readdir(dir))
  const blocks: string[] = []
  for (const name of names) {
    if (name.endsWith(SIDECAR_SUFFIX)) {
      const blockName = name.slice(0, -SIDECAR_SUFFIX.length)
      if (!names.has(blockName)) {
        await rm(join(dir, name), { force: true, recursive: true })
        ctx.log.info({ file: name }, 'removed a sidecar without its block (interrupted commit or delete)')
      }
      continue
    }
    blocks.push(name)
  }
  await forEachLimited(blocks, SCAN_PARALLELISM, async (name) => {
    const files = [join(dir, name), join(dir, name + SIDECAR_SUFFIX)]
    const parts = tryParseBlockKey(name)
    if (parts === undefined || !name.startsWith(prefix)) {
      await ctx.quarantine.move(files, name, parts === undefined ? 'file name is not a block key' : 'block in the wrong directory')
      return
    }
    const problem = await checkAtOpen(ctx, name, parts)
    if (problem !== undefined) {
      await ctx.quarantine.move(files, `block ${name}`, problem)
      return
    }
    index.set(name, { length: parts.length })
  })
}

async function checkAtOpen(
  ctx: ScanContext, key: string, parts: NonNullable<ReturnType<typeof tryParseBlockKey>>,
): Promise<string | undefined> {
  if (ctx.verifyOnOpen) {
    const checked = await checkBlockFile(ctx.hasher, ctx.layout, key, parts)
    return checked.ok ? undefined : checked.reason
  }
  const opened = await openBlockFile(ctx.hasher, ctx.layout, key, parts.length)
  if (!opened.ok) return opened.reason
  await opened.block.handle.close()
  return undefined
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
}
