import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type Command, EXIT, UsageError, requireString, stringOption } from '../command.js'
import { CLUSTER_FILE, DEFAULT_BLOCK_SIZE, SECRET_FILE, exists, formatCluster, readSecret } from '../cluster-files.js'
import { planChunks, runningChunks, waitForChunks } from '../local/chunk-servers.js'
import { readLocalState, writeLocalState, type LocalDaemon, type LocalState } from '../local/local-state.js'
import { planMetas, runningMetas, tail, waitForLeader } from '../local/meta-members.js'
import { mountRunning, startMount } from '../local/mount-process.js'
import { spawnDaemon, stopProcess } from '../local/processes.js'

const READY_TIMEOUT_MS = 30_000

export const upCommand: Command = {
  name: 'up',
  summary: 'Start a local cluster on loopback in the background',
  usage: 'tessera up --dir DIR [--metas N] [--chunks N] [--mount MNT] [--gc-grace-ms MS] [--json]',
  details:
    'Formats DIR if it holds no cluster, starts N meta members (default 3) and N chunk servers\n' +
    '(default 3; data in DIR/chunk/<id>) as background processes on free loopback ports (logs in\n' +
    'DIR/logs/, pids and addresses in DIR/local.json), and returns once a leader answers and every\n' +
    'chunk server has registered. On a running cluster it says so; after `tessera down` it\n' +
    'restarts the same daemons on the same data. With --mount MNT it then mounts the namespace at\n' +
    'MNT (an existing, empty directory) with `tessera mount --background` (log in DIR/logs/mount.log,\n' +
    'pid in DIR/local.json). Stop it all with `tessera down --dir DIR` (which unmounts first).',
  options: {
    dir: { type: 'string', value: 'DIR', description: 'the local cluster\'s directory' },
    metas: { type: 'string', value: 'N', description: 'meta members of a new cluster (default 3)' },
    chunks: { type: 'string', value: 'N', description: 'chunk servers (default 3; more are added to a cluster with fewer)' },
    mount: { type: 'string', value: 'MNT', description: 'also mount the namespace at MNT once the cluster is ready' },
    'gc-grace-ms': { type: 'string', value: 'MS', description: 'meta members of a new cluster delete blocks unreferenced this long (tessera meta --gc-grace-ms)' },
    json: { type: 'boolean', description: 'print {metas: [{id, address, pid}], chunks: [...], mount?: {mountpoint, pid}} as JSON' },
  },
  async run({ options, out, err }) {
    const dir = requireString(options, 'dir')
    const metasText = stringOption(options, 'metas')
    const count = metasText === undefined ? 3 : Number(metasText)
    if (!Number.isInteger(count) || count < 1 || count > 9) throw new UsageError('--metas must be between 1 and 9')
    const chunksText = stringOption(options, 'chunks')
    const chunkCount = chunksText === undefined ? 3 : Number(chunksText)
    if (!Number.isInteger(chunkCount) || chunkCount < 0 || chunkCount > 32) throw new UsageError('--chunks must be between 0 and 32')
    const graceText = stringOption(options, 'gc-grace-ms')
    if (graceText !== undefined && !/^\d{1,12}$/.test(graceText)) throw new UsageError('--gc-grace-ms must be a number of milliseconds')
    await mkdir(dir, { recursive: true })
    if (!(await exists(join(dir, CLUSTER_FILE)))) {
      await formatCluster(dir, { blockSize: DEFAULT_BLOCK_SIZE, replication: 3, minCopies: 2 })
    }
    const secret = await readSecret(join(dir, SECRET_FILE))
    let state: LocalState | undefined = await readLocalState(dir)
    if (state === undefined) {
      state = { metas: await planMetas(dir, count, graceText === undefined ? [] : ['--gc-grace-ms', graceText]), chunks: [] }
    } else {
      if (metasText !== undefined && count !== state.metas.length) {
        err.write(`tessera up: ${dir} already has ${state.metas.length} meta members; --metas ${count} is ignored\n`)
      }
      if (graceText !== undefined) err.write(`tessera up: ${dir} already has its meta members planned; --gc-grace-ms is ignored\n`)
    }
    const metaAddresses = state.metas.map((m) => m.address)
    if (state.chunks.length < chunkCount) {
      state.chunks.push(...await planChunks(dir, chunkCount - state.chunks.length, metaAddresses, state.chunks.length + 1))
    }
    const metasRunning = await runningMetas(state.metas)
    const chunksRunning = await runningChunks(state.chunks)
    const metasToStart = state.metas.filter((_, i) => !metasRunning[i])
    const chunksToStart = state.chunks.filter((_, i) => !chunksRunning[i])
    const mountText = stringOption(options, 'mount')
    if (metasToStart.length === 0 && chunksToStart.length === 0) {
      if (mountText !== undefined && !(await mountNamespace(dir, state, resolve(mountText), err))) return EXIT.failure
      print(state, options.json === true, out, `cluster in ${dir} is already running`)
      return EXIT.ok
    }
    await mkdir(join(dir, 'logs'), { recursive: true })
    for (const member of metasToStart) member.pid = spawnDaemon(member.args, member.logFile)
    await writeLocalState(dir, state)
    if (!(await ready(metasToStart, err, () => waitForLeader(state.metas, secret, READY_TIMEOUT_MS)))) return EXIT.failure
    for (const chunk of chunksToStart) {
      await mkdir(chunk.dataDir, { recursive: true })
      chunk.pid = spawnDaemon(chunk.args, chunk.logFile)
    }
    await writeLocalState(dir, state)
    if (!(await ready(chunksToStart, err, () => waitForChunks(chunksToStart, metaAddresses, secret, READY_TIMEOUT_MS)))) {
      return EXIT.failure
    }
    if (mountText !== undefined && !(await mountNamespace(dir, state, resolve(mountText), err))) return EXIT.failure
    print(state, options.json === true, out,
      `started ${metasToStart.length} meta member(s) and ${chunksToStart.length} chunk server(s) in ${dir}`)
    return EXIT.ok
  },
}

