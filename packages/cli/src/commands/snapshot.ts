import { type Command, EXIT, stringOption } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { withMeta } from './fs-output.js'
import { parseHostPort } from './meta.js'

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'Snapshot a meta member\'s state now and compact its Raft log',
  usage: 'tessera snapshot [--member HOST:PORT] [--json] (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'Snapshots the leader (or the member at --member) and prints the log index it covers.\n' +
    'Members also snapshot on their own every N applied entries; this forces one now.',
  options: {
    ...TARGET_OPTIONS,
    member: { type: 'string', value: 'HOST:PORT', description: 'the member to snapshot (default: the leader)' },
    json: { type: 'boolean', description: 'print {index} as JSON' },
  },
  async run({ options, out, env }) {
    const member = stringOption(options, 'member')
    if (member !== undefined) parseHostPort(member, '--member')
    const index = await withMeta(options, env, (client) => client.snapshot(member))
    out.write(options.json === true ? JSON.stringify({ index }) + '\n' : `snapshot at index ${index}\n`)
    return EXIT.ok
  },
}
