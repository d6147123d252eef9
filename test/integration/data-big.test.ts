/**
 * A big file through real processes: `tessera up` with 3 meta members and 3 chunk servers
 * (4 MiB blocks, RF 3), a seeded stream of TESSERA_BIG_MIB MiB (default 256; set 1024 for the
 * issue's 1 GiB) put and got back by FileStore in a child process, compared by a streaming digest
 * on both sides (the file is never held in memory), every block with 3 distinct copies.
 */
import { expect } from 'chai'
import { startDataCluster, runDataClient, type DataCluster } from '../bench/lib/data-cluster.js'
import { seededDigest } from '../bench/lib/data-stream.js'

const MIB = 1024 * 1024
const BIG_MIB = Number(process.env.TESSERA_BIG_MIB ?? 256)

describe(`data: a ${BIG_MIB} MiB file through 3 meta + 3 chunk processes`, function () {
  this.timeout(Math.max(120_000, BIG_MIB * 400))
  let cluster: DataCluster | undefined

  after(async () => {
    await cluster?.stop()
  })

  it('comes back byte-identical, every block with 3 copies', async () => {
    cluster = await startDataCluster({ metas: 3, chunks: 3 })
    const bytes = BIG_MIB * MIB + 4321 // a partial last block too
    const result = await runDataClient({
      addresses: cluster.addresses, secretHex: cluster.secretHex, path: '/big.bin', seed: 'data-big', bytes, mode: 'both',
    })
    const expected = await seededDigest('data-big', bytes)
    expect(result.put!.bytes).to.equal(bytes)
    expect(result.put!.digest, 'the put read the seeded stream').to.equal(expected)
    expect(result.put!.blocks).to.equal(Math.ceil(bytes / (4 * MIB)))
    expect(result.put!.underReplicated).to.equal(0)
    expect(result.get!.bytes).to.equal(bytes)
    expect(result.get!.digest, 'the bytes got back differ from the bytes put').to.equal(expected)

    const stat = await cluster.tessera(['stat', '--json', '/big.bin'])
    expect(stat.code, stat.err).to.equal(0)
    const parsed = JSON.parse(stat.out) as { size: number; blocks: { key: string; copies: { id: string }[] }[] }
    expect(parsed.blocks).to.have.length(result.put!.blocks)
    for (const block of parsed.blocks) expect(new Set(block.copies.map((c) => c.id)).size, `copies of ${block.key}`).to.equal(3)
  })
})
