/**
 * Three real `tessera meta` processes started by `tessera up`: kill -9 the leader (twice) during
 * a stream of mkdir/create/rename/unlink from several MetaClients, restart it with `tessera up`,
 * and check that the namespace holds exactly the acknowledged operations, on every member.
 *
 * Each worker owns one directory and runs, for i = 0, 1, ...:
 *   mkdir d<i>; create f<i> (O_EXCL); rename f<i> -> d<i>/g; unlink d<i>/g when i is even.
 * Every step must succeed: a step applied twice would answer EEXIST or ENOENT. At the end a
 * worker's directory must hold exactly d0..d<n-1>, each with g iff i is odd, and no f<i>.
 *
 * Between steps each worker also looks up the file another worker is working on, and every
 * operation goes into one history that the simulator's linearizability checker reads with each
 * path as a key: mkdir and create are puts ('dir', 'file'), unlink a delete, rename a delete of
 * the source and a put of the target (over the same interval), a lookup a get of the type found
 * (null for ENOENT). Operations that failed are recorded as of unknown outcome.
 */
import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MetaClient } from '@tessera/client'
import { FileMode, ROOT_INO, hasCode, type Credentials } from '@tessera/protocol'
import { checkKvHistory, type KvEvent } from '@tessera/sim'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(REPO, 'packages/cli/bin/tessera.js')
const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const CLIENTS = 4
const WORKERS_PER_CLIENT = 3

interface Run {
  code: number
  out: string
  err: string
}

function tessera(args: string[], timeoutMs = 45_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, env: { ...process.env, TESSERA_LOG_LEVEL: 'info' } }, (error, out, err) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, out, err })
    })
  })
}

interface LocalMeta {
  id: string
  address: string
  dataDir: string
  pid: number
}

async function localMetas(dir: string): Promise<LocalMeta[]> {
  return (JSON.parse(await readFile(join(dir, 'local.json'), 'utf8')) as { metas: LocalMeta[] }).metas
}

async function isAlive(pid: number, marker: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(marker)
  } catch {
    return false
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function leaderOf(dir: string): Promise<{ id: string }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const status = await tessera(['status', '--dir', dir, '--json'])
    if (status.code === 0) {
      const parsed = JSON.parse(status.out) as { leader: string | null }
      if (parsed.leader !== null) return { id: parsed.leader }
    }
    await sleep(100)
  }
  throw new Error('no leader reported by tessera status')
}

type Effect = Pick<KvEvent, 'op' | 'key' | 'value'>

/** One worker's acknowledged steps, and its part of the shared history. */
class Worker {
  completed = 0
  /** The step the worker is on (another worker's lookups target its f<current>). */
  current = 0
  readonly failures: string[] = []
  peer: Worker | undefined
  private stopping = false

  constructor(readonly client: MetaClient, readonly name: string, readonly dirIno: number, readonly history: KvEvent[]) {}

  stop(): void {
    this.stopping = true
  }

  /** Runs `op`, recording its effects over the interval it took (unknown outcome if it failed). */
  private async record<T>(effects: Effect[], op: () => Promise<T>): Promise<T> {
    const invokedAt = performance.now()
    try {
      const value = await op()
      const returnedAt = performance.now()
      for (const e of effects) this.history.push({ client: this.name, ...e, invokedAt, returnedAt, ok: true })
      return value
    } catch (err) {
      for (const e of effects) this.history.push({ client: this.name, ...e, invokedAt, ok: 'unknown' })
      throw err
    }
  }

  /** A lookup of the file the peer works on now, recorded as a get of its path. */
  private async observePeer(): Promise<void> {
    const peer = this.peer
    if (peer === undefined) return
    const name = `f${peer.current}`
    const invokedAt = performance.now()
    let result: string | null
    try {
      const attr = await this.client.lookup(peer.dirIno, name)
      result = (attr.mode & FileMode.IFMT) === FileMode.IFDIR ? 'dir' : 'file'
    } catch (err) {
      if (!hasCode(err, 'ENOENT')) return // no answer: a read without a result says nothing
      result = null
    }
    this.history.push({ client: this.name, op: 'get', key: `${peer.name}/${name}`, result, invokedAt, returnedAt: performance.now(), ok: true })
  }

  async run(): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      this.current = i
      const key = (path: string) => `${this.name}/${path}`
      const step = async <T>(what: string, effects: Effect[], op: () => Promise<T>): Promise<T> => {
        try {
          return await this.record(effects, op)
        } catch (err) {
          this.failures.push(`${this.name} ${what} #${i}: ${(err as Error).message}`)
          throw err
        }
      }
      try {
        const d = await step('mkdir', [{ op: 'put', key: key(`d${i}`), value: 'dir' }], () => this.client.mkdir(this.dirIno, `d${i}`))
        await step('create', [{ op: 'put', key: key(`f${i}`), value: 'file' }], async () => {
          const made = await this.client.create(this.dirIno, `f${i}`, 0o644, true)
          if (!made.created) throw new Error('create reported an existing file')
        })
        await this.observePeer()
        await step('rename', [{ op: 'delete', key: key(`f${i}`) }, { op: 'put', key: key(`d${i}/g`), value: 'file' }],
          () => this.client.rename(this.dirIno, `f${i}`, d.ino, 'g'))
        if (i % 2 === 0) await step('unlink', [{ op: 'delete', key: key(`d${i}/g`) }], () => this.client.unlink(d.ino, 'g'))
      } catch {
        return
      }
      this.completed = i + 1
    }
  }
}

