/**
 * A chunk server killed (SIGKILL) in the middle of a put, through real processes (`tessera up`,
 * 3 meta members, 4 MiB blocks, RF 3). The put, done by FileStore in a child process from a
 * seeded stream, must end either committed, with every block holding 3 copies or at least
 * minCopies and recorded as under-replicated, and the file read back byte-identical (stream digest,
 * streamed) with the victim dead; or with a clear error and no new contents committed. Never a
 * committed file with a block that cannot be read.
 *   3 chunk servers, minCopies 2: the put commits (2 live servers are enough);
 *   4 chunk servers, minCopies 2: the put commits;
 *   3 chunk servers, minCopies 3: too few servers are left, so the put fails with a clear error.
 */
import { expect } from 'chai'
import {
  DataClientError, isDaemonAlive, runDataClient, startDataCluster, type DataCluster, type LocalDaemon,
} from '../bench/lib/data-cluster.js'
import { seededDigest } from '../bench/lib/data-stream.js'

const MIB = 1024 * 1024
const BYTES = 64 * MIB + 999
const KILL_AT = 12 * MIB

interface StatBlock {
  key: string
  copies: { id: string }[]
  underReplicated: boolean
}

async function blocksOf(cluster: DataCluster, path: string): Promise<{ size: number; blocks: StatBlock[] }> {
  const stat = await cluster.tessera(['stat', '--json', path])
  expect(stat.code, stat.err).to.equal(0)
  return JSON.parse(stat.out) as { size: number; blocks: StatBlock[] }
}

const CASES = [
  { chunks: 3, minCopies: 2, commits: true },
  { chunks: 4, minCopies: 2, commits: true },
  { chunks: 3, minCopies: 3, commits: false },
]

for (const { chunks, minCopies, commits } of CASES) {
  describe(`data: a chunk server killed during a put (${chunks} chunk servers, minCopies ${minCopies})`, function () {
    this.timeout(120_000)
    let cluster: DataCluster | undefined

    after(async () => {
      await cluster?.stop()
    })

    it(commits ? 'commits readable blocks with enough copies' : 'fails with a clear error and commits nothing', async () => {
      cluster = await startDataCluster({ metas: 3, chunks, minCopies })
      const c = cluster
      const victim: LocalDaemon = (await c.daemons()).chunks[1]!
      const seed = `data-kill-${chunks}-${minCopies}`
      let killedAt = -1
      let outcome: { committed: true; blocks: number; underReplicated: number } | { committed: false; error: DataClientError }
      try {
        const result = await runDataClient({
          addresses: c.addresses, secretHex: c.secretHex, path: '/victim.bin', seed, bytes: BYTES, mode: 'put', notifyAtBytes: KILL_AT,
        }, {
          timeoutMs: 90_000,
          onProgress: (bytes) => {
            killedAt = bytes
            process.kill(victim.pid, 'SIGKILL')
          },
        })
        outcome = { committed: true, blocks: result.put!.blocks, underReplicated: result.put!.underReplicated }
      } catch (err) {
        if (!(err instanceof DataClientError)) throw err
        outcome = { committed: false, error: err }
      }
      expect(killedAt, 'the victim was killed while the put was reading its source').to.be.at.least(KILL_AT)
      for (let i = 0; i < 50 && (await isDaemonAlive(victim.pid, victim.dataDir)); i++) await new Promise((r) => setTimeout(r, 100))
      expect(await isDaemonAlive(victim.pid, victim.dataDir), 'the victim is dead').to.equal(false)

      expect(outcome.committed, outcome.committed ? 'the put committed' : `the put failed: ${outcome.error.message}`).to.equal(commits)
      const { size, blocks } = await blocksOf(c, '/victim.bin')
      if (!outcome.committed) {
        // A clear, typed error, and the file holds nothing of the failed put.
        expect(outcome.error.code, outcome.error.message).to.be.oneOf(['UNAVAILABLE', 'EAGAIN'])
        expect(outcome.error.message).to.match(/copies|chunk server/)
        expect(size).to.equal(0)
        expect(blocks).to.have.length(0)
        return
      }
      expect(size).to.equal(BYTES)
      expect(blocks).to.have.length(outcome.blocks)
      let flagged = 0
      for (const block of blocks) {
        const ids = new Set(block.copies.map((copy) => copy.id))
        if (block.underReplicated) flagged++
        if (ids.size < 3) expect(block.underReplicated, `${block.key} has ${ids.size} copies and is not recorded as under-replicated`).to.equal(true)
        expect(ids.size, `copies of ${block.key}`).to.be.at.least(minCopies)
        // A copy on the victim was durable before it died, so such a block may have one live copy fewer.
        const live = [...ids].filter((id) => id !== victim.id)
        expect(live.length, `live copies of ${block.key}`).to.be.at.least(ids.has(victim.id) ? minCopies - 1 : minCopies)
      }
      expect(flagged).to.equal(outcome.underReplicated)

      // Read back with the victim still dead: every block is served from a surviving copy.
      const back = await runDataClient({
        addresses: c.addresses, secretHex: c.secretHex, path: '/victim.bin', seed, bytes: BYTES, mode: 'get',
      }, { timeoutMs: 90_000 })
      expect(back.get!.bytes).to.equal(BYTES)
      expect(back.get!.digest, 'the file read back differs from what was put').to.equal(await seededDigest(seed, BYTES))
    })
  })
}
