/**
 * The caller side of the chunk benchmark, in its own process: writes `totalBytes` of random data
 * as blocks of `blockBytes` to the first address with the others as its chain, `inFlight` blocks
 * at a time, acting as meta for the tokens. Reports MB/s over IPC and exits.
 *
 * Input (env TESSERA_BENCH_WRITER, JSON): { addresses, secretHex, totalBytes, blockBytes, inFlight }.
 * Output (IPC): { mbPerSecond, blocks, seconds, cpuMs } or { error }; cpuMs is this process's CPU
 * time (user + system) while writing.
 */
import { randomFillSync } from 'node:crypto'
import { RpcClient, chunkServerCatalogue, signBlockToken } from '@tessera/protocol'
import { blockKeyWith, loadHasher } from '../../src/index.js'

interface Input { addresses: string[]; secretHex: string; totalBytes: number; blockBytes: number; inFlight: number }

const PIECE_BYTES = 1024 * 1024

async function main(): Promise<Record<string, unknown>> {
  const input = JSON.parse(process.env.TESSERA_BENCH_WRITER ?? '{}') as Input
  const secret = Buffer.from(input.secretHex, 'hex')
  const [head, ...chain] = input.addresses
  if (head === undefined) throw new Error('no addresses')
  const hasher = await loadHasher()
  const count = Math.ceil(input.totalBytes / input.blockBytes)
  // Random, distinct blocks, made and keyed before the clock starts.
  const blocks = Array.from({ length: count }, () => {
    const bytes = randomFillSync(Buffer.allocUnsafe(input.blockBytes))
    return { bytes, key: blockKeyWith(hasher, bytes) }
  })
  const client = new RpcClient({ url: `ws://${head}`, catalogue: chunkServerCatalogue, secret, clientId: 'bench-writer', defaultTimeoutMs: 60_000 })
  try {
    await client.ready()
    let next = 0
    const cpu = process.cpuUsage()
    const started = performance.now()
    await Promise.all(Array.from({ length: input.inFlight }, async () => {
      while (next < blocks.length) {
        const { bytes, key } = blocks[next++]!
        const token = signBlockToken(secret, { key, op: 'write', expiresAtMs: Date.now() + 60_000, clientId: 'bench-writer' })
        const call = await client.open('block.write', { key, length: bytes.byteLength, token, chain, minCopies: input.addresses.length })
        for (let at = 0; at < bytes.byteLength; at += PIECE_BYTES) await call.writer.write(bytes.subarray(at, at + PIECE_BYTES))
        await call.writer.end()
        const answer = await call.response
        if (answer.stored !== input.addresses.length) throw new Error(`block ${key}: ${answer.stored} copies: ${JSON.stringify(answer.copies)}`)
      }
    }))
    const seconds = (performance.now() - started) / 1000
    const used = process.cpuUsage(cpu)
    return { mbPerSecond: (count * input.blockBytes) / (1024 * 1024) / seconds, blocks: count, seconds, cpuMs: (used.user + used.system) / 1000 }
  } finally {
    await client.close()
  }
}

function report(message: Record<string, unknown>): void {
  process.send?.(message, () => process.disconnect?.())
}

main().then(report, (err: unknown) => {
  process.exitCode = 1
  report({ error: err instanceof Error ? err.message : String(err) })
})