describe('meta cluster: kill -9 the leader under load', function () {
  this.timeout(90_000)
  let dir: string
  const clients: MetaClient[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-meta-cluster-'))
  })

  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    if (dir === undefined) return
    await tessera(['down', '--dir', dir], 30_000)
    try {
      for (const meta of await localMetas(dir)) {
        if (await isAlive(meta.pid, meta.dataDir)) process.kill(meta.pid, 'SIGKILL')
      }
    } catch {
      // no local.json: nothing was started
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps exactly the acknowledged operations', async () => {
    const up = await tessera(['up', '--dir', dir, '--metas', '3'])
    expect(up.code, up.err).to.equal(0)
    const status = await tessera(['status', '--dir', dir, '--json'])
    expect(status.code, status.err).to.equal(0)
    const reported = JSON.parse(status.out) as { leader: string; members: { id: string; role: string }[] }
    expect(reported.members.map((m) => m.id)).to.deep.equal(['m1', 'm2', 'm3'])
    expect(reported.members.filter((m) => m.role === 'leader')).to.have.length(1)

    const metas = await localMetas(dir)
    const secret = Buffer.from((await readFile(join(dir, 'secret'), 'utf8')).trim(), 'hex')
    const workers: Worker[] = []
    const history: KvEvent[] = []
    for (let c = 0; c < CLIENTS; c++) {
      const client = new MetaClient({ addresses: metas.map((m) => m.address), secret, cred: ROOT, sessions: WORKERS_PER_CLIENT })
      clients.push(client)
      for (let w = 0; w < WORKERS_PER_CLIENT; w++) {
        const name = `c${c}w${w}`
        workers.push(new Worker(client, name, (await client.mkdir(ROOT_INO, name)).ino, history))
      }
    }
    // each worker watches one on another client
    workers.forEach((w, i) => (w.peer = workers[(i + WORKERS_PER_CLIENT) % workers.length]))
    const running = workers.map((w) => w.run())

    for (let round = 0; round < 2; round++) {
      await sleep(1500)
      const leader = await leaderOf(dir)
      const victim = (await localMetas(dir)).find((m) => m.id === leader.id)!
      const before = workers.reduce((sum, w) => sum + w.completed, 0)
      process.kill(victim.pid, 'SIGKILL')
      await sleep(2000)
      const restarted = await tessera(['up', '--dir', dir])
      expect(restarted.code, restarted.err).to.equal(0)
      expect(restarted.out).to.contain('started 1 meta member')
      expect(workers.reduce((sum, w) => sum + w.completed, 0), 'progress through the fail-over').to.be.greaterThan(before)
    }
    await sleep(1000)
    for (const w of workers) w.stop()
    await Promise.all(running)
    expect(workers.flatMap((w) => w.failures)).to.deep.equal([])
    const total = workers.reduce((sum, w) => sum + w.completed, 0)
    expect(total).to.be.greaterThan(20)
    const reads = history.filter((e) => e.op === 'get')
    expect(reads.length, 'lookups of other workers\' files').to.be.greaterThan(total / 2)
    expect(reads.some((e) => e.result === 'file'), 'some lookups saw a file').to.equal(true)
    const verdict = checkKvHistory(history)
    expect(verdict.ok, JSON.stringify(verdict)).to.equal(true)

    // Every member, once caught up, holds exactly the acknowledged steps.
    const check = new MetaClient({ addresses: metas.map((m) => m.address), secret, cred: ROOT, sessions: 1 })
    clients.push(check)
    const leaderStatus = (await check.status()).find((r) => r.status?.role === 'leader')!.status!
    for (const meta of metas) {
      const member = new MetaClient({ addresses: [meta.address], secret, cred: ROOT, sessions: 1 })
      clients.push(member)
      for (let i = 0; i < 200; i++) {
        const reports = await member.status()
        const mine = reports.find((r) => r.status?.id === meta.id)?.status
        if (mine !== undefined && mine.applied >= leaderStatus.commit) break
        await sleep(50)
      }
      for (const worker of workers) {
        const dirIno = (await member.lookup(ROOT_INO, worker.name, { stale: true })).ino
        const names = (await member.readdir(dirIno, { stale: true })).map((e) => e.name).sort()
        const expected = Array.from({ length: worker.completed }, (_, i) => `d${i}`).sort()
        expect(names, `${meta.id}: ${worker.name}`).to.deep.equal(expected)
        for (let i = 0; i < worker.completed; i++) {
          const d = await member.lookup(dirIno, `d${i}`, { stale: true })
          const inside = (await member.readdir(d.ino, { stale: true })).map((e) => e.name)
          expect(inside, `${meta.id}: ${worker.name}/d${i}`).to.deep.equal(i % 2 === 1 ? ['g'] : [])
        }
      }
    }
  })
})
