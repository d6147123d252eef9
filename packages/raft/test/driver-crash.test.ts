import { expect } from 'chai'
import { Prng, checkKvHistory, parseSeed, randomSeed } from '@tessera/sim'
import { KvClient } from './support/kv-client.js'
import { ProcessCluster } from './support/process-cluster.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('RaftNode: kill -9 recovery (three member processes)', function () {
  this.timeout(60_000)
  let cluster: ProcessCluster | undefined
  const clients: KvClient[] = []

  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined)
    await cluster?.close()
  })

  it('keeps every acknowledged write, on every member, linearizably, through SIGKILLs of leaders and followers', async () => {
    const seed = (process.env.SEED === undefined ? undefined : parseSeed(process.env.SEED)) ?? randomSeed()
    const prng = new Prng(seed)
    const replay = `SEED=${seed} npx mocha --no-config packages/raft/dist/test/driver-crash.test.js`
    cluster = await ProcessCluster.start(['m1', 'm2', 'm3'], { tickMs: 20, electionTicks: 10, snapshotEntries: 200 })
    const addresses = Object.values(cluster.addresses())
    const t0 = performance.now()
    const now = (): number => performance.now() - t0
    const writer = new KvClient({ name: 'writer', secret: cluster.secret, addresses, now })
    const mixer = new KvClient({ name: 'mixer', secret: cluster.secret, addresses, now })
    clients.push(writer, mixer)

    let running = true
    const acked = new Map<string, string>()
    const writing = (async () => {
      for (let i = 0; running; i++) {
        const key = `w${i}`
        if (await writer.put(key, `value-${i}`)) acked.set(key, `value-${i}`)
      }
    })()
    const mixing = (async () => {
      for (let i = 0; running; i++) {
        const key = `hot${i % 3}`
        if (i % 2 === 0) await mixer.put(key, `m${i}`)
        else await mixer.get(key)
      }
    })()

    const kills: string[] = []
    try {
      await cluster.waitForLeader()
      // Leader, follower, leader, follower: each killed at a random moment, then restarted
      // from its directory (the restart overlaps the next pause; one member is down at a time).
      let restarting: Promise<void> = Promise.resolve()
      for (let round = 0; round < 4; round++) {
        await sleep(150 + prng.int(0, 300))
        await restarting
        const leader = await cluster.waitForLeader()
        const victim = round % 2 === 0 ? leader : cluster.ids().find((id) => id !== leader && cluster!.isAlive(id))!
        kills.push(`${victim}${victim === leader ? ' (leader)' : ''}`)
        await cluster.kill(victim)
        await sleep(50 + prng.int(0, 250))
        restarting = cluster.restart(victim)
      }
      await restarting
      await sleep(300)
    } finally {
      running = false
      await Promise.all([writing, mixing])
    }

    // Every member converges on the same state, which holds every acknowledged write.
    let dumps: Awaited<ReturnType<KvClient['dump']>>[] = []
    const deadline = Date.now() + 15_000
    for (;;) {
      dumps = await Promise.all(addresses.map((a) => writer.dump(a).catch(() => ({ applied: -1, pairs: [] }))))
      const same = dumps.every((d) => d.applied === dumps[0]!.applied && d.applied > 0)
      if (same || Date.now() > deadline) break
      await sleep(50)
    }
    const context = `seed ${seed}, kills: ${kills.join(', ')}; replay: ${replay}`
    expect(dumps.map((d) => d.applied), context).to.satisfy((applied: number[]) => applied.every((a) => a === applied[0] && a > 0))
    expect(acked.size, context).to.be.greaterThan(20)
    for (const [i, dump] of dumps.entries()) {
      const state = new Map(dump.pairs.map((p) => [p.key, p.value]))
      for (const [key, value] of acked) expect(state.get(key), `${addresses[i]} ${key}; ${context}`).to.equal(value)
      expect(dump.pairs, context).to.deep.equal(dumps[0]!.pairs)
    }
    const history = [...writer.history, ...mixer.history]
    expect(mixer.history.filter((e) => e.op === 'get' && e.ok === true).length, context).to.be.greaterThan(5)
    const verdict = checkKvHistory(history)
    expect(verdict.ok, `${JSON.stringify(verdict).slice(0, 2000)}; ${context}`).to.equal(true)
  })
})
