import { expect } from 'chai'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { TesseraError } from '@tessera/protocol'
import { UsageError } from '../src/command.js'
import { Settings, configKeys, loadSettings, readConfigFile } from '../src/config-file.js'
import { main } from '../src/main.js'
import { chunkCommand } from '../src/commands/chunk.js'
import { metaCommand } from '../src/commands/meta.js'
import { mountCommand } from '../src/commands/mount.js'

/** deploy/systemd/examples, from packages/cli/dist/test. */
const EXAMPLES = new URL('../../../../deploy/systemd/examples/', import.meta.url)

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough()
  const err = new PassThrough()
  const chunks = { out: '', err: '' }
  out.on('data', (d: Buffer) => (chunks.out += d.toString()))
  err.on('data', (d: Buffer) => (chunks.err += d.toString()))
  const code = await main(argv, { out, err, env })
  return { code, ...chunks }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  expect.fail('expected a rejection')
}

const KEYS = configKeys({
  id: { type: 'string', description: '' },
  join: { type: 'boolean', description: '' },
  config: { type: 'string', description: '' },
}, { peers: 'any' })

describe('config files (--config FILE)', () => {
  let dir: string
  let file: string
  const writeConfig = (value: unknown): Promise<void> => writeFile(file, typeof value === 'string' ? value : JSON.stringify(value))

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-config-'))
    file = join(dir, 'c.json')
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  describe('the loader', () => {
    it('takes every flag but --config as a key, plus the extra keys', () => {
      expect(KEYS).to.deep.equal({ id: 'string', join: 'boolean', peers: 'any' })
    })

    it('refuses an unknown key with a UsageError naming the key and the file', async () => {
      await writeConfig({ id: 'm1', secretFile: '/x' })
      const error = await rejection(readConfigFile(file, KEYS))
      expect(error).to.be.instanceOf(UsageError)
      expect(error.message).to.contain("'secretFile'").and.to.contain(file)
      await writeConfig({ config: 'other.json' })
      expect((await rejection(readConfigFile(file, KEYS))).message).to.contain("unknown key 'config'")
    })

    it('refuses malformed JSON and a non-object with the file name', async () => {
      await writeConfig('{"id": "m1",')
      const malformed = await rejection(readConfigFile(file, KEYS))
      expect(malformed).to.be.instanceOf(UsageError)
      expect(malformed.message).to.contain(file).and.to.contain('not valid JSON')
      await writeConfig('["id"]')
      const array = await rejection(readConfigFile(file, KEYS))
      expect(array).to.be.instanceOf(UsageError)
      expect(array.message).to.contain(file)
    })

    it('checks each value against its flag type; a number is taken as text for a string flag', async () => {
      await writeConfig({ join: 'yes' })
      expect((await rejection(readConfigFile(file, KEYS))).message).to.contain("'join' must be true or false")
      await writeConfig({ id: ['m1'] })
      expect((await rejection(readConfigFile(file, KEYS))).message).to.contain("'id' must be a string")
      await writeConfig({ id: 7, join: true, peers: { m1: 'h:1' } })
      const values = await readConfigFile(file, KEYS)
      expect(values.get('id')).to.equal('7')
      expect(values.get('join')).to.equal(true)
      expect(values.get('peers')).to.deep.equal({ m1: 'h:1' })
    })

    it('reports a missing file as ENOENT with its path, and refuses a directory', async () => {
      const missing = await rejection(readConfigFile(join(dir, 'nope.json'), KEYS))
      expect(missing).to.be.instanceOf(TesseraError)
      expect((missing as TesseraError).code).to.equal('ENOENT')
      expect(missing.message).to.contain('nope.json')
      const directory = await rejection(readConfigFile(dir, KEYS))
      expect((directory as TesseraError).code).to.equal('EINVAL')
    })

    it('lets flags win over the file, and the file fill in what the flags leave out', async () => {
      await writeConfig({ id: 'from-file', join: true, peers: 'm1=h:1' })
      const settings = await loadSettings({ config: file, id: 'from-flag' }, KEYS)
      expect(settings.string('id')).to.equal('from-flag')
      expect(settings.boolean('join')).to.equal(true)
      expect(settings.value('peers')).to.equal('m1=h:1')
      expect(settings.asOptions()).to.deep.equal({ id: 'from-flag', join: true, peers: 'm1=h:1', config: file })
    })

    it('has typed getters that name the flag or the file key at fault', async () => {
      const flagsOnly = new Settings({ id: '' })
      expect(() => flagsOnly.string('id')).to.throw(UsageError, '--id must be a non-empty string')
      expect(() => flagsOnly.requireString('data')).to.throw(UsageError, '--data is required')
      expect(flagsOnly.boolean('join')).to.equal(false)
      await writeConfig({ id: '' })
      const fromFile = await loadSettings({ config: file }, KEYS)
      expect(() => fromFile.string('id')).to.throw(UsageError, `'id' in ${file}`)
    })
  })

  describe('the commands', () => {
    for (const name of ['meta', 'chunk', 'mount']) {
      it(`tessera ${name} --help mentions --config FILE`, async () => {
        const help = await run([name, '--help'])
        expect(help.code).to.equal(0)
        expect(help.out).to.contain('--config FILE')
        expect(help.out).to.match(/--config FILE is a JSON object/)
      })
    }

    it('accepts the deploy/systemd examples with each command\'s keys', async () => {
      const m1 = await readConfigFile(new URL('m1.json', EXAMPLES).pathname, configKeys(metaCommand.options, { peers: 'any' }))
      expect(m1.get('id')).to.equal('m1')
      const c1 = await readConfigFile(new URL('c1.json', EXAMPLES).pathname, configKeys(chunkCommand.options))
      expect(c1.get('id')).to.equal('c1')
      const mnt = await readConfigFile(new URL('mnt-tessera.json', EXAMPLES).pathname, configKeys(mountCommand.options))
      expect(mnt.get('cache-ms')).to.equal('1000')
    })

    it('meta, chunk and mount refuse an unknown key (exit 2, one line naming key and file)', async () => {
      await writeConfig({ 'block-size': '4MiB' })
      for (const name of ['meta', 'chunk', 'mount']) {
        const result = await run([name, '--config', file])
        expect(result.code, `${name}: ${result.err}`).to.equal(2)
        expect(result.err.trim().split('\n')).to.have.length(1)
        expect(result.err).to.contain("unknown key 'block-size'").and.to.contain(file)
      }
    })

    it('meta, chunk and mount refuse malformed JSON with the file name (exit 2)', async () => {
      await writeConfig('{ id: m1 }')
      for (const name of ['meta', 'chunk', 'mount']) {
        const result = await run([name, '--config', file])
        expect(result.code, `${name}: ${result.err}`).to.equal(2)
        expect(result.err).to.contain(file).and.to.contain('not valid JSON')
      }
    })

    it('meta: a flag wins over the file, and the file fills in the rest', async () => {
      // An empty id in the file would be refused; the flag's id replaces it, data comes from the
      // file, and the member stops at the first thing neither gives: its peers.
      await writeConfig({ id: '', data: join(dir, 'm1') })
      const result = await run(['meta', '--config', file, '--id', 'm1'])
      expect(result.code).to.equal(2)
      expect(result.err).to.contain('--peers is required')
    })

    it('chunk: a flag wins over the file', async () => {
      await writeConfig({ id: 'c1', data: join(dir, 'c1'), 'secret-file': join(dir, 'secret'), listen: 'not-an-address' })
      const flagWins = await run(['chunk', '--config', file, '--listen', '127.0.0.1:99999'])
      expect(flagWins.code).to.equal(2)
      expect(flagWins.err).to.contain("'127.0.0.1:99999' is not HOST:PORT")
      const fileUsed = await run(['chunk', '--config', file])
      expect(fileUsed.code).to.equal(2)
      expect(fileUsed.err).to.contain("'not-an-address' is not HOST:PORT")
    })

    it('mount: MOUNTPOINT may be a "mountpoint" key; the argument wins; file keys reach the cluster target', async () => {
      await writeConfig({ mountpoint: join(dir, 'from-file') })
      const fromFile = await run(['mount', '--config', file])
      expect(fromFile.code).to.equal(1)
      expect(fromFile.err).to.contain(`mountpoint ${join(dir, 'from-file')} does not exist`)
      const fromArgument = await run(['mount', '--config', file, join(dir, 'from-arg')])
      expect(fromArgument.err).to.contain(`mountpoint ${join(dir, 'from-arg')} does not exist`)

      const empty = join(dir, 'mnt')
      await mkdir(empty)
      const secret = join(dir, 'no-such-secret')
      await writeConfig({ mountpoint: empty, meta: '127.0.0.1:1', 'secret-file': secret })
      const target = await run(['mount', '--config', file], { TESSERA_SECRET_FILE: join(dir, 'env-secret') })
      expect(target.code).to.equal(1)
      expect(target.err).to.contain(secret)
    })
  })
})
