import { expect } from 'chai'
import { Namespace, type SnapshotWriter } from '../src/index.js'
import { pack, unpack } from '../src/fsm/codec.js'
import { code, Harness, key, ok, ROOT, ROOT_INO } from './harness.js'

function drain(writer: SnapshotWriter): Uint8Array[] {
  return [...writer]
}

function concat(chunks: Uint8Array[]): string {
  return chunks.map((c) => Buffer.from(c).toString('hex')).join('|')
}

/** A workload touching every table: dirs, files with blocks, links, symlinks, xattrs, sessions. */
function workload(h: Harness, n: number): void {
  const dirs = [ROOT_INO]
  for (let i = 0; i < n; i++) {
    const parent = dirs[i % dirs.length]!
    if (i % 7 === 0) dirs.push(h.mkdir(parent, `dir-${i}`))
    const f = h.create(parent, `file-${i}`, 0o640)
    ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [{ key: key(i % 50), len: 1000, used: 1000 }], size: 1500, mtime: h.now }))
    if (i % 5 === 0) ok(h.call({ op: 'setxattr', cred: ROOT, ino: f, name: `user.k${i}`, value: new Uint8Array([i & 255]), flags: 0 }))
    if (i % 11 === 0) ok(h.call({ op: 'link', cred: ROOT, ino: f, newParent: ROOT_INO, newName: `link-${i}` }))
    if (i % 13 === 0) ok(h.call({ op: 'symlink', cred: ROOT, parent, name: `sym-${i}`, target: `file-${i}` }))
    if (i % 17 === 0) ok(h.call({ op: 'unlink', cred: ROOT, parent, name: `file-${i}` }))
    if (i % 19 === 0) ok(h.call({ op: 'setattr', cred: ROOT, ino: f, size: 10 }))
  }
  ok(h.system({ op: 'openSession', session: 'second' }))
}

