import { type Command, EXIT } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { withData } from '../data-target.js'
import { about, onePath } from './fs-output.js'

export const catCommand: Command = {
  name: 'cat',
  summary: 'Write a file of the cluster to standard output',
  usage: 'tessera cat REMOTE (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'Every block is verified against its key before its bytes are written.',
  options: { ...TARGET_OPTIONS },
  async run({ options, positionals, out, env }) {
    const remote = onePath(positionals, 'REMOTE')
    await withData(options, env, ({ files }) => about(remote, () => files.getFile(remote, out)))
    return EXIT.ok
  },
}
