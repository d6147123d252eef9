import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { type Command, EXIT, UsageError } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { withData } from '../data-target.js'
import { progressBar } from '../progress.js'
import { about, absolute } from './fs-output.js'

export const putCommand: Command = {
  name: 'put',
  summary: 'Copy a local file into the cluster',
  usage: 'tessera put LOCAL REMOTE (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE] [--json]',
  details:
    'Writes LOCAL (or standard input when LOCAL is -) as the whole contents of REMOTE, creating it\n' +
    'when missing. The new contents become visible once every block has its durable copies and the\n' +
    'block list is committed. Shows a progress bar on stderr when it is a terminal.',
  options: {
    ...TARGET_OPTIONS,
    json: { type: 'boolean', description: 'print {path, size, blocks, underReplicated} as JSON' },
  },
  async run({ options, positionals, out, err, env }) {
    if (positionals.length !== 2) throw new UsageError(`expected LOCAL and REMOTE, got ${positionals.length} argument(s)`)
    const [local, remoteText] = positionals as [string, string]
    const remote = absolute(remoteText)
    const total = local === '-' ? undefined : (await stat(local)).size
    const source = local === '-' ? process.stdin : createReadStream(local, { highWaterMark: 1024 * 1024 })
    const progress = progressBar(err, `put ${remote}`, total)
    const result = await withData(options, env, ({ files }) =>
      about(remote, () => files.putFile(remote, source, { onProgress: (bytes) => progress.update(bytes) })))
    progress.done()
    if (options.json === true) {
      out.write(JSON.stringify({ path: remote, size: result.attr.size, blocks: result.blocks.length, underReplicated: result.underReplicated }) + '\n')
    } else if (result.underReplicated > 0) {
      err.write(`tessera put: ${result.underReplicated} block(s) stored with fewer copies than the replication; meta will repair them\n`)
    }
    return EXIT.ok
  },
}
