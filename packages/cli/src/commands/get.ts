import { createWriteStream } from 'node:fs'
import { finished } from 'node:stream/promises'
import { type Command, EXIT, UsageError } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { withData } from '../data-target.js'
import { progressBar } from '../progress.js'
import { about, absolute } from './fs-output.js'

export const getCommand: Command = {
  name: 'get',
  summary: 'Copy a file from the cluster to a local file',
  usage: 'tessera get REMOTE LOCAL (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details:
    'Every block is verified against its key; a bad or missing copy is reported to meta and read\n' +
    'from another replica. Shows a progress bar on stderr when it is a terminal.',
  options: { ...TARGET_OPTIONS },
  async run({ options, positionals, err, env }) {
    if (positionals.length !== 2) throw new UsageError(`expected REMOTE and LOCAL, got ${positionals.length} argument(s)`)
    const [remoteText, local] = positionals as [string, string]
    const remote = absolute(remoteText)
    await withData(options, env, async ({ files }) => {
      const { size } = await about(remote, () => files.fileBlocks(remote))
      const sink = createWriteStream(local)
      const progress = progressBar(err, `get ${remote}`, size)
      try {
        await about(remote, () => files.getFile(remote, sink, undefined, { onProgress: (bytes) => progress.update(bytes) }))
      } finally {
        sink.end()
        await finished(sink)
      }
      progress.done()
    })
    return EXIT.ok
  },
}
