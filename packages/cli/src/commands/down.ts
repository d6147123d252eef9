import { type Command, EXIT, requireString } from '../command.js'
import { readLocalState } from '../local/local-state.js'
import { runningMetas } from '../local/meta-members.js'
import { stopProcess } from '../local/processes.js'

const GRACE_MS = 10_000

export const downCommand: Command = {
  name: 'down',
  summary: 'Stop a local cluster started by `tessera up`',
  usage: 'tessera down --dir DIR',
  details:
    'Sends SIGTERM to every daemon recorded in DIR/local.json, then SIGKILL to those still\n' +
    'running after 10 s. Only processes whose command line names their data directory in DIR\n' +
    'are signalled. The data stays: `tessera up --dir DIR` starts the cluster again.',
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
    const running = await runningMetas(state.metas)
    const targets = state.metas.filter((_, i) => running[i])
    const results = await Promise.all(targets.map((m) => stopProcess(m.pid, m.dataDir, GRACE_MS)))
    const stuck = targets.filter((_, i) => !results[i])
    if (stuck.length > 0) {
      err.write(`tessera down: could not stop ${stuck.map((m) => `${m.id} (pid ${m.pid})`).join(', ')}\n`)
      return EXIT.failure
    }
    out.write(`stopped ${targets.length} meta member(s) in ${dir}\n`)
    return EXIT.ok
  },
}
