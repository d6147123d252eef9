import { FileMode, RenameFlag, hasCode } from '@tessera/protocol'
import { type Command, EXIT, UsageError } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { about, absolute, withMeta } from './fs-output.js'

export const mvCommand: Command = {
  name: 'mv',
  summary: 'Rename or move a path in the cluster\'s namespace (atomically)',
  usage: 'tessera mv [-n] SRC DST (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'When DST is an existing directory SRC moves into it under its own name; otherwise SRC\n' +
    'is renamed to DST, replacing a file or an empty directory there (unless -n).',
  options: {
    ...TARGET_OPTIONS,
    'no-clobber': { type: 'boolean', short: 'n', description: 'fail with EEXIST instead of replacing DST' },
  },
  async run({ options, positionals, env }) {
    if (positionals.length !== 2) throw new UsageError(`expected SRC and DST, got ${positionals.length} argument(s)`)
    const [src, dst] = positionals.map(absolute) as [string, string]
    const flags = options['no-clobber'] === true ? RenameFlag.NOREPLACE : 0
    await withMeta(options, env, (client) => about(`${src} -> ${dst}`, async () => {
      const from = await client.resolveParent(src)
      let to = await client.resolveParent(dst)
      try {
        const existing = await client.lookup(to.parent.ino, to.name)
        if ((existing.mode & FileMode.IFMT) === FileMode.IFDIR && !dst.endsWith('/.')) {
          to = { parent: existing, name: from.name }
        }
      } catch (err) {
        if (!hasCode(err, 'ENOENT')) throw err
      }
      await client.rename(from.parent.ino, from.name, to.parent.ino, to.name, flags)
    }))
    return EXIT.ok
  },
}
