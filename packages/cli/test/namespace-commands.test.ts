import { expect } from 'chai'
import { CliCluster } from './support/meta-cluster.js'

describe('cli: namespace commands (ls, stat, mkdir, rm, mv, ln) against a 1-member cluster', function () {
  this.timeout(30_000)
  let cluster: CliCluster
  before(async () => {
    cluster = await CliCluster.start(1)
  })
  after(async () => {
    await cluster?.stop()
  })

  const names = async (path: string): Promise<string[]> => {
    const r = await cluster.run(['ls', path])
    expect(r.code, r.err).to.equal(0)
    return r.out.split('\n').filter((l) => l !== '')
  }

  it('mkdir makes one directory; -p makes the missing parents and accepts existing ones', async () => {
    expect((await cluster.run(['mkdir', '/a'])).code).to.equal(0)
    const again = await cluster.run(['mkdir', '/a'])
    expect(again.code).to.equal(1)
    expect(again.err.trim().split('\n')).to.have.length(1)
    expect(again.err).to.match(/^tessera mkdir: \/a: .*\[EEXIST\]$/m)
    const missing = await cluster.run(['mkdir', '/x/y'])
    expect(missing.code).to.equal(1)
    expect(missing.err).to.contain('[ENOENT]')
    const deep = await cluster.run(['mkdir', '-p', '-m', '700', '/a/b/c', '/a', '--json'])
    expect(deep.code, deep.err).to.equal(0)
    const made = JSON.parse(deep.out) as { path: string; type: string; perms: string }[]
    expect(made.map((m) => [m.path, m.type])).to.deep.equal([['/a/b/c', 'directory'], ['/a', 'directory']])
    expect(made[0]!.perms).to.equal('0700')
    expect(await names('/a/b')).to.deep.equal(['c'])
  })

  it('ls lists in name order; -l and --json show attributes; a file lists itself', async () => {
    await cluster.run(['mkdir', '-p', '/ls/z', '/ls/m'])
    expect((await cluster.run(['ln', '-s', '../somewhere', '/ls/link'])).code).to.equal(0)
    expect(await names('/ls')).to.deep.equal(['link', 'm', 'z'])
    const long = await cluster.run(['ls', '-l', '/ls'])
    expect(long.code, long.err).to.equal(0)
    const lines = long.out.trim().split('\n')
    expect(lines).to.have.length(3)
    expect(lines[0]).to.match(/^lrwxrwxrwx\s+1\s+\d+\s+\d+\s+12\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  link -> \.\.\/somewhere$/)
    expect(lines[1]).to.match(/^drwxr-xr-x\s+2 .* m$/)
    const json = JSON.parse((await cluster.run(['ls', '/ls', '--json'])).out) as { name: string; type: string }[]
    expect(json.map((e) => [e.name, e.type])).to.deep.equal([['link', 'symlink'], ['m', 'directory'], ['z', 'directory']])
    const longJson = JSON.parse((await cluster.run(['ls', '-l', '--json', '/ls'])).out) as { name: string; target?: string; nlink: number }[]
    expect(longJson[0]).to.include({ name: 'link', target: '../somewhere' })
    expect(longJson[1]!.nlink).to.equal(2)
    expect(await names('/ls/link')).to.deep.equal(['/ls/link'])
  })

  it('stat shows one path; --json carries the attributes', async () => {
    await cluster.run(['mkdir', '/st'])
    const text = await cluster.run(['stat', '/st'])
    expect(text.code, text.err).to.equal(0)
    expect(text.out).to.match(/Type: directory {2}Inode: \d+ {2}Links: 2/)
    expect(text.out).to.contain('Mode: 0755 (drwxr-xr-x)')
    const json = JSON.parse((await cluster.run(['stat', '--json', '/st'])).out) as Record<string, unknown>
    expect(json).to.include({ path: '/st', type: 'directory', perms: '0755', nlink: 2 })
    expect(json.mtime).to.have.keys('sec', 'nsec')
    const missing = await cluster.run(['stat', '/nope'])
    expect(missing.code).to.equal(1)
    expect(missing.err).to.equal(`tessera stat: /nope: no entry "nope" [ENOENT]\n`)
  })

  it('ln makes hard links (nlink grows) and symlinks; a hard link to a directory is refused', async () => {
    await cluster.run(['mkdir', '/ln'])
    await cluster.run(['ln', '-s', 'target-text', '/ln/s'])
    const hard = await cluster.run(['ln', '--json', '/ln/s', '/ln/h'])
    expect(hard.code, hard.err).to.equal(0)
    expect(JSON.parse(hard.out)).to.include({ path: '/ln/h', type: 'symlink', nlink: 2 })
    const dir = await cluster.run(['ln', '/ln', '/ln2'])
    expect(dir.code).to.equal(1)
    expect(dir.err).to.match(/\[EPERM\]/)
  })

  it('mv renames, moves into an existing directory, and refuses to clobber with -n', async () => {
    await cluster.run(['mkdir', '-p', '/mv/src', '/mv/into', '/mv/other'])
    expect((await cluster.run(['mv', '/mv/src', '/mv/renamed'])).code).to.equal(0)
    expect((await cluster.run(['mv', '/mv/renamed', '/mv/into'])).code).to.equal(0)
    expect(await names('/mv/into')).to.deep.equal(['renamed'])
    const moved = await cluster.run(['mv', '/mv/into/renamed', '/mv/other/renamed'])
    expect(moved.code, moved.err).to.equal(0)
    await cluster.run(['mkdir', '/mv/other/x'])
    await cluster.run(['ln', '-s', 't', '/mv/l1'])
    await cluster.run(['ln', '-s', 't', '/mv/l2'])
    const clobber = await cluster.run(['mv', '-n', '/mv/l1', '/mv/l2'])
    expect(clobber.code).to.equal(1)
    expect(clobber.err).to.contain('[EEXIST]')
    expect((await cluster.run(['mv', '/mv/l1', '/mv/l2'])).code).to.equal(0)
    expect(await names('/mv')).to.deep.equal(['into', 'l2', 'other'])
    const loop = await cluster.run(['mv', '/mv', '/mv/other/x/inside'])
    expect(loop.code).to.equal(1)
    expect(loop.err).to.contain('[EINVAL]')
  })

  it('rm removes files; a directory needs -r; -f ignores missing paths', async () => {
    await cluster.run(['mkdir', '-p', '/rm/t/a/b', '/rm/t/c'])
    await cluster.run(['ln', '-s', 'x', '/rm/t/a/b/link'])
    await cluster.run(['ln', '-s', 'x', '/rm/file'])
    expect((await cluster.run(['rm', '/rm/file'])).code).to.equal(0)
    const dir = await cluster.run(['rm', '/rm/t'])
    expect(dir.code).to.equal(1)
    expect(dir.err).to.equal('tessera rm: /rm/t: is a directory (use -r) [EISDIR]\n')
    expect((await cluster.run(['rm', '-r', '/rm/t'])).code).to.equal(0)
    expect(await names('/rm')).to.deep.equal([])
    expect((await cluster.run(['rm', '/rm/none'])).code).to.equal(1)
    expect((await cluster.run(['rm', '-f', '/rm/none'])).code).to.equal(0)
  })

  it('needs absolute paths and the right number of arguments (usage errors exit 2)', async () => {
    for (const argv of [['ls', 'relative'], ['mv', '/a'], ['ln', '-s', 'x'], ['stat'], ['mkdir']]) {
      const r = await cluster.run(argv)
      expect(r.code, argv.join(' ')).to.equal(2)
      expect(r.err.trim().split('\n'), argv.join(' ')).to.have.length(1)
    }
  })

  it('has --help on every namespace and admin command', async () => {
    for (const name of ['ls', 'stat', 'mkdir', 'rm', 'mv', 'ln', 'members', 'snapshot', 'lock']) {
      const r = await cluster.run([name, '--help'])
      expect(r.code, name).to.equal(0)
      expect(r.out, name).to.contain(`tessera ${name}`)
    }
  })
})
