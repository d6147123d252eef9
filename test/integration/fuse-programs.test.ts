/**
 * Real programs on a Tessera mount: git, tar, sqlite3, cp -r of 1,000 small files, and random
 * writes into a file of many blocks, each checked against a copy on local disk or a model.
 * The mount comes from startTestMount() (support/test-mount.ts); this process only runs other
 * programs and uses async fs on local disk, so nothing here can block the FUSE server.
 */
import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mountAt, startLocalCluster, stopMountProcess, type LocalCluster } from './support/local-cluster.js'
import { REPO, run, type RunResult } from './support/processes.js'
import { startTestMount, type TestMount } from './support/test-mount.js'

/** git with an identity and no user or system config, so the host's settings do not matter. */
function git(cwd: string, ...args: string[]): ReturnType<typeof run> {
  return run('git', ['-c', 'user.name=Tessera Test', '-c', 'user.email=test@tessera.invalid', '-c', 'init.defaultBranch=main', ...args], {
    cwd, timeoutMs: 30_000, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd },
  })
}

/** Small files the cp -r test copies: as many as the suite's time allows (see the test). */
const FILES_TO_COPY = 1000

function ok(result: { code: number; stdout: string; stderr: string }, what: string): string {
  expect(result.code, `${what}: ${result.stderr}`).to.equal(0)
  return result.stdout
}

/** A deterministic tree: `files` files of 1-16 KiB spread over `dirs` directories (two levels). */
async function makeTree(root: string, files: number, dirs: number, seed: string): Promise<void> {
  await mkdir(root, { recursive: true })
  const dirPaths: string[] = []
  for (let d = 0; d < dirs; d++) {
    const path = d % 4 === 0 ? join(root, `d${d}`) : join(root, `d${d - (d % 4)}`, `sub${d}`)
    await mkdir(path, { recursive: true })
    dirPaths.push(path)
  }
  for (let i = 0; i < files; i++) {
    const digest = createHash('sha256').update(`${seed}/${i}`).digest()
    const size = 1024 + (digest.readUInt32BE(0) % (15 * 1024 + 1))
    const bytes = Buffer.alloc(size)
    for (let at = 0; at < size; at += digest.length) digest.copy(bytes, at, 0, Math.min(digest.length, size - at))
    bytes.writeUInt32BE(i, 0)
    await writeFile(join(dirPaths[i % dirPaths.length]!, `f${i}.bin`), bytes)
  }
}

