/**
 * MetaClient against scripted fake meta servers (real RpcServers on 127.0.0.1 speaking the meta
 * catalogue), so that leader changes, lost replies and expired sessions happen exactly when the
 * test says.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import {
  ROOT_INO, RpcServer, TesseraError, metaCatalogue, type Handlers, type MetaCall, type MetaCatalogue,
} from '@tessera/protocol'
import { MetaClient, splitPath } from '../src/index.js'

const SECRET = randomBytes(32)
const ATTR = {
  ino: 7, mode: 0o040755, nlink: 2, uid: 0, gid: 0, size: 0,
  atime: { sec: 1, nsec: 0 }, mtime: { sec: 1, nsec: 0 }, ctime: { sec: 1, nsec: 0 }, generation: 1,
}

interface LockCall { session: string; seq: number; ino: number; mode: 'shared' | 'exclusive'; wait: boolean; holdMs?: number }

type ExecBehaviour = (call: MetaCall, server: FakeMeta) => Promise<unknown> | unknown

/** A meta member whose answers the test scripts. */
class FakeMeta {
  server!: RpcServer<MetaCatalogue>
  address = ''
  readonly execs: MetaCall[] = []
  opened = 0
  inflight = 0
  maxInflight = 0
  exec: ExecBehaviour = (call) => ({ op: call.req.op, reply: { attr: ATTR } })
  leaderHint: string | undefined
  leader = true
  readonly lockCalls: LockCall[] = []
  readonly closed: string[] = []
  readonly unlockCalls: { session: string; seq: number; ino: number }[] = []
  lock: (call: LockCall, server: FakeMeta) => Promise<{ granted: boolean; lockId: number }> | { granted: boolean; lockId: number } =
    (call) => ({ granted: true, lockId: 100 + call.seq })

  static async start(): Promise<FakeMeta> {
    const fake = new FakeMeta()
    const handlers: Handlers<MetaCatalogue> = {
      'meta.openSession': () => {
        fake.checkLeader()
        fake.opened++
        return { session: `s${fake.opened}-${fake.address}`, timeoutMs: 60_000 }
      },
      'meta.keepAlive': () => ({}),
      'meta.closeSession': ({ session }) => {
        fake.closed.push(session)
        return {}
      },
      'meta.exec': async (call) => {
        fake.execs.push(call)
        fake.inflight++
        fake.maxInflight = Math.max(fake.maxInflight, fake.inflight)
        try {
          fake.checkLeader()
          return (await fake.exec(call, fake)) as never
        } finally {
          fake.inflight--
        }
      },
      'meta.query': ({ query }) => {
        fake.checkLeader()
        return { op: query.op, reply: { attr: ATTR } } as never
      },
      'meta.status': () => {
        throw new TesseraError('ENOSYS', 'not scripted')
      },
      'meta.members': () => ({ members: [] }),
      'meta.transferLeader': () => ({}),
      'meta.snapshot': () => ({ index: 1 }),
      'meta.lock': async (call) => {
        fake.checkLeader()
        fake.lockCalls.push(call)
        return fake.lock(call, fake)
      },
      'meta.unlock': (call) => {
        fake.checkLeader()
        fake.unlockCalls.push(call)
        return {}
      },
    }
    fake.server = await RpcServer.listen({ catalogue: metaCatalogue, handlers, secret: SECRET, serverId: 'fake', host: '127.0.0.1', port: 0 })
    const { port } = fake.server.address()
    fake.address = `127.0.0.1:${port}`
    return fake
  }

  checkLeader(): void {
    if (this.leader) return
    throw new TesseraError('NOT_LEADER', 'not the leader', this.leaderHint === undefined ? undefined : { leaderHint: this.leaderHint })
  }
}

async function rejection(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError)
    return err as TesseraError
  }
  expect.fail('expected a rejection')
}

