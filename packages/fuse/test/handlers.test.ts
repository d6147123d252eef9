/**
 * The handlers over a real Vfs (a one-member meta service on 127.0.0.1, in-memory blocks), called
 * as @tessera/fuse-native calls them: each with its caller last. No kernel mount here; the FUSE
 * integration tests (test/integration/fuse-*.test.ts) run the same paths through the kernel.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MetaClient, OpenFlag, Vfs, type DataPath } from '@tessera/client'
import { MetaService } from '@tessera/meta'
import type Fuse from '@tessera/fuse-native'
import { callerCredentials, makeHandlers, timeChange } from '../src/handlers.js'

const IN_MEMORY_DATA_PATH = new URL('../../../client/dist/test/support/in-memory-data-path.js', import.meta.url).href

const ROOT: Fuse.Caller = { uid: 0, gid: 0, pid: 1, groups: [] }
const NOBODY: Fuse.Caller = { uid: 65534, gid: 65534, pid: 2, groups: [] }

type Ops = Required<Fuse.Operations>

/** Calls a handler that answers (code) or (code, value) and returns [code, value]. */
function call<T>(invoke: (cb: (code: number, value?: T) => void) => void): Promise<[number, T | undefined]> {
  return new Promise((resolve) => invoke((code, value) => resolve([code, value])))
}

describe('fuse handlers over a Vfs', function () {
  this.timeout(20_000)
  let dir: string
  let service: MetaService
  let meta: MetaClient
  let vfs: Vfs
  let ops: Ops

  before(async () => {
    const { InMemoryDataPath } = (await import(IN_MEMORY_DATA_PATH)) as { InMemoryDataPath: new (blockSize: number) => DataPath }
    dir = await mkdtemp(join(tmpdir(), 'tessera-fuse-handlers-'))
    const secret = randomBytes(32)
    service = await MetaService.listen({
      id: 'm1', dataDir: join(dir, 'm1'), secret, port: 0, raft: { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 },
    })
    await service.start({ peers: { m1: service.address } })
    meta = new MetaClient({ addresses: [service.address], secret, deadlineMs: 10_000 })
    await meta.getattr(1) // waits for the election
    vfs = new Vfs(meta, new InMemoryDataPath(64 * 1024), { attrTtlMs: 0, entryTtlMs: 0 })
    ops = makeHandlers({ vfs, capacityBytes: 2 ** 30 }) as Ops
  })

  after(async () => {
    await vfs?.close()
    await meta?.close()
    await service?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('maps a caller to credentials and utimens times to Vfs time changes', () => {
    expect(callerCredentials({ uid: 7, gid: 8, pid: 9, groups: [10, 11] })).to.deep.equal({ uid: 7, gid: 8, groups: [10, 11] })
    expect(timeChange('now')).to.equal('now')
    expect(timeChange('omit')).to.equal('omit')
    expect(timeChange(981_173_106_789)).to.deep.equal({ sec: 981_173_106, nsec: 789_000_000 })
    expect(timeChange(-1500)).to.deep.equal({ sec: -2, nsec: 500_000_000 }) // 1969-12-31T23:59:58.5Z
  })

  it('checks each call with its caller: another uid is refused in a 0755 root directory, creates in a 0777 one', async () => {
    expect((await call<void>((cb) => ops.mkdir('/locked', 0o755, cb, ROOT)))[0]).to.equal(0)
    expect((await call<void>((cb) => ops.mkdir('/open', 0o777, cb, ROOT)))[0]).to.equal(0)
    const rw = OpenFlag.O_RDWR | OpenFlag.O_CREAT
    expect((await call<number>((cb) => ops.create('/locked/f', 0o644, rw, cb, NOBODY)))[0]).to.equal(-13)
    expect((await call<void>((cb) => ops.mkdir('/locked/d', 0o755, cb, NOBODY)))[0]).to.equal(-13)
    const [code, fh] = await call<number>((cb) => ops.create('/open/f', 0o644, rw, cb, NOBODY))
    expect(code).to.equal(0)
    expect((await call<void>((cb) => ops.release('/open/f', fh!, cb, NOBODY)))[0]).to.equal(0)
    const [, stat] = await call<Fuse.Stat>((cb) => ops.getattr('/open/f', cb, NOBODY))
    expect([stat!.uid, stat!.gid]).to.deep.equal([65534, 65534])
    // The owner, not root's credentials, decides: nobody may not chmod root's directory.
    expect((await call<void>((cb) => ops.chmod('/locked', 0o777, cb, NOBODY)))[0]).to.equal(-1)
  })

  it('create passes the open flags: O_EXCL on an existing name is EEXIST, O_TRUNC empties, O_RDONLY refuses writes', async () => {
    const rw = OpenFlag.O_RDWR | OpenFlag.O_CREAT
    const [, fh] = await call<number>((cb) => ops.create('/x', 0o644, rw, cb, ROOT))
    expect(await call<void>((cb) => ops.write('/x', fh!, Buffer.from('hello'), 5, 0, cb, ROOT))).to.deep.equal([5, undefined])
    expect((await call<void>((cb) => ops.release('/x', fh!, cb, ROOT)))[0]).to.equal(0)
    expect((await call<number>((cb) => ops.create('/x', 0o644, rw | OpenFlag.O_EXCL, cb, ROOT)))[0]).to.equal(-17)
    const [, readOnly] = await call<number>((cb) => ops.create('/x', 0o644, OpenFlag.O_RDONLY | OpenFlag.O_CREAT, cb, ROOT))
    expect((await call<void>((cb) => ops.write('/x', readOnly!, Buffer.from('no'), 2, 0, cb, ROOT)))[0]).to.equal(-9)
    await call<void>((cb) => ops.release('/x', readOnly!, cb, ROOT))
    expect((await call<Fuse.Stat>((cb) => ops.getattr('/x', cb, ROOT)))[1]!.size).to.equal(5)
    const [, truncating] = await call<number>((cb) => ops.create('/x', 0o644, rw | OpenFlag.O_TRUNC, cb, ROOT))
    await call<void>((cb) => ops.release('/x', truncating!, cb, ROOT))
    expect((await call<Fuse.Stat>((cb) => ops.getattr('/x', cb, ROOT)))[1]!.size).to.equal(0)
  })

  it('utimens sets atime and mtime independently; omit keeps one', async () => {
    const [, fh] = await call<number>((cb) => ops.create('/t', 0o644, OpenFlag.O_RDWR | OpenFlag.O_CREAT, cb, ROOT))
    await call<void>((cb) => ops.release('/t', fh!, cb, ROOT))
    expect((await call<void>((cb) => ops.utimens('/t', 1_000_000_000_000, 981_173_106_000, cb, ROOT)))[0]).to.equal(0)
    let stat = (await call<Fuse.Stat>((cb) => ops.getattr('/t', cb, ROOT)))[1]!
    expect([stat.atime, stat.mtime]).to.deep.equal([1_000_000_000_000, 981_173_106_000])
    expect((await call<void>((cb) => ops.utimens('/t', 'omit', 1_234_567_890_123, cb, ROOT)))[0]).to.equal(0)
    stat = (await call<Fuse.Stat>((cb) => ops.getattr('/t', cb, ROOT)))[1]!
    expect([stat.atime, stat.mtime]).to.deep.equal([1_000_000_000_000, 1_234_567_890_123])
  })
})
