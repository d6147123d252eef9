/**
 * One chunk server in its own process, for the chunk benchmark (test/bench/chunk.ts): opens a
 * block store in a fresh temp directory, listens on 127.0.0.1:0, reports its address over IPC,
 * answers {cmd: 'metrics'} with its Prometheus text, and on disconnect closes everything and
 * removes the directory.
 *
 * Input (env TESSERA_BENCH_SERVER, JSON): { id, secretHex }.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockStore, ChunkServer } from '../../src/index.js'

interface Input { id: string; secretHex: string }

async function main(): Promise<void> {
  const input = JSON.parse(process.env.TESSERA_BENCH_SERVER ?? '{}') as Input
  const dir = await mkdtemp(join(tmpdir(), `tessera-bench-${input.id}-`))
  const store = await BlockStore.open(dir)
  const server = await ChunkServer.start({ id: input.id, secret: Buffer.from(input.secretHex, 'hex'), store })
  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await server.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
    process.exit(0)
  }
  process.on('disconnect', () => void stop())
  process.on('message', (message) => {
    if ((message as { cmd?: string }).cmd === 'metrics') process.send?.({ metrics: server.metricsText() })
  })
  process.send?.({ address: server.address })
}

main().catch((err: unknown) => {
  process.stderr.write(`bench chunk server failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