describe('fsm: snapshots', () => {
  it('two members applying the same commands produce byte-identical snapshots', () => {
    const a = new Harness()
    const b = new Harness()
    workload(a, 300)
    workload(b, 300)
    expect(concat(drain(a.ns.snapshot()))).to.equal(concat(drain(b.ns.snapshot())))
  })

  it('restore gives the same state: the same snapshot again, same answers, same statfs', () => {
    const h = new Harness()
    workload(h, 300)
    const chunks = drain(h.ns.snapshot())
    const restored = Namespace.restore(chunks)
    expect(concat(drain(restored.snapshot()))).to.equal(concat(chunks))
    expect(restored.appliedIndex).to.equal(h.ns.appliedIndex)
    expect(restored.read({ op: 'statfs' })).to.deep.equal(h.ns.read({ op: 'statfs' }))
    expect(restored.read({ op: 'readdir', cred: ROOT, ino: ROOT_INO, limit: 4096 }))
      .to.deep.equal(h.ns.read({ op: 'readdir', cred: ROOT, ino: ROOT_INO, limit: 4096 }))
    expect(restored.unreferencedBlocks(100)).to.deep.equal(h.ns.unreferencedBlocks(100))
    // and it keeps going identically, sessions included (a duplicate replays after restore)
    const twin = Harness.continuing(restored, h)
    const req = { op: 'mkdir', cred: ROOT, parent: ROOT_INO, name: 'after', mode: 0o755 } as const
    const r1 = h.call(req)
    const r2 = twin.call(req)
    expect(r2).to.deep.equal(r1)
    h.seq--
    expect(h.call(req)).to.deep.equal(r1)
  })

  it('the snapshot is the state when it started, whatever is applied while it is being written', () => {
    const h = new Harness()
    workload(h, 200)
    const expected = drain(h.ns.snapshot())
    const writer = h.ns.snapshot()
    const chunks: Uint8Array[] = []
    let step = 0
    for (const chunk of writer) {
      chunks.push(chunk)
      // mutate everything between chunks: new files, unlinks, renames, xattrs, truncates, sessions
      const f = h.create(ROOT_INO, `during-${step}`, 0o600)
      ok(h.call({ op: 'commitFile', cred: ROOT, ino: f, blocks: [{ key: key(1000 + step), len: 10, used: 10 }], size: 10, mtime: h.now }))
      ok(h.call({ op: 'setxattr', cred: ROOT, ino: f, name: 'user.x', value: new Uint8Array([1]), flags: 0 }))
      const victim = h.names(ROOT_INO).find((name) => name.startsWith('file-'))!
      ok(h.call({ op: 'unlink', cred: ROOT, parent: ROOT_INO, name: victim }))
      ok(h.call({ op: 'rename', cred: ROOT, parent: ROOT_INO, name: `during-${step}`, newParent: ROOT_INO, newName: `moved-${step}`, flags: 0 }))
      ok(h.call({ op: 'setattr', cred: ROOT, ino: ROOT_INO, mode: 0o700 + step }))
      ok(h.system({ op: 'openSession', session: `s-${step}` }))
      step++
    }
    expect(step).to.be.greaterThan(4)
    expect(concat(chunks)).to.equal(concat(expected))
    // and the live state did change
    expect(concat(drain(h.ns.snapshot()))).to.not.equal(concat(expected))
  })

  it('writes bounded chunks and can restore a large namespace', () => {
    const h = new Harness()
    const d = h.mkdir(ROOT_INO, 'big')
    for (let i = 0; i < 20_000; i++) h.create(d, `f${i}`)
    const chunks = drain(h.ns.snapshot())
    expect(chunks.length).to.be.greaterThan(4)
    for (const c of chunks) expect(c.byteLength).to.be.lessThan(1024 * 1024)
    const restored = Namespace.restore(chunks)
    expect(ok(restored.read({ op: 'statfs' })).files).to.equal(20_000)
  })

  it('refuses malformed snapshots with PROTOCOL', () => {
    const h = new Harness()
    workload(h, 30)
    const chunks = drain(h.ns.snapshot())
    const attempts: Uint8Array[][] = [
      [],
      chunks.slice(0, -1), // no end
      chunks.slice(1), // no header
      [chunks[0]!, chunks[0]!, ...chunks.slice(1)],
      [chunks[0]!, ...chunks.slice(1).reverse()],
      [...chunks.slice(0, -1), pack(['end', { sessions: 0, inodes: 0, entries: 0, unreferenced: 0 }])],
      [chunks[0]!, pack(['inodes', [[1, 0o40755, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 'not-a-number', null]]]), chunks.at(-1)!],
      [chunks[0]!, pack(['inodes', [[1, 0o40755, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, null]]]),
        pack(['entries', [[1, 'x', 99]]]), pack(['end', { sessions: 0, inodes: 1, entries: 1, unreferenced: 0 }])],
      [new Uint8Array([0xc1])],
    ]
    for (const attempt of attempts) {
      expect(() => Namespace.restore(attempt)).to.throw().with.property('code', 'PROTOCOL')
    }
  })

  it('rejected commands leave the namespace tables untouched', () => {
    const h = new Harness()
    workload(h, 50)
    const tablesOf = (chunks: Uint8Array[]) => chunks.map((c) => unpack(c, 'test') as [string, unknown])
      .filter(([section]) => section !== 'header' && section !== 'sessions')
    const before = tablesOf(drain(h.ns.snapshot()))
    // each fails after several checks passed
    expect(code(h.call({ op: 'rename', cred: ROOT, parent: ROOT_INO, name: 'dir-0', newParent: ROOT_INO, newName: 'file-2', flags: 0 }))).to.equal('ENOTDIR')
    expect(code(h.call({ op: 'rmdir', cred: ROOT, parent: ROOT_INO, name: 'dir-0' }))).to.equal('ENOTEMPTY')
    expect(code(h.call({ op: 'setattr', cred: ROOT, ino: ROOT_INO, mode: 0o700, atime: { sec: 1, nsec: 2e9 } }))).to.equal('EINVAL')
    expect(tablesOf(drain(h.ns.snapshot()))).to.deep.equal(before)
  })
})
