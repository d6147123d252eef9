/**
 * What the Vfs costs meta per file: one write per close at most (commitFile carrying where its
 * new blocks landed), none when nothing changed, and a block's places recorded ahead of the
 * commit only when the block must be read back before it. Over a real one-member meta service
 * and an InMemoryDataPath that, like a cluster, reads a block only once meta knows its places.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { BlockCopies, Credentials, MetaRequest } from '@tessera/protocol'
import { OpenFlag, Vfs, type MetaClient } from '../src/index.js'
import { InMemoryDataPath } from './support/in-memory-data-path.js'
import { SingleMeta } from './support/meta-cluster.js'

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] }
const BLOCK = 64 * 1024
const RW = OpenFlag.O_RDWR
const SERVER = '127.0.0.1:7001'

/** The client's namespace changes, in order; a commit's copies become readable once it succeeds. */
function recordExecs(client: MetaClient, data: InMemoryDataPath): MetaRequest[] {
  const execs: MetaRequest[] = []
  const exec = client.exec.bind(client)
  client.exec = (async (req: MetaRequest) => {
    execs.push(req)
    const reply = await exec(req)
    if (req.op === 'commitFile') for (const c of req.written ?? []) data.placed.add(`${c.ref.key}-${c.ref.len}`)
    return reply
  }) as MetaClient['exec']
  return execs
}

const ids = (copies: readonly BlockCopies[] | undefined): string[] => (copies ?? []).map((c) => `${c.ref.key}-${c.ref.len}`).sort()

describe('Vfs commits: meta writes per file', function () {
  let meta: SingleMeta
  let client: MetaClient
  let data: InMemoryDataPath
  let execs: MetaRequest[]
  let counter = 0
  const fresh = (): string => `/c${++counter}`
  const ops = (): string[] => execs.map((r) => r.op)

  before(async () => {
    meta = await SingleMeta.start()
  })
  after(async () => {
    await meta.stop()
  })
  let tellMeta: (written: readonly BlockCopies[]) => Promise<void>

  before(async () => {
    tellMeta = await meta.standInChunkServer(SERVER)
  })
  beforeEach(() => {
    client = meta.client()
    data = new InMemoryDataPath(BLOCK, SERVER)
    data.tellMeta = tellMeta
    execs = recordExecs(client, data)
  })

  it('create of an empty file and its close cost one meta write; open and close without writes cost none', async () => {
    const vfs = new Vfs(client, data)
    const path = fresh()
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    await vfs.flush(fh)
    await vfs.release(fh)
    expect(ops()).to.deep.equal(['create'])
    const again = await vfs.open(ROOT, path, RW)
    expect((await vfs.read(again, 0, 10)).length).to.equal(0)
    await vfs.flush(again)
    await vfs.fsync(again)
    await vfs.release(again)
    expect(ops()).to.deep.equal(['create'])
  })

  it('a small file written and closed costs create plus one commit that carries its block\'s copies', async () => {
    const vfs = new Vfs(client, data)
    const fh = await vfs.create(ROOT, fresh(), 0o644, RW)
    await vfs.write(fh, 0, Buffer.from('small file\n'))
    await vfs.flush(fh) // close(2) flushes, then the kernel releases
    await vfs.release(fh)
    expect(ops()).to.deep.equal(['create', 'commitFile'])
    const commit = execs[1] as Extract<MetaRequest, { op: 'commitFile' }>
    expect(commit.written).to.deep.equal([{ ref: { key: commit.blocks[0]!.key, len: 11 }, servers: [SERVER] }])
    expect(data.recordCalls).to.equal(0)
    const reader = new Vfs(client, data)
    const rh = await reader.open(ROOT, `/c${counter}`, OpenFlag.O_RDONLY)
    expect((await reader.read(rh, 0, 100)).toString()).to.equal('small file\n')
    await reader.release(rh)
  })

  it('records blocks written back early before reading them, and the commit carries only the rest', async () => {
    const vfs = new Vfs(client, data, { maxDirtyBytes: BLOCK })
    const bytes = randomBytes(3 * BLOCK + 100)
    const fh = await vfs.create(ROOT, fresh(), 0o644, RW)
    for (let at = 0; at < bytes.length; at += 8192) await vfs.write(fh, at, bytes.subarray(at, at + 8192))
    expect(data.blocksWritten).to.be.at.least(2) // whole blocks written back under memory pressure
    expect(data.recordCalls).to.equal(0)
    expect(Buffer.compare(await vfs.read(fh, 0, bytes.length), bytes)).to.equal(0)
    expect(data.recordCalls).to.equal(1)
    const early = ids(data.recorded)
    await vfs.release(fh)
    const commit = execs.find((r) => r.op === 'commitFile') as Extract<MetaRequest, { op: 'commitFile' }>
    expect(ops().filter((op) => op === 'commitFile')).to.have.length(1)
    const all = [...new Set(commit.blocks.map((b) => `${b.key}-${b.len}`))].sort()
    expect([...early, ...ids(commit.written)].sort()).to.deep.equal(all)
    expect(early.filter((id) => ids(commit.written).includes(id))).to.deep.equal([])
  })

  it('does not tell meta of blocks replaced before the commit', async () => {
    const vfs = new Vfs(client, data, { maxDirtyBytes: BLOCK })
    const fh = await vfs.create(ROOT, fresh(), 0o644, RW)
    const first = randomBytes(2 * BLOCK)
    for (let at = 0; at < first.length; at += 8192) await vfs.write(fh, at, first.subarray(at, at + 8192))
    const replaced = randomBytes(BLOCK)
    await vfs.write(fh, 0, replaced) // the whole first block again
    await vfs.release(fh)
    const commit = execs.find((r) => r.op === 'commitFile') as Extract<MetaRequest, { op: 'commitFile' }>
    const named = commit.blocks.map((b) => `${b.key}-${b.len}`).sort()
    expect(ids(commit.written)).to.deep.equal(named)
    expect(data.blocksWritten).to.equal(3)
    const rh = await vfs.open(ROOT, `/c${counter}`, OpenFlag.O_RDONLY)
    expect(Buffer.compare(await vfs.read(rh, 0, 2 * BLOCK), Buffer.concat([replaced, first.subarray(BLOCK)]))).to.equal(0)
    await vfs.release(rh)
  })

  it('random writes, flushes and reads match a model when meta must know every block before it is read', async () => {
    const vfs = new Vfs(client, data, { maxDirtyBytes: 2 * BLOCK })
    const path = fresh()
    const model = randomBytes(5 * BLOCK)
    const fh = await vfs.create(ROOT, path, 0o644, RW)
    await vfs.write(fh, 0, model)
    let seed = 11
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    for (let i = 0; i < 40; i++) {
      const len = 1 + rand(BLOCK + BLOCK / 2)
      const at = rand(model.length - len)
      const chunk = randomBytes(len)
      await vfs.write(fh, at, chunk)
      chunk.copy(model, at)
      if (i % 9 === 0) await vfs.flush(fh)
      const probe = rand(model.length - 1000)
      expect(Buffer.compare(await vfs.read(fh, probe, 1000), model.subarray(probe, probe + 1000))).to.equal(0)
    }
    await vfs.release(fh)
    const reader = new Vfs(client, data)
    const rh = await reader.open(ROOT, path, OpenFlag.O_RDONLY)
    expect(Buffer.compare(await reader.read(rh, 0, model.length), model)).to.equal(0)
    await reader.release(rh)
  })
})
