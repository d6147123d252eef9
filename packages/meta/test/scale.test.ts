import { expect } from 'chai'
import { Harness, key, ok, ROOT, ROOT_INO } from './harness.js'

describe('fsm: scale', function () {
  this.timeout(30_000)

  it('100,000 single-block files in 100 directories: every one found, counted and listed', () => {
    const h = new Harness()
    const dirs: number[] = []
    for (let d = 0; d < 100; d++) dirs.push(h.mkdir(ROOT_INO, `d${d}`))
    const inos: number[] = []
    for (let i = 0; i < 100_000; i++) {
      const ino = h.create(dirs[i % 100]!, `f${i}`)
      ok(h.call({ op: 'commitFile', cred: ROOT, ino, blocks: [{ key: key(i), len: 4096, used: 4096 }], size: 4096, mtime: h.now }))
      inos.push(ino)
    }
    expect(ok(h.read({ op: 'statfs' }))).to.deep.equal({
      inodes: 100_101, files: 100_000, dirs: 101, symlinks: 0, bytes: 409_600_000, blocks: 100_000, blockBytes: 409_600_000,
    })
    for (let i = 0; i < 100_000; i += 997) {
      expect(ok(h.lookup(dirs[i % 100]!, `f${i}`)).attr.ino).to.equal(inos[i])
      expect(ok(h.read({ op: 'getBlocks', cred: ROOT, ino: inos[i]! })).blocks[0]!.key).to.equal(key(i))
    }
    expect(h.names(dirs[7]!).length).to.equal(1000)
  })

  it('pages through a 50,000-entry directory with a name cursor, in order, while it changes', () => {
    const h = new Harness()
    const big = h.mkdir(ROOT_INO, 'big')
    const names: string[] = []
    for (let i = 0; i < 50_000; i++) {
      const name = `entry-${i.toString().padStart(6, '0')}`
      h.create(big, name)
      names.push(name)
    }
    const seen: string[] = []
    let after: string | undefined
    let pages = 0
    for (;;) {
      const page = ok(h.read({ op: 'readdir', cred: ROOT, ino: big, after, limit: 1000 }))
      seen.push(...page.entries.map((e) => e.name))
      pages++
      if (!page.more) break
      after = page.entries.at(-1)!.name
      if (pages === 10) {
        // behind the cursor: never listed again; ahead of it: listed once, removed ones not at all
        h.create(big, 'aaa-behind')
        h.create(big, 'zzz-ahead')
        ok(h.call({ op: 'unlink', cred: ROOT, parent: big, name: 'entry-049999' }))
        ok(h.call({ op: 'unlink', cred: ROOT, parent: big, name: after })) // the cursor itself
      }
    }
    expect(pages).to.equal(50) // the last page is exactly full and says no more
    expect(seen.length).to.equal(50_000)
    expect(seen).to.deep.equal([...names.slice(0, 49_999), 'zzz-ahead'])
  })
})