describe('FUSE mount: real programs', function () {
  // A real cluster on a shared 2-core machine: git alone makes ~1,000 metadata round trips.
  this.timeout(180_000)
  let mount: TestMount
  const at = (...parts: string[]): string => join(mount.mountpoint, ...parts)
  const local = (...parts: string[]): string => join(mount.scratch, ...parts)

  before(async () => {
    mount = await startTestMount({ name: 'tessera-fuse-programs' })
  })

  after(async () => {
    await mount?.stop()
  })

  it('git init, add, commit twice, then git fsck finds the repository whole', async () => {
    const repo = at('repo')
    ok(await run('mkdir', [repo]), 'mkdir')
    ok(await git(repo, 'init', '-q'), 'git init')
    await makeTree(local('gitsrc'), 60, 6, 'git')
    ok(await run('cp', ['-r', `${local('gitsrc')}/.`, repo]), 'cp')
    ok(await git(repo, 'add', '-A'), 'git add')
    ok(await git(repo, 'commit', '-q', '-m', 'first'), 'git commit')
    ok(await run('sh', ['-c', 'echo changed >> d0/f0.bin && rm d0/sub1/f1.bin && echo new > NEW'], { cwd: repo }), 'edit')
    ok(await git(repo, 'add', '-A'), 'git add (2)')
    ok(await git(repo, 'commit', '-q', '-m', 'second'), 'git commit (2)')
    ok(await git(repo, 'gc', '-q'), 'git gc')
    const fsck = await git(repo, 'fsck', '--full', '--strict')
    expect(fsck.stdout + fsck.stderr).to.equal('')
    expect(fsck.code).to.equal(0)
    expect(ok(await git(repo, 'log', '--format=%s'), 'git log').trim().split('\n')).to.deep.equal(['second', 'first'])
    expect(ok(await git(repo, 'status', '--porcelain'), 'git status')).to.equal('')
    // A clone on the mount (objects copied, not hard-linked) is whole too.
    ok(await git(mount.mountpoint, 'clone', '-q', '--no-local', repo, at('clone')), 'git clone')
    const cloned = await git(at('clone'), 'fsck', '--full', '--strict')
    expect(cloned.stdout + cloned.stderr).to.equal('')
    const tree = await run('diff', ['-r', '--exclude=.git', repo, at('clone')])
    expect(tree.stdout + tree.stderr).to.equal('')
  })

  it('tar a tree onto the mount and out again; diff -r finds no difference', async () => {
    const src = local('tarsrc')
    await makeTree(src, 120, 8, 'tar')
    await writeFile(join(src, 'big.bin'), randomBytes(700 * 1024))
    await symlink('d0/f0.bin', join(src, 'link'))
    ok(await run('tar', ['-cf', at('tree.tar'), '-C', src, '.']), 'tar -c onto the mount')
    ok(await run('mkdir', [at('untar')]), 'mkdir')
    ok(await run('tar', ['-xf', at('tree.tar'), '-C', at('untar')]), 'tar -x on the mount')
    const onMount = await run('diff', ['-r', '--no-dereference', src, at('untar')])
    expect(onMount.stdout + onMount.stderr).to.equal('')
    ok(await run('tar', ['-cf', local('out.tar'), '-C', at('untar'), '.']), 'tar -c from the mount')
    await mkdir(local('tarout'))
    ok(await run('tar', ['-xf', local('out.tar'), '-C', local('tarout')]), 'tar -x locally')
    const back = await run('diff', ['-r', '--no-dereference', src, local('tarout')])
    expect(back.stdout + back.stderr).to.equal('')
    expect(back.code).to.equal(0)
  })

  it('sqlite3: tables filled in transactions pass PRAGMA integrity_check', async () => {
    const db = at('test.sqlite')
    const statements = ['CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, payload BLOB);', 'CREATE INDEX t_name ON t(name);']
    for (let tx = 0; tx < 20; tx++) {
      statements.push('BEGIN;')
      for (let i = 0; i < 100; i++) {
        const id = tx * 100 + i
        statements.push(`INSERT INTO t (id, name, payload) VALUES (${id}, 'row-${id}', randomblob(${200 + (id % 300)}));`)
      }
      statements.push(tx % 5 === 4 ? 'ROLLBACK;' : 'COMMIT;')
    }
    statements.push('BEGIN; UPDATE t SET name = name || \'-u\' WHERE id % 7 = 0; DELETE FROM t WHERE id % 11 = 0; COMMIT;')
    ok(await run('sqlite3', [db], { input: statements.join('\n'), timeoutMs: 60_000 }), 'sqlite3 inserts')
    const check = ok(await run('sqlite3', [db, 'PRAGMA integrity_check;', 'SELECT count(*) FROM t;', 'SELECT count(*) FROM t WHERE name LIKE \'%-u\';']), 'sqlite3 check')
    // 16 committed transactions of 100 rows; ids divisible by 11 deleted; 7's renamed.
    const ids = Array.from({ length: 2000 }, (_, i) => i).filter((i) => Math.floor(i / 100) % 5 !== 4 && i % 11 !== 0)
    expect(check.trim().split('\n')).to.deep.equal(['ok', String(ids.length), String(ids.filter((i) => i % 7 === 0).length)])
  })

  it('cp -r of 1,000 small files in 20 directories; diff -r finds no difference', async function () {
    // Each small file costs a lookup, a create, a block placement, a block write through a chain
    // of 3 and one commit on a real cluster (~30 ms on a quiet machine, several times that under
    // load); `npm run bench -- fuse` measures cp -r of 5,000.
    this.timeout(420_000)
    const src = local('many')
    await makeTree(src, FILES_TO_COPY, 20, 'many')
    const started = Date.now()
    ok(await run('cp', ['-r', src, at('many')], { timeoutMs: 300_000 }), 'cp -r')
    const copyMs = Date.now() - started
    const diff = await run('diff', ['-r', src, at('many')], { timeoutMs: 120_000 })
    expect(diff.stdout + diff.stderr).to.equal('')
    expect(diff.code).to.equal(0)
    const count = ok(await run('find', [at('many'), '-type', 'f'], { timeoutMs: 60_000 }), 'find').trim().split('\n').length
    expect(count).to.equal(FILES_TO_COPY)
    expect(copyMs).to.be.below(300_000)
  })

  it('random writes into a file of many blocks read back as the in-memory model says', async () => {
    const size = 9 * mount.blockSize + 12_345
    const result = await run(process.execPath, ['--input-type=module', '-e', RANDOM_WRITER, at('random.bin'), String(size), String(mount.blockSize)], { timeoutMs: 60_000 })
    expect(result.stderr).to.equal('')
    expect(result.code).to.equal(0)
    expect(result.stdout.trim()).to.match(/^OK [0-9a-f]{64}$/)
    // A second process (nothing cached from the writer's handle) reads the same bytes.
    const digest = ok(await run('sha256sum', [at('random.bin')]), 'sha256sum').split(' ')[0]
    expect(`OK ${digest}`).to.equal(result.stdout.trim())
  })
})

