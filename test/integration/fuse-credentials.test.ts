/**
 * Each caller's own credentials reach meta through a root mount with allow_other: other users are
 * refused or allowed by meta's POSIX checks as themselves, and own what they create. The mount is
 * packages/fuse's fixture (one meta member, in-memory blocks: `tessera mount` has no allow_other
 * flag) served by a child process; the other users are child processes under setpriv. This
 * process uses async fs calls only (shared/FACTS.md). Needs root, as CI runs.
 */
import { expect } from 'chai'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopMountProcess } from './support/local-cluster.js'
import { REPO, run, type RunResult } from './support/processes.js'

const FIXTURE = join(REPO, 'packages/fuse/dist/test/support/mount-fixture.js')
const NOBODY = 65534
const READY_TIMEOUT_MS = 30_000

/** Runs a shell command as uid/gid 65534 with exactly the supplementary groups `groups`. */
function asNobody(script: string, groups: number[] = []): Promise<RunResult> {
  const groupArgs = groups.length === 0 ? ['--clear-groups'] : [`--groups=${groups.join(',')}`]
  return run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, ...groupArgs, 'sh', '-c', script], { timeoutMs: 20_000 })
}

/** Starts the fixture with allow_other and resolves its pid once it printed READY. */
function startFixture(mountpoint: string): Promise<{ child: ChildProcess; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, '--allow-other', mountpoint], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`mount fixture not ready in ${READY_TIMEOUT_MS} ms: ${err}`))
    }, READY_TIMEOUT_MS)
    child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (/^READY \d+$/m.test(out)) {
        clearTimeout(timer)
        resolve({ child, pid: child.pid! })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`mount fixture exited (${code}) before READY: ${err}`))
    })
  })
}

describe('FUSE mount: caller credentials (root mount, allow_other)', function () {
  this.timeout(60_000)
  let dir: string
  let mnt: string
  let pid: number | undefined
  const at = (...parts: string[]): string => join(mnt, ...parts)

  before(async () => {
    if (process.getuid?.() !== 0) throw new Error('this suite needs root (allow_other, setpriv)')
    dir = await mkdtemp(join(tmpdir(), 'tessera-fuse-cred-'))
    await chmod(dir, 0o755) // other users must reach the mountpoint
    mnt = join(dir, 'mnt')
    await mkdir(mnt)
    pid = (await startFixture(mnt)).pid
    await mkdir(at('locked'), 0o755)
    await mkdir(at('open'))
    await chmod(at('open'), 0o777)
  })

  after(async () => {
    if (mnt !== undefined) await stopMountProcess(pid, mnt)
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('another uid is refused (EACCES) in a 0755 root directory and owns what it creates in a 0777 one', async () => {
    const refused = await asNobody(`echo x > ${at('locked', 'f')}`)
    expect(refused.code).to.not.equal(0)
    expect(refused.stderr).to.match(/Permission denied/)
    const refusedDir = await asNobody(`mkdir ${at('locked', 'd')}`)
    expect(refusedDir.stderr).to.match(/Permission denied/)

    const created = await asNobody(`echo hello > ${at('open', 'mine')} && mkdir ${at('open', 'mydir')}`)
    expect(created.code, created.stderr).to.equal(0)
    for (const name of ['mine', 'mydir']) {
      const s = await stat(at('open', name))
      expect([s.uid, s.gid], name).to.deep.equal([NOBODY, NOBODY])
    }
  })

  it('reads and writes of root\'s files follow their mode bits for another uid', async () => {
    await writeFile(at('secret'), 'root only', { mode: 0o600 })
    await writeFile(at('public'), 'everyone', { mode: 0o644 })
    expect((await asNobody(`cat ${at('secret')}`)).stderr).to.match(/Permission denied/)
    const read = await asNobody(`cat ${at('public')}`)
    expect(read.stdout).to.equal('everyone')
    expect((await asNobody(`echo more >> ${at('public')}`)).stderr).to.match(/Permission denied/)
    // Root is still root: it writes into nobody's file whatever its mode.
    await writeFile(at('open', 'mine'), 'root wrote')
  })

  it('supplementary groups count: a 0770 directory of group 4242 admits only a member', async () => {
    await mkdir(at('team'))
    await chown(at('team'), 0, 4242)
    await chmod(at('team'), 0o770)
    expect((await asNobody(`touch ${at('team', 'outsider')}`)).stderr).to.match(/Permission denied/)
    const member = await asNobody(`touch ${at('team', 'member')}`, [4242])
    expect(member.code, member.stderr).to.equal(0)
    expect((await stat(at('team', 'member'))).uid).to.equal(NOBODY)
  })
})
