import { expect } from 'chai'
import { mkdtemp, readFile, rm, stat, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { main } from '../src/main.js'
import { readClusterConfig, readSecret } from '../src/cluster-files.js'

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough()
  const err = new PassThrough()
  const chunks = { out: '', err: '' }
  out.on('data', (d: Buffer) => (chunks.out += d.toString()))
  err.on('data', (d: Buffer) => (chunks.err += d.toString()))
  const code = await main(argv, { out, err, env: {} })
  return { code, ...chunks }
}

describe('cli', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-cli-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('prints an overview with --help and exits 0; with no command exits 2', async () => {
    const help = await run(['--help'])
    expect(help.code).to.equal(0)
    expect(help.out).to.contain('format')
    expect((await run([])).code).to.equal(2)
  })

  it('refuses an unknown command and an unknown flag with exit code 2 and one stderr line', async () => {
    const unknown = await run(['frobnicate'])
    expect(unknown.code).to.equal(2)
    expect(unknown.err.trim().split('\n')).to.have.length(1)
    const badFlag = await run(['format', '--dir', dir, '--bogus'])
    expect(badFlag.code).to.equal(2)
    expect(badFlag.err).to.match(/bogus/)
  })

  it('has --help on each command', async () => {
    const result = await run(['format', '--help'])
    expect(result.code).to.equal(0)
    expect(result.out).to.contain('--block-size')
  })

  it('formats a cluster with a private secret, and refuses to format it twice', async () => {
    const first = await run(['format', '--dir', dir, '--block-size', '1MiB', '--json'])
    expect(first.code, first.err).to.equal(0)
    const printed = JSON.parse(first.out)
    const config = await readClusterConfig(dir)
    expect(config).to.deep.equal(printed)
    expect(config.blockSize).to.equal(1024 * 1024)
    expect(config.replication).to.equal(3)
    expect((await stat(join(dir, 'secret'))).mode & 0o777).to.equal(0o600)
    expect((await readSecret(join(dir, 'secret'))).length).to.equal(32)
    const second = await run(['format', '--dir', dir])
    expect(second.code).to.equal(1)
    expect(second.err).to.contain('EEXIST')
    expect(JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')).clusterId).to.equal(config.clusterId)
  })

  it('rejects a bad block size and a world-readable secret', async () => {
    const bad = await run(['format', '--dir', dir, '--block-size', '1000'])
    expect(bad.code).to.equal(1)
    expect(bad.err).to.contain('EINVAL')
    await run(['format', '--dir', dir])
    await chmod(join(dir, 'secret'), 0o644)
    try {
      await readSecret(join(dir, 'secret'))
      expect.fail('a world-readable secret was accepted')
    } catch (err) {
      expect((err as { code: string }).code).to.equal('EACCES')
    }
  })
})