/**
 * A child script: writes random spans at random offsets (some across block boundaries, some
 * past the end, some tiny) through one handle with async fs, mirrors them in a Buffer, checks
 * reads through the open handle along the way, closes, reopens and compares the whole file.
 * Prints "OK <sha256>" or a description of the first mismatch (exit 1).
 */
const RANDOM_WRITER = `
import { open } from 'node:fs/promises'
import { createHash, randomBytes, randomInt } from 'node:crypto'
const [path, sizeText, blockText] = process.argv.slice(1)
const size = Number(sizeText), block = Number(blockText)
const model = Buffer.alloc(size)
let end = 0
const fail = (what) => { process.stdout.write('MISMATCH ' + what + '\\n'); process.exit(1) }
const fh = await open(path, 'w+')
for (let i = 0; i < 300; i++) {
  const kind = i % 4
  const len = kind === 0 ? randomInt(1, 16) : kind === 1 ? randomInt(block - 100, block + 100) : randomInt(1, 40_000)
  // kind 2 straddles a block boundary; the others land anywhere
  const offset = kind === 2 ? randomInt(1, Math.ceil(size / block)) * block - randomInt(1, Math.min(len, 500) + 1) : randomInt(0, size - len)
  const at = Math.max(0, Math.min(offset, size - len))
  const bytes = randomBytes(len)
  const { bytesWritten } = await fh.write(bytes, 0, len, at)
  if (bytesWritten !== len) fail('short write at ' + at)
  bytes.copy(model, at)
  end = Math.max(end, at + len)
  if (i % 25 === 24) {
    const from = randomInt(0, end), n = Math.min(randomInt(1, 3 * block), end - from)
    const got = Buffer.alloc(n)
    const { bytesRead } = await fh.read(got, 0, n, from)
    if (bytesRead !== n || !got.equals(model.subarray(from, from + n))) fail('read through the handle at ' + from + '+' + n)
  }
  if (i === 150) await fh.sync()
}
await fh.close()
const back = await (await import('node:fs/promises')).readFile(path)
const want = model.subarray(0, end)
if (back.length !== want.length) fail('size ' + back.length + ' != ' + want.length)
if (!back.equals(want)) {
  let i = 0
  while (back[i] === want[i]) i++
  fail('first differing byte at ' + i)
}
process.stdout.write('OK ' + createHash('sha256').update(want).digest('hex') + '\\n')
`

describe('FUSE mount: unmounted by someone else', function () {
  this.timeout(60_000)
  let mount: TestMount | undefined

  after(async () => {
    await mount?.stop()
  })

  it('notices an outside fusermount -u, and its serving process ends', async () => {
    mount = await startTestMount({ name: 'tessera-fuse-outside-unmount' })
    ok(await run('sh', ['-c', 'echo kept > f && mkdir d'], { cwd: mount.mountpoint }), 'write')
    ok(await run('fusermount', ['-u', mount.mountpoint]), 'fusermount -u')
    expect(await mount.serverExits(15_000)).to.equal(true)
    expect(await mountAt(mount.mountpoint)).to.equal('')
  })
})

