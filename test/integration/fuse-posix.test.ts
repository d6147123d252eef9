/**
 * POSIX behaviour of a Tessera mount. The mount is served by a child process
 * (packages/fuse/dist/test/support/mount-fixture.js: one in-process meta member and the in-memory
 * DataPath); this process uses ASYNC fs calls and other child processes only, so that nothing
 * here can block the FUSE server (shared/FACTS.md). after() always unmounts (fusermount -u, then
 * -u -z) and kills the child by pid.
 */
import { expect } from 'chai'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  appendFile, chmod, chown, link, lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rename, rm, rmdir, stat,
  statfs, symlink, truncate, unlink, utimes, writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const FIXTURE = join(REPO, 'packages/fuse/dist/test/support/mount-fixture.js')
const BLOCK = 256 * 1024

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'ok'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err)
  }
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`mount fixture not ready in ${timeoutMs} ms: ${err}`)), timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('READY')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`mount fixture exited with ${code}: ${err}`))
    })
  })
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

describe('FUSE mount: POSIX behaviour', function () {
  this.timeout(60_000)
  let dir: string
  let mnt: string
  let child: ChildProcess | undefined
  const at = (...parts: string[]): string => join(mnt, ...parts)

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-fuse-posix-'))
    mnt = join(dir, 'mnt')
    await mkdir(mnt)
    child = spawn(process.execPath, [FIXTURE, mnt, String(BLOCK)], { stdio: ['ignore', 'pipe', 'pipe'] })
    await waitForReady(child, 30_000)
  })

  after(async () => {
    if (child !== undefined) {
      child.kill('SIGTERM')
      if (!(await exited(child, 10_000))) child.kill('SIGKILL')
      await exited(child, 5000)
    }
    if ((await run('fusermount', ['-u', mnt], 10_000)).code !== 0) await run('fusermount', ['-u', '-z', mnt], 10_000)
    await rm(dir, { recursive: true, force: true })
  })

  it('makes and removes directories, with EEXIST, ENOTEMPTY, ENOTDIR, EISDIR and ENOENT', async () => {
    await mkdir(at('d'))
    expect((await stat(at('d'))).isDirectory()).to.equal(true)
    expect(await codeOf(mkdir(at('d')))).to.equal('EEXIST')
    await writeFile(at('d', 'f'), 'x')
    expect(await codeOf(rmdir(at('d')))).to.equal('ENOTEMPTY')
    expect(await codeOf(rmdir(at('d', 'f')))).to.equal('ENOTDIR')
    expect(await codeOf(unlink(at('d')))).to.equal('EISDIR')
    expect(await codeOf(stat(at('d', 'f', 'below')))).to.equal('ENOTDIR')
    expect(await codeOf(stat(at('nothing')))).to.equal('ENOENT')
    expect(await codeOf(writeFile(at('d'), 'x'))).to.equal('EISDIR')
    expect((await readdir(at('d'))).sort()).to.deep.equal(['f'])
    await unlink(at('d', 'f'))
    await rmdir(at('d'))
    expect(await codeOf(stat(at('d')))).to.equal('ENOENT')
  })

  it('creates, renames, links and symlinks', async () => {
    await writeFile(at('a'), 'contents')
    expect(await codeOf(open(at('a'), 'wx'))).to.equal('EEXIST')
    await rename(at('a'), at('b'))
    expect(await codeOf(stat(at('a')))).to.equal('ENOENT')
    await link(at('b'), at('c'))
    const [b, c] = [await stat(at('b')), await stat(at('c'))]
    expect(c.ino).to.equal(b.ino)
    expect(c.nlink).to.equal(2)
    expect(await codeOf(link(at('b'), at('c')))).to.equal('EEXIST')
    await symlink('b', at('s'))
    expect(await readlink(at('s'))).to.equal('b')
    expect((await lstat(at('s'))).isSymbolicLink()).to.equal(true)
    expect(await readFile(at('s'), 'utf8')).to.equal('contents')
    await appendFile(at('c'), '+more')
    // b and c are separate kernel inodes under libfuse 2's path API: read through the one written
    // (the other's cached size is refreshed only after attr_timeout).
    expect(await readFile(at('c'), 'utf8')).to.equal('contents+more')
    for (const name of ['b', 'c', 's']) await unlink(at(name))
  })

  it('changes mode, owner and times, and truncates', async () => {
    await writeFile(at('m'), '0123456789')
    await chmod(at('m'), 0o640)
    expect((await stat(at('m'))).mode & 0o7777).to.equal(0o640)
    await chown(at('m'), 1234, 5678)
    const owned = await stat(at('m'))
    expect([owned.uid, owned.gid]).to.deep.equal([1234, 5678])
    // fuse-native 2.2.6 hands utimens the access time twice: only equal times survive exactly.
    await utimes(at('m'), 1_600_000_000, 1_600_000_000)
    expect((await stat(at('m'))).mtimeMs).to.equal(1_600_000_000_000)
    await truncate(at('m'), 4)
    expect(await readFile(at('m'), 'utf8')).to.equal('0123')
    const fh = await open(at('m'), 'r+')
    await fh.truncate(8)
    await fh.close()
    expect(await readFile(at('m'))).to.deep.equal(Buffer.from([0x30, 0x31, 0x32, 0x33, 0, 0, 0, 0]))
    await unlink(at('m'))
  })

  it('sets, reads, lists and removes extended attributes (via python3 os.*xattr)', async () => {
    await writeFile(at('x'), '')
    const script = [
      'import os, sys', `p = ${JSON.stringify(at('x'))}`,
      'os.setxattr(p, "user.colour", b"blue")',
      'print(os.getxattr(p, "user.colour").decode(), ",".join(os.listxattr(p)))',
      'os.removexattr(p, "user.colour")',
      'try:\n  os.getxattr(p, "user.colour")\nexcept OSError as e:\n  print(e.errno)',
      'try:\n  os.setxattr(p, "user.other", b"v", os.XATTR_REPLACE)\nexcept OSError as e:\n  print(e.errno)',
    ].join('\n')
    const result = await run('python3', ['-c', script])
    expect(result.stderr).to.equal('')
    expect(result.stdout.trim().split('\n')).to.deep.equal(['blue user.colour', '61', '61'])
    await unlink(at('x'))
  })

  it('reports statfs', async () => {
    const s = await statfs(mnt)
    expect(s.bsize).to.equal(1024 * 1024)
    expect(s.blocks).to.be.greaterThan(0)
    expect(s.bavail).to.be.at.most(s.blocks)
  })

  it('writes and reads back a file of several blocks, with a random patch', async () => {
    const bytes = randomBytes(6 * BLOCK + 777)
    await writeFile(at('big'), bytes)
    expect((await stat(at('big'))).size).to.equal(bytes.length)
    expect(Buffer.compare(await readFile(at('big')), bytes)).to.equal(0)
    const patch = randomBytes(5000)
    const fh = await open(at('big'), 'r+')
    await fh.write(patch, 0, patch.length, 2 * BLOCK - 2000)
    await fh.close()
    patch.copy(bytes, 2 * BLOCK - 2000)
    expect(Buffer.compare(await readFile(at('big')), bytes)).to.equal(0)
    await unlink(at('big'))
  })

  it('copies a tree with cp -r and diff -r finds no difference', async () => {
    const source = join(REPO, 'packages/protocol/src')
    const cp = await run('cp', ['-r', source, at('tree')])
    expect(cp.stderr).to.equal('')
    const diff = await run('diff', ['-r', source, at('tree')])
    expect(diff.stdout + diff.stderr).to.equal('')
    expect(diff.code).to.equal(0)
    const rmTree = await run('rm', ['-r', at('tree')])
    expect(rmTree.code).to.equal(0)
  })
})
