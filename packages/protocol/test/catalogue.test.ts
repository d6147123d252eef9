/**
 * Every request and notification kind of every catalogue goes through the codec and comes back
 * through its schema unchanged. A method added without a sample here fails the coverage check.
 */
import { expect } from 'chai'
import {
  FrameTag, LIMITS, MAX_READDIR_LIMIT, chunkCatalogue, clusterCatalogue, decodeFrame, encodeFrame, metaCatalogue,
  protocolCatalogue, signBlockToken, type Attr, type Catalogue,
} from '../src/index.js'

const cred = { uid: 1000, gid: 1000, groups: [1000, 27] }
const time = { sec: 1_764_000_000, nsec: 123_456_789 }
const key = '0123456789abcdef-4194304'
const token = signBlockToken(Buffer.alloc(32, 7), { key, op: 'write', expiresAtMs: 1_900_000_000_000 })
const block = { key: '0123456789abcdef', len: 4_194_304 }
const salted = { key: 'fedcba9876543210s3', len: 100 }

const samples: Record<string, unknown[]> = {
  ping: [{ seq: 7 }],
  'meta.openSession': [{}],
  'meta.keepAlive': [{ session: 'session-1' }],
  'meta.closeSession': [{ session: 'session-1' }],
  'meta.exec': [
    { session: 's', seq: 1, req: { op: 'mkdir', cred, parent: 1, name: 'a', mode: 0o40755 } },
    { session: 's', seq: 2, req: { op: 'create', cred, parent: 1, name: 'f', mode: 0o100644, exclusive: true } },
    { session: 's', seq: 3, req: { op: 'mknod', cred, parent: 1, name: 'n', mode: 0o100600 } },
    { session: 's', seq: 4, req: { op: 'unlink', cred, parent: 1, name: 'f' } },
    { session: 's', seq: 5, req: { op: 'rmdir', cred, parent: 1, name: 'a' } },
    { session: 's', seq: 6, req: { op: 'rename', cred, parent: 1, name: 'a', newParent: 2, newName: 'b', flags: 1 } },
    { session: 's', seq: 7, req: { op: 'link', cred, ino: 5, newParent: 1, newName: 'l' } },
    { session: 's', seq: 8, req: { op: 'symlink', cred, parent: 1, name: 's', target: '../x' } },
    { session: 's', seq: 9, req: { op: 'setattr', cred, ino: 5, mode: 0o644, size: 10, mtime: time } },
    { session: 's', seq: 10, req: { op: 'setxattr', cred, ino: 5, name: 'user.k', value: Buffer.from('v'), flags: 0 } },
    { session: 's', seq: 11, req: { op: 'removexattr', cred, ino: 5, name: 'user.k' } },
    { session: 's', seq: 12, req: { op: 'commitFile', cred, ino: 5, blocks: [{ ...block, used: 4_194_304 }, { ...salted, used: 50 }], size: 4_194_354, mtime: time } },
    {
      session: 's', seq: 13, req: {
        op: 'commitFile', cred, ino: 5, blocks: [{ ...block, used: 4_194_304 }, { ...salted, used: 50 }], size: 4_194_354, mtime: time,
        written: [{ ref: block, servers: ['127.0.0.1:7201', '[::1]:7202'] }, { ref: salted, servers: [] }],
      },
    },
  ],
  'meta.query': [
    { query: { op: 'lookup', cred, parent: 1, name: 'a' } },
    { query: { op: 'getattr', ino: 1 }, stale: true },
    { query: { op: 'readdir', cred, ino: 1, after: 'm', limit: 100 } },
    { query: { op: 'readdir', cred, ino: 1, limit: 4096, plus: true } },
    { query: { op: 'readlink', ino: 9 } },
    { query: { op: 'getxattr', cred, ino: 5, name: 'user.k', size: 0 } },
    { query: { op: 'listxattr', cred, ino: 5, size: 4096 } },
    { query: { op: 'statfs' } },
    { query: { op: 'getBlocks', cred, ino: 5 } },
  ],
  'meta.lock': [{ session: 's', seq: 3, ino: 5, mode: 'exclusive', wait: true, holdMs: 5000 }],
  'meta.unlock': [{ session: 's', seq: 4, ino: 5 }],
  'meta.status': [{}],
  'meta.members': [{ op: 'add', id: 'm4', address: '127.0.0.1:7104' }, { op: 'remove', id: 'm2' }],
  'meta.transferLeader': [{ to: 'm2' }],
  'meta.snapshot': [{}],
  'chunk.register': [{ id: 'c1', address: '127.0.0.1:7201', zone: 'a', capacityBytes: 1e12, usedBytes: 5, blocks: [key] }],
  'chunk.heartbeat': [{ id: 'c1', usedBytes: 10, capacityBytes: 1e12, blockCount: 3, load: 0 }],
  'chunk.blockReport': [{ id: 'c1', blocks: [key, '0123456789abcdef-10-s2'], replace: true }],
  'chunk.blocksGone': [{ id: 'c1', blocks: [key] }],
  'meta.placeBlock': [{ key, length: 4_194_304, exclude: ['127.0.0.1:7202'] }, { key, length: 1 }],
  'meta.locateBlock': [{ ref: block }, { ref: salted }],
  'meta.reportBadCopy': [{ ref: block, server: '127.0.0.1:7201' }],
  'meta.blocksWritten': [{ blocks: [{ ref: salted, servers: ['127.0.0.1:7201', '127.0.0.1:7202'] }] }],
  'meta.blockLocations': [{ refs: [block, salted] }],
  'meta.chunkServers': [{}],
  'meta.dataConfig': [{}],
  'block.write': [{ key, length: 4_194_304, token, chain: ['127.0.0.1:7202', '127.0.0.1:7203'], minCopies: 2 }],
  'block.read': [{ key, offset: 65_536, length: 4096, token }],
  'block.delete': [{ key, token }],
  'block.stat': [{ key, token }],
  'chunk.info': [{}],
}

