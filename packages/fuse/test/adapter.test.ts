/** The adapter's pure parts: errno mapping, mount options, attribute conversion, mountpoint checks. */
import { expect } from 'chai'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TesseraError } from '@tessera/protocol'
import { checkMountpoint, fuseErrno, fuseNativeOptions, libfuseOptions } from '../src/index.js'
import { toStat, toStatfs } from '../src/stat.js'

describe('fuse adapter', () => {
  it('maps every failure to a negative errno in one place', () => {
    expect(fuseErrno(new TesseraError('ENOENT', 'x'))).to.equal(-2)
    expect(fuseErrno(new TesseraError('ENOTEMPTY', 'x'))).to.equal(-39)
    expect(fuseErrno(new TesseraError('ENODATA', 'x'))).to.equal(-61)
    expect(fuseErrno(new TesseraError('UNAVAILABLE', 'x'))).to.equal(-5)
    expect(fuseErrno(new TesseraError('NOT_LEADER', 'x'))).to.equal(-11)
    expect(fuseErrno(new Error('anything else'))).to.equal(-5)
  })

  it('puts big_writes and max_write into the one -o string and never times out', () => {
    const options = fuseNativeOptions({})
    expect(options.timeout).to.equal(false)
    expect(options.fsname).to.equal('tessera,big_writes,max_write=131072,use_ino,attr_timeout=1,entry_timeout=1')
    expect(libfuseOptions({ allowOther: true })).to.include('allow_other').and.not.include('default_permissions')
    expect(() => libfuseOptions({ maxWrite: 1 << 20 })).to.throw(RangeError)
  })

  it('converts attributes and statistics', () => {
    const stat = toStat({
      ino: 9, mode: 0o100644, nlink: 1, uid: 5, gid: 6, size: 1000,
      atime: { sec: 1, nsec: 500_000_000 }, mtime: { sec: 2, nsec: 0 }, ctime: { sec: 3, nsec: 999_999_999 }, generation: 1,
    })
    expect(stat).to.include({ ino: 9, mode: 0o100644, size: 1000, blocks: 2, atime: 1500, mtime: 2000, ctime: 3999 })
    const fs = toStatfs({ inodes: 10, files: 5, dirs: 4, symlinks: 1, bytes: 3 << 20, blocks: 3, blockBytes: 3 << 20 }, 2 ** 30)
    expect(fs).to.include({ bsize: 1 << 20, blocks: 1024, bfree: 1021, namemax: 255 })
  })

  it('refuses a missing, non-directory or non-empty mountpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-fuse-check-'))
    try {
      const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (err: TesseraError) => err.code)
      expect(await codeOf(checkMountpoint(join(dir, 'missing')))).to.equal('ENOENT')
      await writeFile(join(dir, 'file'), 'x')
      expect(await codeOf(checkMountpoint(join(dir, 'file')))).to.equal('ENOTDIR')
      expect(await codeOf(checkMountpoint(dir))).to.equal('ENOTEMPTY')
      expect(await codeOf(checkMountpoint('/proc'))).to.equal('EBUSY')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
