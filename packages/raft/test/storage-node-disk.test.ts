import { expect } from 'chai'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { diskContractTests, type DiskLike } from '@tessera/sim'
import { NodeDisk } from '../src/storage/node-disk.js'

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (err) {
    return (err as { code?: string }).code
  }
  throw new Error('expected a rejection')
}

describe('NodeDisk', () => {
  describe('Disk contract', () => {
    diskContractTests(async () => new NodeDisk(await mkdtemp(join(tmpdir(), 'tessera-nodedisk-'))), {
      cleanup: async (disk: DiskLike) => rm((disk as NodeDisk).root, { recursive: true, force: true }),
    })
  })

  describe('paths and errors', () => {
    let root: string
    let disk: NodeDisk

    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'tessera-nodedisk-'))
      disk = new NodeDisk(root)
    })

    afterEach(async () => {
      await rm(root, { recursive: true, force: true })
    })

    it('refuses paths that leave the root, with EINVAL', async () => {
      for (const bad of ['../escape', 'a/../../escape', '/etc/passwd', 'a\0b', 'a\\b']) {
        expect(await codeOf(disk.open(bad, 'create')), bad).to.equal('EINVAL')
      }
    })

    it("keeps Node's error codes", async () => {
      expect(await codeOf(disk.open('missing', 'read'))).to.equal('ENOENT')
      await writeFile(join(root, 'file'), 'x')
      expect(await codeOf(disk.syncDir('file'))).to.equal('ENOTDIR')
      expect(await codeOf(disk.syncDir('nodir'))).to.equal('ENOENT')
    })

    it('reads whole ranges and short reads at the end of a file', async () => {
      await disk.mkdirp('d/e')
      const file = await disk.open('d/e/f', 'create')
      const data = new Uint8Array(300_000).map((_, i) => i % 251)
      await file.write(10, data)
      await file.sync()
      expect(await file.size()).to.equal(300_010)
      expect(Buffer.from(await file.read(10, 300_000)).equals(Buffer.from(data))).to.equal(true)
      expect((await file.read(300_000, 100)).length).to.equal(10)
      expect((await file.read(0, 10)).every((b) => b === 0)).to.equal(true)
      await file.close()
      await disk.syncDir('d/e')
      expect(await disk.list('d')).to.deep.equal(['e'])
    })
  })
})
