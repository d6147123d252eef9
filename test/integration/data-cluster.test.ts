/**
 * The data path end to end, through real processes: `tessera up` with 3 meta members and 3 chunk
 * servers (1 MiB blocks), `tessera put` of a ~20 MiB file and `tessera get` of it back
 * byte-identical, `stat --json` showing 3 copies of every block on distinct servers; then kill -9
 * of one chunk server: another put still succeeds, its blocks recorded with 2 copies as
 * under-replicated, and both files read back; restarted, the server's block report restores its
 * copies.
 */
import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(REPO, 'packages/cli/bin/tessera.js')

interface Run {
  code: number
  out: string
  err: string
}

function tessera(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: process.env }, (error, out, err) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, out, err })
    })
  })
}

function catBytes(dir: string, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, 'cat', path, '--dir', dir], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (error, out, err) => (error === null ? resolve(out) : reject(new Error(`tessera cat failed: ${err.toString()}`))))
  })
}

interface LocalDaemon {
  id: string
  address: string
  dataDir: string
  pid: number
}

async function localState(dir: string): Promise<{ metas: LocalDaemon[]; chunks: LocalDaemon[] }> {
  return JSON.parse(await readFile(join(dir, 'local.json'), 'utf8')) as { metas: LocalDaemon[]; chunks: LocalDaemon[] }
}

async function isAlive(pid: number, marker: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(marker)
  } catch {
    return false
  }
}

interface StatBlock {
  key: string
  len: number
  copies: { id: string; address: string; state: string }[]
  underReplicated: boolean
}

async function blocksOf(dir: string, path: string): Promise<StatBlock[]> {
  const stat = await tessera(['stat', '--json', path, '--dir', dir])
  expect(stat.code, stat.err).to.equal(0)
  return (JSON.parse(stat.out) as { blocks: StatBlock[] }).blocks
}

async function expectRoundTrip(dir: string, remote: string, original: Buffer): Promise<void> {
  const local = join(dir, `got-${remote.slice(1)}`)
  const get = await tessera(['get', remote, local, '--dir', dir])
  expect(get.code, get.err).to.equal(0)
  const back = await readFile(local)
  expect(back.length).to.equal(original.length)
  expect(back.equals(original), `${remote} came back different`).to.equal(true)
}

describe('data cluster: put and get through 3 meta members and 3 chunk servers', function () {
  this.timeout(120_000)
  let dir: string | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-data-cluster-'))
  })

  after(async () => {
    if (dir === undefined) return
    await tessera(['down', '--dir', dir], 40_000)
    try {
      const state = await localState(dir)
      for (const daemon of [...state.chunks, ...state.metas]) {
        if (await isAlive(daemon.pid, daemon.dataDir)) process.kill(daemon.pid, 'SIGKILL')
      }
    } catch {
      // no local.json: nothing was started
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('round-trips files with 3 copies, and stays writable with 2 after a chunk server dies', async () => {
    const format = await tessera(['format', '--dir', dir!, '--block-size', '1MiB'])
    expect(format.code, format.err).to.equal(0)
    const up = await tessera(['up', '--dir', dir!, '--metas', '3', '--chunks', '3'])
    expect(up.code, up.err).to.equal(0)

    const first = randomBytes(20 * 1024 * 1024 + 12345)
    await writeFile(join(dir!, 'first.bin'), first)
    const put = await tessera(['put', join(dir!, 'first.bin'), '/first.bin', '--dir', dir!, '--json'])
    expect(put.code, put.err).to.equal(0)
    expect(JSON.parse(put.out)).to.include({ size: first.length, blocks: 21, underReplicated: 0 })
    await expectRoundTrip(dir!, '/first.bin', first)

    const blocks = await blocksOf(dir!, '/first.bin')
    expect(blocks).to.have.length(21)
    for (const block of blocks) {
      expect(new Set(block.copies.map((c) => c.id)).size, `copies of ${block.key}`).to.equal(3)
      expect(block.underReplicated).to.equal(false)
    }

    const cat = await catBytes(dir!, '/first.bin')
    expect(cat.equals(first), 'tessera cat wrote other bytes').to.equal(true)

    const state = await localState(dir!)
    const victim = state.chunks[0]!
    process.kill(victim.pid, 'SIGKILL')

    const second = randomBytes(5 * 1024 * 1024 + 7)
    await writeFile(join(dir!, 'second.bin'), second)
    const started = Date.now()
    const put2 = await tessera(['put', join(dir!, 'second.bin'), '/second.bin', '--dir', dir!, '--json'])
    expect(put2.code, put2.err).to.equal(0)
    expect(Date.now() - started, 'a dead server costs a probe, not a timeout per block').to.be.lessThan(30_000)
    const secondBlocks = await blocksOf(dir!, '/second.bin')
    expect(secondBlocks).to.have.length(6)
    for (const block of secondBlocks) {
      const ids = block.copies.map((c) => c.id)
      expect(ids, `copies of ${block.key}`).to.not.include(victim.id)
      expect(new Set(ids).size).to.equal(2)
      expect(block.underReplicated).to.equal(true)
    }
    expect(JSON.parse(put2.out).underReplicated).to.equal(6)

    await expectRoundTrip(dir!, '/second.bin', second)
    await expectRoundTrip(dir!, '/first.bin', first)

    const status = await tessera(['status', '--dir', dir!, '--json'])
    expect(status.code, status.err).to.equal(0)
    type Chunks = { servers: { id: string }[]; underReplicated: number; unreferencedBlocks: number; pendingDeletes: number }
    const chunks = (JSON.parse(status.out) as { chunks: Chunks }).chunks
    expect(chunks.servers.map((s) => s.id).sort()).to.deep.equal(['c1', 'c2', 'c3'])
    expect(chunks.underReplicated).to.be.at.least(6)
    // Nothing was removed, and the grace period is minutes: GC has no backlog.
    expect([chunks.unreferencedBlocks, chunks.pendingDeletes]).to.deep.equal([0, 0])

    // The killed server comes back: its block report restores its copies of the first file.
    const again = await tessera(['up', '--dir', dir!])
    expect(again.code, again.err).to.equal(0)
    // Meta may not have declared it down yet: wait for the new process's own registration.
    const log = join(dir!, 'logs', `${victim.id}.log`)
    const registrations = async () => (await readFile(log, 'utf8')).split('registered with meta').length - 1
    for (let i = 0; i < 100 && (await registrations()) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await registrations(), 'the restarted server registered').to.equal(2)
    for (const block of await blocksOf(dir!, '/first.bin')) {
      expect(block.copies.map((c) => c.id).sort(), `copies of ${block.key} after the restart`).to.deep.equal(['c1', 'c2', 'c3'])
    }
    for (const block of await blocksOf(dir!, '/second.bin')) expect(block.underReplicated).to.equal(true)
    await expectRoundTrip(dir!, '/first.bin', first)
  })
})
