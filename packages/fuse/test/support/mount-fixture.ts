/**
 * A child process for the FUSE tests (a process must never make synchronous fs calls on a mount
 * it serves itself): starts a one-member meta service on 127.0.0.1 and mounts a Vfs over it and
 * the in-memory DataPath at argv[2]. Prints "READY <pid>" once mounted; on SIGTERM or SIGINT it
 * unmounts, stops meta and exits 0; when someone else unmounts the directory (umount,
 * fusermount -u) it prints "UNMOUNTED", stops meta and exits 0 too. --allow-other mounts with
 * allow_other (other users' calls reach meta with their own credentials).
 *
 *   node packages/fuse/dist/test/support/mount-fixture.js [--allow-other] MOUNTPOINT [BLOCK_SIZE]
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MetaClient, Vfs, type DataPath } from '@tessera/client'
import { MetaService } from '@tessera/meta'
import { mountVfs } from '../../src/index.js'

/** The client package's test DataPath (not exported from @tessera/client: tests only). */
const IN_MEMORY_DATA_PATH = new URL('../../../../client/dist/test/support/in-memory-data-path.js', import.meta.url).href

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const allowOther = args[0] === '--allow-other'
  if (allowOther) args.shift()
  const mountpoint = args[0]
  const blockSize = Number(args[1] ?? 256 * 1024)
  if (mountpoint === undefined || !Number.isInteger(blockSize) || blockSize < 4096) {
    process.stderr.write('usage: mount-fixture [--allow-other] MOUNTPOINT [BLOCK_SIZE]\n')
    process.exit(2)
  }
  const { InMemoryDataPath } = (await import(IN_MEMORY_DATA_PATH)) as { InMemoryDataPath: new (blockSize: number) => DataPath }
  const dir = await mkdtemp(join(tmpdir(), 'tessera-fuse-fixture-'))
  const secret = randomBytes(32)
  const service = await MetaService.listen({
    id: 'm1', dataDir: join(dir, 'm1'), secret, port: 0, raft: { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 },
  })
  await service.start({ peers: { m1: service.address } })
  const meta = new MetaClient({ addresses: [service.address], secret, deadlineMs: 10_000 })
  await meta.getattr(1) // waits for the election
  const vfs = new Vfs(meta, new InMemoryDataPath(blockSize))
  const mount = await mountVfs(vfs, mountpoint, { allowOther })
  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await mount.unmount().catch((err: unknown) => process.stderr.write(`unmount: ${String(err)}\n`))
    await meta.close()
    await service.stop()
    await rm(dir, { recursive: true, force: true })
    process.exit(0)
  }
  void mount.closed.then(() => {
    if (stopping) return
    process.stdout.write('UNMOUNTED\n')
    void stop()
  })
  process.on('SIGTERM', () => void stop())
  process.on('SIGINT', () => void stop())
  process.stdout.write(`READY ${process.pid}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`mount-fixture: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
