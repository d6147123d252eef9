import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MetaClient } from '@tessera/client'
import { hasCode } from '@tessera/protocol'
import { CliCluster } from './support/meta-cluster.js'

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url))
const SESSION_TIMEOUT_MS = 1500

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

describe('cli: tessera lock', function () {
  this.timeout(30_000)
  let cluster: CliCluster
  let client: MetaClient
  let log: string
  before(async () => {
    cluster = await CliCluster.start(3, { namespace: { sessionTimeoutMs: SESSION_TIMEOUT_MS }, expireIntervalMs: 200 })
    client = new MetaClient({ addresses: cluster.addresses(), secret: cluster.secret, deadlineMs: 10_000 })
    await client.mkdirp('/locks/f')
    log = join(cluster.root, 'log')
  })
  after(async () => {
    await client?.close()
    await cluster?.stop()
  })
  beforeEach(async () => {
    await writeFile(log, '')
  })

  /** A command that logs its start and end around a pause. */
  const section = (tag: string, ms: number) => ['sh', '-c', `echo "start ${tag}" >> ${log}; sleep ${ms / 1000}; echo "end ${tag}" >> ${log}`]
  const events = async () => (await readFile(log, 'utf8')).trim().split('\n')

  it('an exclusive lock runs the commands one at a time', async () => {
    const runs = await Promise.all(['a', 'b', 'c'].map((t) => cluster.run(['lock', '/locks/f'], section(t, 200))))
    for (const r of runs) expect(r.code, r.err).to.equal(0)
    const seen = await events()
    expect(seen).to.have.length(6)
    for (let i = 0; i < 6; i += 2) {
      expect(seen[i]).to.match(/^start /)
      expect(seen[i + 1]).to.equal(seen[i]!.replace('start', 'end'))
    }
  })

  it('shared locks run together', async () => {
    const runs = await Promise.all(['a', 'b'].map((t) => cluster.run(['lock', '--shared', '/locks/f'], section(t, 1000))))
    for (const r of runs) expect(r.code, r.err).to.equal(0)
    expect((await events()).map((e) => e.split(' ')[0])).to.deep.equal(['start', 'start', 'end', 'end'])
  })

  it('exits with the command\'s code and passes its output through; 127 for a missing command', async () => {
    const seven = await cluster.run(['lock', '/locks/f'], ['sh', '-c', 'echo out; echo err >&2; exit 7'])
    expect(seven).to.deep.equal({ code: 7, out: 'out\n', err: 'err\n' })
    const missing = await cluster.run(['lock', '/locks/f'], ['/no/such/program'])
    expect(missing.code).to.equal(127)
    expect(missing.err).to.contain('command not found')
    const noCommand = await cluster.run(['lock', '/locks/f'])
    expect(noCommand.code).to.equal(2)
    const noPath = await cluster.run(['lock', '/locks/none'], ['true'])
    expect(noPath.code).to.equal(1)
    expect(noPath.err).to.contain('[ENOENT]')
  })

  it('--nonblock fails with EAGAIN while another holds the lock; --timeout gives up with ETIMEDOUT', async () => {
    const held = await client.lock('/locks/f')
    try {
      const busy = await cluster.run(['lock', '--nonblock', '/locks/f'], ['true'])
      expect(busy.code).to.equal(1)
      expect(busy.err).to.match(/^tessera lock: \/locks\/f: .*\[EAGAIN\]\n$/)
      const started = Date.now()
      const late = await cluster.run(['lock', '--timeout', '500', '--shared', '/locks/f'], ['true'])
      expect(late.code).to.equal(1)
      expect(late.err).to.contain('[ETIMEDOUT]')
      expect(Date.now() - started).to.be.within(400, 5000)
    } finally {
      await held.release()
    }
    const free = await cluster.run(['lock', '--nonblock', '/locks/f'], ['true'])
    expect(free.code, free.err).to.equal(0)
  })

  it('a lock held by a process killed with SIGKILL passes on when its session expires', async () => {
    const marker = join(cluster.root, 'held')
    const child = spawn(process.execPath, [BIN, 'lock', '/locks/f', ...cluster.target(), '--', 'sh', '-c', `echo held > ${marker}; exec sleep 30`], {
      detached: true, stdio: 'ignore',
    })
    const pid = child.pid!
    try {
      for (let i = 0; !(await exists(marker)); i++) {
        if (i > 200) expect.fail('tessera lock did not start its command')
        await sleep(25)
      }
      try {
        await client.lock('/locks/f', 'exclusive', { wait: false })
        expect.fail('the lock was free while the command ran')
      } catch (err) {
        expect(hasCode(err, 'EAGAIN'), String(err)).to.equal(true)
      }
      process.kill(-pid, 'SIGKILL') // tessera lock and its command: the process group we started
      const killedAt = Date.now()
      const handle = await client.lock('/locks/f', 'exclusive', { timeoutMs: 10_000 })
      const waited = Date.now() - killedAt
      await handle.release()
      // the dead holder's session had to time out first
      expect(waited).to.be.within(SESSION_TIMEOUT_MS / 2, SESSION_TIMEOUT_MS + 4000)
    } finally {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })
})
