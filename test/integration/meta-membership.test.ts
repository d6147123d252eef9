/**
 * Membership changes under load, with real processes: `tessera up` starts m1..m3; while several
 * clients keep making directories, a fourth `tessera meta --join` process is started and added
 * with `tessera members add`, promoted to voter, and then one of the original followers is
 * removed with `tessera members remove` (and stopped). Every acknowledged mkdir must be present
 * on the new member, no operation may fail, and the group must keep serving throughout.
 */
import { expect } from 'chai'
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSync, closeSync } from 'node:fs'
import { MetaClient } from '@tessera/client'
import { ROOT_INO, type Credentials } from '@tessera/protocol'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(REPO, 'packages/cli/bin/tessera.js')
const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const WORKERS = 6

interface Run {
  code: number
  out: string
  err: string
}

interface LocalMeta {
  id: string
  address: string
  dataDir: string
  pid: number
}

function tessera(args: string[], timeoutMs = 45_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out, err })
    })
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

async function isAlive(pid: number, marker: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(marker)
  } catch {
    return false
  }
}

async function stopPid(pid: number, marker: string): Promise<void> {
  if (!(await isAlive(pid, marker))) return
  process.kill(pid, 'SIGTERM')
  for (let i = 0; i < 200 && (await isAlive(pid, marker)); i++) await sleep(25)
  if (await isAlive(pid, marker)) process.kill(pid, 'SIGKILL')
}

class Maker {
  completed = 0
  failure: string | undefined
  private stopping = false

  constructor(readonly client: MetaClient, readonly name: string, readonly dirIno: number) {}

  stop(): void {
    this.stopping = true
  }

  async run(): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      try {
        await this.client.mkdir(this.dirIno, `d${i}`)
      } catch (err) {
        this.failure = `${this.name} mkdir d${i}: ${(err as Error).message}`
        return
      }
      this.completed = i + 1
    }
  }
}

describe('meta cluster: a fourth member added and one removed under load', function () {
  this.timeout(90_000)
  let dir: string
  let joiner: { pid: number; dataDir: string } | undefined
  const clients: MetaClient[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-meta-membership-'))
  })

  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    if (dir === undefined) return
    if (joiner !== undefined) await stopPid(joiner.pid, joiner.dataDir)
    await tessera(['down', '--dir', dir], 30_000)
    try {
      const metas = (JSON.parse(await readFile(join(dir, 'local.json'), 'utf8')) as { metas: LocalMeta[] }).metas
      for (const meta of metas) if (await isAlive(meta.pid, meta.dataDir)) process.kill(meta.pid, 'SIGKILL')
    } catch {
      // nothing was started
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps serving and loses nothing', async () => {
    const up = await tessera(['up', '--dir', dir, '--metas', '3'])
    expect(up.code, up.err).to.equal(0)
    const metas = (JSON.parse(await readFile(join(dir, 'local.json'), 'utf8')) as { metas: LocalMeta[] }).metas
    const secret = Buffer.from((await readFile(join(dir, 'secret'), 'utf8')).trim(), 'hex')
    const client = new MetaClient({ addresses: metas.map((m) => m.address), secret, cred: ROOT, sessions: WORKERS })
    clients.push(client)
    const makers: Maker[] = []
    for (let w = 0; w < WORKERS; w++) makers.push(new Maker(client, `w${w}`, (await client.mkdir(ROOT_INO, `w${w}`)).ino))
    const running = makers.map((m) => m.run())
    const progress = () => makers.reduce((sum, m) => sum + m.completed, 0)

    // a fourth member, started empty; it knows the others so that it can answer them
    await sleep(500)
    const address = `127.0.0.1:${await freePort()}`
    const dataDir = join(dir, 'meta', 'm4')
    await mkdir(join(dir, 'logs'), { recursive: true })
    const log = openSync(join(dir, 'logs', 'm4.log'), 'a')
    const peers = metas.map((m) => `${m.id}=${m.address}`).join(',')
    const child = spawn(process.execPath, [BIN, 'meta', '--id', 'm4', '--data', dataDir, '--listen', address, '--peers', peers, '--cluster', dir, '--join'], {
      detached: true, stdio: ['ignore', log, log],
    })
    closeSync(log)
    child.unref()
    joiner = { pid: child.pid!, dataDir }
    await sleep(300)

    const target = ['--dir', dir]
    const before = progress()
    const added = await tessera(['members', 'add', 'm4', address, '--json', ...target])
    expect(added.code, added.err).to.equal(0)
    expect((JSON.parse(added.out) as { members: { id: string; voter: boolean }[] }).members.find((m) => m.id === 'm4')?.voter).to.equal(false)
    await sleep(500)
    const promoted = await tessera(['members', 'promote', 'm4', ...target])
    expect(promoted.code, promoted.err).to.equal(0)
    await sleep(500)

    const status = JSON.parse((await tessera(['status', '--json', ...target])).out) as { leader: string }
    const victim = metas.find((m) => m.id !== status.leader)!
    const removed = await tessera(['members', 'remove', victim.id, '--json', '--meta', metas.filter((m) => m !== victim).map((m) => m.address).join(','), '--secret-file', join(dir, 'secret')])
    expect(removed.code, removed.err).to.equal(0)
    expect((JSON.parse(removed.out) as { members: { id: string }[] }).members.map((m) => m.id).sort()).to.deep.equal(
      ['m1', 'm2', 'm3', 'm4'].filter((id) => id !== victim.id))
    await stopPid(victim.pid, victim.dataDir)
    await sleep(1000)
    expect(progress(), 'progress through the membership changes').to.be.greaterThan(before)

    for (const m of makers) m.stop()
    await Promise.all(running)
    expect(makers.map((m) => m.failure).filter((f) => f !== undefined)).to.deep.equal([])

    // the new member holds every acknowledged directory once it has caught up
    const check = new MetaClient({ addresses: [address], secret, cred: ROOT, sessions: 1 })
    clients.push(check)
    const leaderCommit = async () => (await client.status()).find((r) => r.status?.role === 'leader')?.status?.commit ?? Infinity
    const commit = await leaderCommit()
    for (let i = 0; i < 200; i++) {
      const mine = (await check.status()).find((r) => r.status?.id === 'm4')?.status
      if (mine !== undefined && mine.applied >= commit) break
      await sleep(50)
    }
    for (const maker of makers) {
      const ino = (await check.lookup(ROOT_INO, maker.name, { stale: true })).ino
      const names = (await check.readdir(ino, { stale: true })).map((e) => e.name).sort()
      expect(names, maker.name).to.deep.equal(Array.from({ length: maker.completed }, (_, i) => `d${i}`).sort())
    }
  })
})
