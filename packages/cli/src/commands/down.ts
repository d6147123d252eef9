import { type Command, EXIT, requireString } from '../command.js'
import { runningChunks } from '../local/chunk-servers.js'
import { readLocalState, writeLocalState, type LocalDaemon } from '../local/local-state.js'
import { runningMetas } from '../local/meta-members.js'
import { stopMount } from '../local/mount-process.js'
import { stopProcess } from '../local/processes.js'

const GRACE_MS = 10_000

export const downCommand: Command = {
  name: 'down',
  summary: 'Stop a local cluster started by `tessera up`',
  usage: 'tessera down --dir DIR',
  details:
    'Unmounts the mount `up --mount` started (SIGTERM to its process, which unmounts cleanly;\n' +
    'fusermount -u -z if it is still mounted after 10 s), then sends SIGTERM to every daemon\n' +
    'recorded in DIR/local.json (chunk servers first, then the meta\n' +
    'members), then SIGKILL to those still running after 10 s. Only processes whose command line\n' +
    'names their data directory in DIR are signalled. The data stays: `tessera up --dir DIR`\n' +
    'starts the cluster again.',
  options: {
    dir: { type: 'string', value: 'DIR', description: 'the local cluster\'s directory' },
  },
  async run({ options, out, err }) {
    const dir = requireString(options, 'dir')
    const state = await readLocalState(dir)
    if (state === undefined) {
      out.write(`no local cluster recorded in ${dir}\n`)
      return EXIT.ok
    }
    let unmounted = ''
    if (state.mount !== undefined) {
      const mount = state.mount
      if (!(await stopMount(mount, GRACE_MS))) {
        err.write(`tessera down: ${mount.mountpoint} is still mounted (pid ${mount.pid}); the daemons keep running\n`)
        return EXIT.failure
      }
      delete state.mount
      await writeLocalState(dir, state)
      unmounted = `unmounted ${mount.mountpoint}; `
    }
    const chunks = await stopAll(state.chunks, await runningChunks(state.chunks))
    const metas = await stopAll(state.metas, await runningMetas(state.metas))
    const stuck = [...chunks.stuck, ...metas.stuck]
    if (stuck.length > 0) {
      err.write(`tessera down: could not stop ${stuck.map((d) => `${d.id} (pid ${d.pid})`).join(', ')}\n`)
      return EXIT.failure
    }
    out.write(`${unmounted}stopped ${chunks.stopped} chunk server(s) and ${metas.stopped} meta member(s) in ${dir}\n`)
    return EXIT.ok
  },
}

async function stopAll(daemons: readonly LocalDaemon[], running: readonly boolean[]): Promise<{ stopped: number; stuck: LocalDaemon[] }> {
  const targets = daemons.filter((_, i) => running[i])
  const results = await Promise.all(targets.map((d) => stopProcess(d.pid, d.dataDir, GRACE_MS)))
  return { stopped: targets.length, stuck: targets.filter((_, i) => !results[i]) }
}