describe('mount.fuse.tessera: the mount(8) helper', function () {
  this.timeout(60_000)
  const HELPER = join(REPO, 'packages/cli/bin/mount.fuse.tessera')
  const SBIN_LINK = '/sbin/mount.fuse.tessera'
  let cluster: LocalCluster
  let scratch: string
  let linked = false
  const mounts: Array<{ pid: number | undefined; mountpoint: string }> = []

  /** Runs the helper; remembers the pid `tessera mount --background` printed, for after(). */
  async function mountWith(cmd: string, args: string[], mountpoint: string): Promise<RunResult> {
    const result = await run(cmd, args, { timeoutMs: 40_000 })
    const pid = /mounted .* \(pid (\d+)\)/.exec(result.stdout)?.[1]
    mounts.push({ pid: pid === undefined ? undefined : Number(pid), mountpoint })
    return result
  }

  async function gone(pid: number, timeoutMs: number): Promise<boolean> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      try {
        process.kill(pid, 0)
      } catch {
        return true
      }
    }
    return false
  }

  async function newMountpoint(name: string): Promise<string> {
    const path = join(scratch, name)
    await mkdir(path)
    return path
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tessera-mount-helper-'))
    cluster = await startLocalCluster({ metas: 1, chunks: 0 })
  })

  after(async () => {
    for (const { pid, mountpoint } of mounts) await stopMountProcess(pid, mountpoint)
    if (linked) await rm(SBIN_LINK, { force: true })
    await cluster?.stop()
    await rm(scratch, { recursive: true, force: true })
  })

  it('translates SOURCE and -o options, ignores generic ones, refuses unknown ones and ro', async () => {
    const fake = await run(HELPER, ['meta=127.0.0.1:7400,[::1]:7401', '/mnt/t', '-o', 'rw,defaults,_netdev,nofail,x-systemd.automount,secret_file=/etc/tessera/secret,cache_ms=250,max_dirty=64MiB', '-f'])
    expect(fake.code, fake.stderr).to.equal(0)
    expect(fake.stdout.trim().split(' ').slice(1)).to.deep.equal([
      join(REPO, 'packages/cli/bin/tessera.js'), 'mount', '--background', '--meta', '127.0.0.1:7400,[::1]:7401',
      '--secret-file', '/etc/tessera/secret', '--cache-ms', '250', '--max-dirty', '64MiB', '/mnt/t',
    ])
    const shared = await run(HELPER, ['meta=h:1', '/mnt/t', '-o', 'allow_other', '-f'])
    expect(shared.stdout.trim().split(' ').slice(-2)).to.deep.equal(['--allow-other', '/mnt/t'])
    const dir = await run(HELPER, ['/srv/cluster', '/mnt/t', '-n', '-f', '-t', 'fuse.tessera'])
    expect(dir.stdout).to.contain('mount --background --dir /srv/cluster /mnt/t')
    const unknown = await run(HELPER, ['meta=h:1', '/mnt/t', '-f', '-o', 'colour=blue'])
    expect(unknown.code).to.equal(1)
    expect(unknown.stderr).to.contain('unknown option colour=blue')
    expect((await run(HELPER, ['meta=h:1', '/mnt/t', '-f', '-s', '-o', 'colour=blue'])).code).to.equal(0)
    expect((await run(HELPER, ['meta=h:1', '/mnt/t', '-f', '-o', 'ro'])).stderr).to.contain('read-only')
    expect((await run(HELPER, ['nonsense', '/mnt/t', '-f'])).code).to.equal(1)
    expect((await run(HELPER, ['meta=h:1', '/mnt/t', '-f', '-o', 'cache_ms='])).code).to.equal(1)
  })

  it('run directly with a cluster directory, mounts the namespace; other clients see changes', async () => {
    const mnt = await newMountpoint('direct')
    const result = await mountWith(HELPER, [cluster.dir, mnt, '-o', 'rw,_netdev,cache_ms=0'], mnt)
    expect(result.code, result.stderr).to.equal(0)
    expect(await mountAt(mnt)).to.match(/^tessera fuse/)
    ok(await run('mkdir', ['-p', join(mnt, 'from-mount/inner')]), 'mkdir on the mount')
    ok(await run('touch', [join(mnt, 'from-mount/empty')]), 'touch on the mount')
    const listed = ok(await cluster.tessera(['ls', '/from-mount', '--dir', cluster.dir]), 'tessera ls')
    expect(listed.split(/\s+/).filter((s) => s !== '').sort()).to.include.members(['empty', 'inner'])
    ok(await cluster.tessera(['mkdir', '/from-cli', '--dir', cluster.dir]), 'tessera mkdir')
    expect(ok(await run('ls', [mnt]), 'ls').trim().split('\n').sort()).to.deep.equal(['from-cli', 'from-mount'])
    // A second helper call on a busy mountpoint fails as mount(8) expects (32), mounting nothing.
    const busy = await run(HELPER, [cluster.dir, mnt], { timeoutMs: 40_000 })
    expect(busy.code).to.equal(32)
  })

  // mount(8) looks for /sbin/mount.fuse.tessera: this needs root (as CI runs), to place the link.
  it('with meta=ADDRESSES and secret_file=, through mount(8) -t fuse.tessera', async () => {
    const existing = await run('test', ['-e', SBIN_LINK])
    if (existing.code === 0) {
      // Someone installed a helper already: use it only if it is this one.
      expect(ok(await run('readlink', ['-f', SBIN_LINK]), 'readlink').trim()).to.equal(HELPER)
    } else {
      await symlink(HELPER, SBIN_LINK)
      linked = true
    }
    const local = JSON.parse(await readFile(join(cluster.dir, 'local.json'), 'utf8')) as { metas: Array<{ address: string }> }
    const addresses = local.metas.map((m) => m.address).join(',')
    const mnt = await newMountpoint('via-mount8')
    const result = await mountWith('mount', ['-t', 'fuse.tessera', `meta=${addresses}`, mnt, '-o', `_netdev,secret_file=${join(cluster.dir, 'secret')},cache_ms=100`], mnt)
    expect(result.code, result.stderr).to.equal(0)
    expect(await mountAt(mnt)).to.match(/^tessera fuse/)
    expect(ok(await run('ls', [mnt]), 'ls').trim().split('\n')).to.include('from-cli')
    // umount(8) first, then SIGTERM: the serving process must still be able to end.
    ok(await run('umount', [mnt]), 'umount')
    const { pid } = mounts.at(-1)!
    expect(pid).to.be.a('number')
    process.kill(pid!, 'SIGTERM')
    expect(await gone(pid!, 10_000)).to.equal(true)
  })
})