describe('MetaClient', () => {
  let fakes: FakeMeta[] = []
  let clients: MetaClient[] = []

  async function fakesOf(n: number): Promise<FakeMeta[]> {
    for (let i = 0; i < n; i++) fakes.push(await FakeMeta.start())
    return fakes
  }

  function client(addresses: string[], options: Partial<ConstructorParameters<typeof MetaClient>[0]> = {}): MetaClient {
    const c = new MetaClient({ addresses, secret: SECRET, deadlineMs: 3000, cred: { uid: 0, gid: 0, groups: [] }, ...options })
    clients.push(c)
    return c
  }

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await Promise.all(fakes.map((f) => f.server.close()))
    clients = []
    fakes = []
  })

  it('follows a NOT_LEADER hint to the leader', async () => {
    const [follower, leader] = await fakesOf(2)
    follower!.leader = false
    follower!.leaderHint = leader!.address
    const attr = await client([follower!.address]).mkdir(ROOT_INO, 'a')
    expect(attr.ino).to.equal(ATTR.ino)
    expect(follower!.execs).to.have.length(0) // the session was opened on the leader already
    expect(leader!.execs).to.have.length(1)
  })

  it('retries a change with the same session and seq after a lost reply, on another member', async () => {
    const [first, second] = await fakesOf(2)
    first!.exec = (call, server) => {
      // Applied, then leadership moves and the reply is lost.
      server.leader = false
      server.leaderHint = second!.address
      throw new TesseraError('UNAVAILABLE', `lost the reply to seq ${call.seq}`)
    }
    const c = client([first!.address, second!.address])
    await c.mkdir(ROOT_INO, 'once')
    expect(first!.execs).to.have.length(1)
    expect(second!.execs).to.have.length(1)
    expect(second!.execs[0]!.session).to.equal(first!.execs[0]!.session)
    expect(second!.execs[0]!.seq).to.equal(first!.execs[0]!.seq)
    // The next change in that session uses the next seq.
    await c.mkdir(ROOT_INO, 'twice')
    expect(second!.execs[1]!.seq).to.equal(first!.execs[0]!.seq + 1)
  })

  it('opens a new session when the leader says SESSION_EXPIRED, and starts again at seq 1', async () => {
    const [leader] = await fakesOf(1)
    let expired = false
    leader!.exec = (call) => {
      if (!expired) {
        expired = true
        throw new TesseraError('SESSION_EXPIRED', 'gone')
      }
      return { op: call.req.op, reply: {} }
    }
    await client([leader!.address]).unlink(ROOT_INO, 'x')
    expect(leader!.execs.map((e) => e.seq)).to.deep.equal([1, 1])
    expect(leader!.execs[1]!.session).to.not.equal(leader!.execs[0]!.session)
    expect(leader!.opened).to.equal(2)
  })

  it('throws the change\'s own error at once, with its code', async () => {
    const [leader] = await fakesOf(1)
    leader!.exec = () => {
      throw new TesseraError('EEXIST', '"a" exists')
    }
    const err = await rejection(client([leader!.address]).mkdir(ROOT_INO, 'a'))
    expect(err.code).to.equal('EEXIST')
    expect(leader!.execs).to.have.length(1)
  })

  it('gives up after the deadline with the last error when no member leads', async () => {
    const [a, b] = await fakesOf(2)
    a!.leader = false
    b!.leader = false
    const started = Date.now()
    const err = await rejection(client([a!.address, b!.address], { deadlineMs: 400 }).query({ op: 'getattr', ino: 1 }))
    expect(err.code).to.equal('NOT_LEADER')
    expect(Date.now() - started).to.be.within(350, 2000)
  })

  it('stops retrying once the client is closed, instead of running to its deadline', async () => {
    const [follower] = await fakesOf(1)
    follower!.leader = false
    const c = client([follower!.address], { deadlineMs: 10_000 })
    const started = Date.now()
    const pending = rejection(c.query({ op: 'getattr', ino: 1 }))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await c.close()
    const err = await pending
    expect(err.code).to.equal('UNAVAILABLE')
    expect(Date.now() - started).to.be.below(2000)
  })

  it('runs as many changes at once as it has sessions', async () => {
    const [leader] = await fakesOf(1)
    leader!.exec = async (call) => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      return { op: call.req.op, reply: {} }
    }
    const c = client([leader!.address], { sessions: 3 })
    await Promise.all(Array.from({ length: 12 }, (_, i) => c.rmdir(ROOT_INO, `d${i}`)))
    expect(leader!.maxInflight).to.equal(3)
    expect(leader!.opened).to.equal(3)
    expect(new Set(leader!.execs.map((e) => `${e.session}/${e.seq}`)).size).to.equal(12)
  })

  it('refuses a reply for another operation', async () => {
    const [leader] = await fakesOf(1)
    leader!.exec = () => ({ op: 'rmdir', reply: {} })
    const err = await rejection(client([leader!.address]).mkdir(ROOT_INO, 'a'))
    expect(err.code).to.equal('PROTOCOL')
  })

  it('lock: repeats the same (session, seq) until granted, then unlocks and closes its own session', async () => {
    const [a] = await fakesOf(1)
    let answers = 0
    a!.lock = (call) => ({ granted: ++answers >= 3, lockId: 42 + call.seq * 0 })
    const handle = await client([a!.address]).lockInode(7, 'shared')
    expect(handle.lockId).to.equal(42)
    expect(a!.lockCalls).to.have.length(3)
    const first = a!.lockCalls[0]!
    expect(first).to.include({ seq: 1, ino: 7, mode: 'shared', wait: true })
    expect(first.holdMs).to.be.within(1, 5000)
    expect(a!.lockCalls.every((c) => c.session === first.session && c.seq === 1)).to.equal(true)
    await handle.release()
    expect(a!.unlockCalls).to.deep.equal([{ session: first.session, seq: 2, ino: 7 }])
    expect(a!.closed).to.deep.equal([first.session])
    await handle.release() // idempotent
    expect(a!.unlockCalls).to.have.length(1)
  })

  it('lock: a busy lock without wait fails with EAGAIN and leaves no session behind; timeoutMs gives up', async () => {
    const [a] = await fakesOf(1)
    a!.lock = (call) => {
      if (!call.wait) throw new TesseraError('EAGAIN', 'locked')
      return { granted: false, lockId: 5 }
    }
    const c = client([a!.address])
    expect((await rejection(c.lockInode(7, 'exclusive', { wait: false }))).code).to.equal('EAGAIN')
    expect(a!.closed).to.have.length(1)
    const started = Date.now()
    expect((await rejection(c.lockInode(7, 'exclusive', { timeoutMs: 300 }))).code).to.equal('ETIMEDOUT')
    expect(Date.now() - started).to.be.below(3000)
    expect(a!.closed).to.have.length(2)
  })

  it('splits paths', () => {
    expect(splitPath('/')).to.deep.equal([])
    expect(splitPath('/a//b/./c/')).to.deep.equal(['a', 'b', 'c'])
    expect(() => splitPath('relative')).to.throw(TesseraError)
  })
})