const catalogues: Record<string, Catalogue> = { protocolCatalogue, metaCatalogue, clusterCatalogue, chunkCatalogue }

describe('protocol/catalogues: every method through the codec and its schema', () => {
  for (const [name, catalogue] of Object.entries(catalogues)) {
    it(`${name}: every method has samples that round-trip`, () => {
      for (const [method, spec] of Object.entries(catalogue.methods)) {
        const bodies = samples[method]
        expect(bodies, `no sample request for ${method}: add one here`).to.be.an('array').that.is.not.empty
        bodies!.forEach((body, i) => {
          const frame = decodeFrame(encodeFrame([FrameTag.Request, 100 + i, method, body]))
          expect(frame[0]).to.equal(FrameTag.Request)
          const parsed = spec.request.parse(frame[3], `${method}.request`)
          expect(parsed, `${method} sample ${i}`).to.deep.equal(body)
        })
      }
    })
  }

  it('refuses a request that breaks its schema with a PROTOCOL error naming the field', () => {
    const spec = metaCatalogue.methods['meta.exec']
    const bad = { session: 's', seq: 1, req: { op: 'mkdir', cred, parent: 1, name: 42, mode: 0o755 } }
    const frame = decodeFrame(encodeFrame([FrameTag.Request, 1, 'meta.exec', bad]))
    expect(() => spec.request.parse(frame[3], 'meta.exec.request')).to.throw(/meta\.exec\.request\.req/)
    const wrongKey = { ref: { key: 'XYZ', len: 1 } }
    expect(() => clusterCatalogue.methods['meta.locateBlock'].request.parse(wrongKey, 'r')).to.throw(/r\.ref\.key/)
  })

  it('a full readdir plus page (longest names, largest attributes) round-trips and fits one frame', () => {
    const big = 2 ** 53 - 1
    const far = { sec: big, nsec: 999_999_999 }
    const attrOf = (ino: number): Attr => ({
      ino, mode: 0o100644, nlink: 0xffff_ffff, uid: 0xffff_ffff, gid: 0xffff_ffff, size: big,
      atime: far, mtime: far, ctime: far, generation: big,
    })
    const entries = Array.from({ length: MAX_READDIR_LIMIT }, (_, i) => {
      const ino = big - i
      return { name: `${i}-`.padEnd(LIMITS.maxNameBytes, 'x'), ino, type: 0o100000, attr: attrOf(ino), xattrs: false }
    })
    const reply = { op: 'readdir', reply: { entries, parent: big, more: true } }
    const encoded = encodeFrame([FrameTag.Response, 1, reply])
    expect(encoded.byteLength).to.be.below(LIMITS.maxFrameBytes)
    const frame = decodeFrame(encoded)
    expect(metaCatalogue.methods['meta.query'].response.parse(frame[2], 'reply')).to.deep.equal(reply)
  })

  it('refuses a readdir entry whose attributes break the Attr schema', () => {
    const reply = { op: 'readdir', reply: { entries: [{ name: 'a', ino: 2, type: 0o100000, attr: { ino: 2 } }], parent: 1, more: false } }
    expect(() => metaCatalogue.methods['meta.query'].response.parse(reply, 'reply')).to.throw(/reply\.reply\.entries/)
  })
})
