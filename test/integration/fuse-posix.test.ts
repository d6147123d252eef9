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
    await utimes(at('m'), 1_600_000_000, 1_500_000_000)
    const timed = await stat(at('m'))
    expect([timed.atimeMs, timed.mtimeMs]).to.deep.equal([1_600_000_000_000, 1_500_000_000_000])
    await truncate(at('m'), 4)
    expect(await readFile(at('m'), 'utf8')).to.equal('0123')
    const fh = await open(at('m'), 'r+')
    await fh.truncate(8)
    await fh.close()
    expect(await readFile(at('m'))).to.deep.equal(Buffer.from([0x30, 0x31, 0x32, 0x33, 0, 0, 0, 0]))
    await unlink(at('m'))
  })

  it('sets mtime and atime independently: touch -m -d, touch -a -d, touch, and utime from a child process', async () => {
    await writeFile(at('times'), 'x')
    await utimes(at('times'), 1_000_000_000, 1_100_000_000)
    const utc = { ...process.env, TZ: 'UTC' }
    expect((await runProgram('touch', ['-m', '-d', '2001-02-03 04:05:06', at('times')], { env: utc })).code).to.equal(0)
    let s = await stat(at('times'))
    expect([s.atimeMs, s.mtimeMs]).to.deep.equal([1_000_000_000_000, Date.UTC(2001, 1, 3, 4, 5, 6)])
    expect((await runProgram('touch', ['-a', '-d', '2002-03-04 05:06:07.25', at('times')], { env: utc })).code).to.equal(0)
    s = await stat(at('times'))
    expect([s.atimeMs, s.mtimeMs]).to.deep.equal([Date.UTC(2002, 2, 4, 5, 6, 7, 250), Date.UTC(2001, 1, 3, 4, 5, 6)])
    const script = `import os; os.utime(${JSON.stringify(at('times'))}, ns=(1234567890123000000, 987654321987000000))`
    expect((await run('python3', ['-c', script])).stderr).to.equal('')
    s = await stat(at('times'))
    expect([s.atimeMs, s.mtimeMs]).to.deep.equal([1_234_567_890_123, 987_654_321_987])
    expect((await run('touch', [at('times')])).code).to.equal(0) // UTIME_NOW for both
    s = await stat(at('times'))
    expect(Math.abs(s.mtimeMs - Date.now())).to.be.below(60_000)
    expect(Math.abs(s.atimeMs - Date.now())).to.be.below(60_000)
    await unlink(at('times'))
  })

  it('cp -p and tar -x keep modification times', async () => {
    const source = join(mount!.scratch, 'timed')
    await mkdir(join(source, 'sub'), { recursive: true })
    await writeFile(join(source, 'a.txt'), 'a')
    await writeFile(join(source, 'sub', 'b.bin'), randomBytes(3000))
    const utc = { ...process.env, TZ: 'UTC' }
    for (const [name, when] of [['a.txt', '2001-02-03 04:05:06.789'], ['sub/b.bin', '1999-12-31 23:59:59'], ['sub', '2005-06-07 08:09:10']] as const) {
      expect((await runProgram('touch', ['-m', '-d', when, join(source, name)], { env: utc })).code).to.equal(0)
    }
    const localMtime = async (name: string): Promise<number> => (await stat(join(source, name))).mtimeMs
    const cp = await run('cp', ['-p', join(source, 'a.txt'), at('copied.txt')])
    expect(cp.stderr).to.equal('')
    expect((await stat(at('copied.txt'))).mtimeMs).to.equal(await localMtime('a.txt'))
    const tarball = join(mount!.scratch, 'timed.tar')
    expect((await run('tar', ['-cf', tarball, '-C', source, '.'])).code).to.equal(0)
    await mkdir(at('untarred'))
    const untar = await run('tar', ['-xf', tarball, '-C', at('untarred')])
    expect(untar.stderr).to.equal('')
    for (const name of ['a.txt', 'sub/b.bin', 'sub']) {
      // tar keeps whole seconds (ustar/gnu headers)
      expect(Math.floor((await stat(at('untarred', name))).mtimeMs / 1000), name).to.equal(Math.floor(await localMtime(name) / 1000))
    }
    expect((await run('rm', ['-r', at('untarred'), at('copied.txt')])).code).to.equal(0)
  })

  it('open(2) flags reach create and open: O_EXCL on an existing name is EEXIST, O_TRUNC empties, O_APPEND appends', async () => {
    const script = [
      'import os, errno', `p = ${JSON.stringify(at('flags'))}`,
      'fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640); os.write(fd, b"abc"); os.close(fd)',
      'try:\n  os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)\nexcept OSError as e:\n  print(errno.errorcode[e.errno])',
      'fd = os.open(p, os.O_WRONLY | os.O_APPEND); os.lseek(fd, 0, os.SEEK_SET); os.write(fd, b"def"); os.close(fd)',
      'print(open(p).read())',
      'fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640); os.write(fd, b"xy"); os.close(fd)',
      'print(open(p).read())',
      'q = p + "2"; fd = os.open(q, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)',
      'os.write(fd, b"1"); os.lseek(fd, 0, os.SEEK_SET); os.write(fd, b"2"); os.close(fd)',
      'print(open(q).read(), oct(os.stat(q).st_mode & 0o777))',
      'fd = os.open(q, os.O_RDONLY | os.O_CREAT, 0o600)',
      'try:\n  os.write(fd, b"no")\nexcept OSError as e:\n  print(errno.errorcode[e.errno])',
      'os.close(fd)',
    ].join('\n')
    const result = await run('python3', ['-c', script])
    expect(result.stderr).to.equal('')
    expect(result.stdout.trim().split('\n')).to.deep.equal(['EEXIST', 'abcdef', 'xy', '12 0o600', 'EBADF'])
    expect((await stat(at('flags'))).mode & 0o777).to.equal(0o640)
    await unlink(at('flags'))
    await unlink(at('flags2'))
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
