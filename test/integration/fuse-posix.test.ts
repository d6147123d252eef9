/**
 * POSIX behaviour of a Tessera mount over a real cluster (support/test-mount.ts: `tessera up
 * --metas 3 --chunks 3 --mount`, block size 1 MiB). This process uses ASYNC fs calls and other
 * child processes only, so that nothing here can block the FUSE server (shared/FACTS.md).
 * after() always unmounts and stops the cluster.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import {
  appendFile, chmod, chown, link, lstat, mkdir, open, readFile, readdir, readlink, rename, rmdir, stat,
  statfs, symlink, truncate, unlink, utimes, writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { REPO, run as runProgram } from './support/processes.js'
import { startTestMount, type TestMount } from './support/test-mount.js'

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProgram(cmd, args, { timeoutMs })
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'ok'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err)
  }
}

describe('FUSE mount: POSIX behaviour', function () {
  this.timeout(90_000)
  let mount: TestMount | undefined
  let mnt: string
  let BLOCK: number
  const at = (...parts: string[]): string => join(mnt, ...parts)

  before(async () => {
    mount = await startTestMount({ name: 'tessera-fuse-posix' })
    mnt = mount.mountpoint
    BLOCK = mount.blockSize
  })

  after(async () => {
    await mount?.stop()
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

  it('two mounts of one cluster see each other\'s closed files (close-to-open)', async () => {
    const other = await mount!.mountAgain()
    const first = randomBytes(3 * BLOCK + 4321)
    await writeFile(at('shared.bin'), first) // closed here
    expect(Buffer.compare(await readFile(join(other, 'shared.bin')), first)).to.equal(0)
    const second = randomBytes(2 * BLOCK + 99)
    const fh = await open(join(other, 'shared.bin'), 'r+')
    await fh.write(second, 0, second.length, BLOCK - 10)
    await fh.truncate(BLOCK - 10 + second.length)
    await fh.close()
    const expected = Buffer.concat([first.subarray(0, BLOCK - 10), second])
    // The kernel may keep the attributes a moment (--cache-ms, 1 s by default); a new open revalidates.
    await new Promise((resolve) => setTimeout(resolve, 1200))
    expect(Buffer.compare(await readFile(at('shared.bin')), expected)).to.equal(0)
    await mkdir(join(other, 'from-other'))
    await new Promise((resolve) => setTimeout(resolve, 1200))
    expect(await readdir(mnt)).to.include('from-other')
    await unlink(at('shared.bin'))
    await rmdir(at('from-other'))
  })
})
