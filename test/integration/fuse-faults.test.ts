/**
 * A Tessera mount over a real cluster while a chunk server dies: writes and reads go on through
 * the other copies (BlockWriter re-places a chain that lost a server; BlockReader reads another
 * replica). The writer is a child process; this process only uses async calls on the mount.
 */
import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mountAt } from './support/local-cluster.js'
import { readLocalJson, startTestMount, type TestMount } from './support/test-mount.js'

/** Writes argv[2] to argv[1] 1 MiB at a time, fsync after each, printing the MiB done. */
const FSYNC_WRITER = `
import { open, readFile } from 'node:fs/promises'
const [path, source] = [process.argv[1], process.argv[2]]
const bytes = await readFile(source)
const fh = await open(path, 'w')
for (let at = 0, n = 1; at < bytes.length; at += 1 << 20, n++) {
  await fh.write(bytes, at, Math.min(1 << 20, bytes.length - at), at)
  await fh.sync()
  process.stdout.write(n + '\\n')
}
await fh.close()
process.stdout.write('DONE\\n')
`

describe('FUSE mount: a chunk server killed during a write', function () {
  this.timeout(120_000)
  let mount: TestMount | undefined

  after(async () => {
    await mount?.stop()
  })

  it('kill -9 of one chunk server mid-write: the write and a later read succeed', async () => {
    mount = await startTestMount({ name: 'tessera-fuse-faults' })
    const bytes = randomBytes(16 * 1024 * 1024 + 12_345)
    const source = join(mount.scratch, 'source.bin')
    await writeFile(source, bytes)
    const victim = (await readLocalJson(mount.clusterDir)).chunks[0]!
    const cmdline = await readFile(`/proc/${victim.pid}/cmdline`, 'utf8')
    expect(cmdline).to.include(mount.clusterDir) // the pid is our chunk server

    const writer = spawn(process.execPath, ['--input-type=module', '-e', FSYNC_WRITER, join(mount.mountpoint, 'f.bin'), source], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let killed = false
    writer.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString() })
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => writer.kill('SIGKILL'), 100_000)
      writer.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (!killed && out.split('\n').includes('4')) {
          killed = true
          process.kill(victim.pid, 'SIGKILL')
        }
      })
      writer.once('exit', (exitCode) => {
        clearTimeout(timer)
        resolve(exitCode)
      })
    })
    expect(killed, 'the chunk server was killed during the write').to.equal(true)
    expect(err).to.equal('')
    expect(code).to.equal(0)
    expect(out).to.include('DONE')
    // Read through a second mount, so the bytes come from the chunk servers, not this kernel's cache.
    const other = await mount.mountAgain()
    const back = await readFile(join(other, 'f.bin'))
    expect(createHash('sha256').update(back).digest('hex')).to.equal(createHash('sha256').update(bytes).digest('hex'))
  })

  it('tessera down unmounts the mount up --mount made, then stops the daemons', async () => {
    expect(mount, 'the mount of the first test').to.not.equal(undefined)
    const pid = (await readLocalJson(mount!.clusterDir)).mount?.pid
    expect(pid).to.be.a('number')
    expect(await mountAt(mount!.mountpoint)).to.include('tessera')
    const down = await mount!.tessera(['down', '--dir', mount!.clusterDir], 60_000)
    expect(down.code, down.stderr).to.equal(0)
    expect(down.stdout).to.include(`unmounted ${mount!.mountpoint}`)
    expect(await mountAt(mount!.mountpoint)).to.equal('')
    expect(await mount!.serverExits(5000)).to.equal(true)
    expect((await readLocalJson(mount!.clusterDir)).mount).to.equal(undefined)
  })
})
