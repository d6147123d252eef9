import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type Command, EXIT, UsageError, requireString, stringOption } from '../command.js'
import { CLUSTER_FILE, DEFAULT_BLOCK_SIZE, SECRET_FILE, formatCluster, readSecret } from '../cluster-files.js'
import { readLocalState, writeLocalState, type LocalState } from '../local/local-state.js'
import { planMetas, runningMetas, tail, waitForLeader } from '../local/meta-members.js'
import { spawnDaemon, stopProcess } from '../local/processes.js'

const READY_TIMEOUT_MS = 30_000

export const upCommand: Command = {
  name: 'up',
  summary: 'Start a local cluster on loopback in the background',
  usage: 'tessera up --dir DIR [--metas N] [--json]',
  details:
    'Formats DIR if it holds no cluster, starts N meta members (default 3) as background\n' +
    'processes on free loopback ports (logs in DIR/logs/, pids and addresses in DIR/local.json),\n' +
    'and returns once a leader answers. On a running cluster it says so; after `tessera down`\n' +
    'it restarts the same members on the same data. Stop it with `tessera down --dir DIR`.',
  options: {
    dir: { type: 'string', value: 'DIR', description: 'the local cluster\'s directory' },
    metas: { type: 'string', value: 'N', description: 'meta members of a new cluster (default 3)' },
    json: { type: 'boolean', description: 'print {metas: [{id, address, pid}]} as JSON' },
  },
  async run({ options, out, err }) {
    const dir = requireString(options, 'dir')
    const metasText = stringOption(options, 'metas')
    const count = metasText === undefined ? 3 : Number(metasText)
    if (!Number.isInteger(count) || count < 1 || count > 9) throw new UsageError('--metas must be between 1 and 9')
    await mkdir(dir, { recursive: true })
    if (!(await exists(join(dir, CLUSTER_FILE)))) {
      await formatCluster(dir, { blockSize: DEFAULT_BLOCK_SIZE, replication: 3, minCopies: 2 })
    }
    const secret = await readSecret(join(dir, SECRET_FILE))
    let state: LocalState | undefined = await readLocalState(dir)
    if (state === undefined) {
      state = { metas: await planMetas(dir, count) }
    } else if (metasText !== undefined && count !== state.metas.length) {
      err.write(`tessera up: ${dir} already has ${state.metas.length} meta members; --metas ${count} is ignored\n`)
    }
    const running = await runningMetas(state.metas)
    const toStart = state.metas.filter((_, i) => !running[i])
    if (toStart.length === 0) {
      print(state, options.json === true, out, `cluster in ${dir} is already running`)
      return EXIT.ok
    }
    await mkdir(join(dir, 'logs'), { recursive: true })
    for (const member of toStart) member.pid = spawnDaemon(member.args, member.logFile)
    await writeLocalState(dir, state)
    try {
      await waitForLeader(state.metas, secret, READY_TIMEOUT_MS)
    } catch (error) {
      await Promise.all(toStart.map((m) => stopProcess(m.pid, m.dataDir, 3000)))
      err.write(`tessera up: the cluster did not become ready: ${(error as Error).message}\n`)
      for (const member of toStart) {
        const lines = await tail(member.logFile)
        if (lines !== '') err.write(`--- ${member.logFile} (last lines)\n${lines}\n`)
      }
      return EXIT.failure
    }
    print(state, options.json === true, out, `started ${toStart.length} meta member(s) in ${dir}`)
    return EXIT.ok
  },
}

function print(state: LocalState, json: boolean, out: NodeJS.WritableStream, headline: string): void {
  if (json) {
    out.write(JSON.stringify({ metas: state.metas.map(({ id, address, pid }) => ({ id, address, pid })) }) + '\n')
    return
  }
  out.write(`${headline}\n`)
  for (const m of state.metas) out.write(`  meta ${m.id}  ${m.address}  pid ${m.pid}\n`)
  out.write(`TESSERA_META=${state.metas.map((m) => m.address).join(',')}\n`)
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
