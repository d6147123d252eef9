/**
 * Garbage collection end to end, through real processes: `tessera up` (1 meta member with a 1 s
 * grace period, 3 chunk servers, 4 MiB blocks), two files sharing their first block (dedup),
 * then `tessera rm` of one: within a bounded wait the block only it used disappears (block file
 * and checksum sidecar) from every chunk server's data directory, while the shared block keeps
 * all its copies and the other file reads back intact.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TESSERA_BIN } from './support/local-cluster.js'
import { run, type RunResult } from './support/processes.js'

const BLOCK = 4 * 1024 * 1024
const GRACE_MS = 1000
const GONE_WITHIN_MS = 30_000

const tessera = (args: string[], timeoutMs = 60_000): Promise<RunResult> => run(process.execPath, [TESSERA_BIN, ...args], { timeoutMs })
const exists = (path: string) => access(path).then(() => true, () => false)

/** Where a chunk server's block store keeps a block and its sidecar (see chunk/src/store/layout.ts). */
function blockPath(dataDir: string, chunkKey: string): string {
  return join(dataDir, 'blocks', chunkKey.slice(0, 2), chunkKey.slice(2, 4), chunkKey)
}

async function chunkKeysOf(dir: string, path: string): Promise<string[]> {
  const stat = await tessera(['stat', '--json', path, '--dir', dir])
  expect(stat.code, stat.stderr).to.equal(0)
  return (JSON.parse(stat.stdout) as { blocks: { key: string; len: number }[] }).blocks.map((b) => `${b.key}-${b.len}`)
}

async function copiesOn(chunkDirs: string[], chunkKey: string): Promise<{ blocks: number; sidecars: number }> {
  let blocks = 0
  let sidecars = 0
  for (const dataDir of chunkDirs) {
    if (await exists(blockPath(dataDir, chunkKey))) blocks++
    if (await exists(`${blockPath(dataDir, chunkKey)}.sum`)) sidecars++
  }
  return { blocks, sidecars }
}

describe('integration: garbage collection of unreferenced blocks', function () {
  this.timeout(120_000)
  let dir: string | undefined

  after(async () => {
    if (dir === undefined) return
    await tessera(['down', '--dir', dir], 30_000)
    await rm(dir, { recursive: true, force: true })
  })

  it('deletes a removed file\'s own blocks from every chunk server and keeps the block another file shares', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-gc-'))
    const up = await tessera(['up', '--dir', dir, '--metas', '1', '--chunks', '3', '--gc-grace-ms', String(GRACE_MS)])
    expect(up.code, up.stderr).to.equal(0)
    const local = JSON.parse(await readFile(join(dir, 'local.json'), 'utf8')) as { chunks: { dataDir: string }[] }
    const chunkDirs = local.chunks.map((c) => c.dataDir)
    expect(chunkDirs).to.have.length(3)

    const shared = randomBytes(BLOCK)
    const doomed = Buffer.concat([shared, randomBytes(100_000)])
    const kept = Buffer.concat([shared, randomBytes(200_000)])
    await writeFile(join(dir, 'doomed.bin'), doomed)
    await writeFile(join(dir, 'kept.bin'), kept)
    for (const name of ['doomed.bin', 'kept.bin']) {
      const put = await tessera(['put', join(dir, name), `/${name}`, '--dir', dir])
      expect(put.code, put.stderr).to.equal(0)
    }
    const [sharedKey, ownKey] = await chunkKeysOf(dir, '/doomed.bin')
    const keptKeys = await chunkKeysOf(dir, '/kept.bin')
    expect(keptKeys[0]).to.equal(sharedKey)
    expect(await copiesOn(chunkDirs, ownKey!)).to.deep.equal({ blocks: 3, sidecars: 3 })

    const removed = await tessera(['rm', '/doomed.bin', '--dir', dir])
    expect(removed.code, removed.stderr).to.equal(0)
    const deadline = Date.now() + GONE_WITHIN_MS
    let left = await copiesOn(chunkDirs, ownKey!)
    while (left.blocks + left.sidecars > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      left = await copiesOn(chunkDirs, ownKey!)
    }
    expect(left, `the removed file's own block is still on the chunk servers after ${GONE_WITHIN_MS} ms`).to.deep.equal({ blocks: 0, sidecars: 0 })

    // Well past the grace period, the shared block and the kept file's own block are all there.
    await new Promise((resolve) => setTimeout(resolve, 2 * GRACE_MS))
    for (const key of keptKeys) expect(await copiesOn(chunkDirs, key)).to.deep.equal({ blocks: 3, sidecars: 3 })
    const got = join(dir, 'got.bin')
    const get = await tessera(['get', '/kept.bin', got, '--dir', dir])
    expect(get.code, get.stderr).to.equal(0)
    expect((await readFile(got)).equals(kept), 'the kept file came back different').to.equal(true)
  })
})