/** Mounts the namespace at `mountpoint` unless the recorded mount already serves it there. */
async function mountNamespace(dir: string, state: LocalState, mountpoint: string, err: NodeJS.WritableStream): Promise<boolean> {
  if (state.mount !== undefined && await mountRunning(state.mount)) {
    if (state.mount.mountpoint === mountpoint) return true
    err.write(`tessera up: the cluster in ${dir} is already mounted at ${state.mount.mountpoint} (pid ${state.mount.pid})\n`)
    return false
  }
  const logFile = join(resolve(dir), 'logs', 'mount.log')
  await mkdir(join(dir, 'logs'), { recursive: true })
  try {
    const pid = await startMount(resolve(dir), mountpoint, logFile)
    state.mount = { mountpoint, pid, logFile }
    await writeLocalState(dir, state)
    return true
  } catch (error) {
    err.write(`tessera up: ${(error as Error).message}\n`)
    const lines = await tail(logFile)
    if (lines !== '') err.write(`--- ${logFile} (last lines)\n${lines}\n`)
    return false
  }
}

/** Waits for `started` to be ready; on failure stops them and shows the end of their logs. */
async function ready(started: LocalDaemon[], err: NodeJS.WritableStream, wait: () => Promise<void>): Promise<boolean> {
  if (started.length === 0) return true
  try {
    await wait()
    return true
  } catch (error) {
    await Promise.all(started.map((d) => stopProcess(d.pid, d.dataDir, 3000)))
    err.write(`tessera up: the cluster did not become ready: ${(error as Error).message}\n`)
    for (const daemon of started) {
      const lines = await tail(daemon.logFile)
      if (lines !== '') err.write(`--- ${daemon.logFile} (last lines)\n${lines}\n`)
    }
    return false
  }
}

function print(state: LocalState, json: boolean, out: NodeJS.WritableStream, headline: string): void {
  const brief = (d: LocalDaemon) => ({ id: d.id, address: d.address, pid: d.pid })
  if (json) {
    const mount = state.mount === undefined ? {} : { mount: { mountpoint: state.mount.mountpoint, pid: state.mount.pid } }
    out.write(JSON.stringify({ metas: state.metas.map(brief), chunks: state.chunks.map(brief), ...mount }) + '\n')
    return
  }
  out.write(`${headline}\n`)
  for (const m of state.metas) out.write(`  meta ${m.id}  ${m.address}  pid ${m.pid}\n`)
  for (const c of state.chunks) out.write(`  chunk ${c.id}  ${c.address}  pid ${c.pid}\n`)
  if (state.mount !== undefined) out.write(`  mount ${state.mount.mountpoint}  pid ${state.mount.pid}\n`)
  out.write(`TESSERA_META=${state.metas.map((m) => m.address).join(',')}\n`)
}
