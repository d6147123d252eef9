import { type Command, EXIT, UsageError } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { about, absolute, attrJson, withMeta } from './fs-output.js'

export const lnCommand: Command = {
  name: 'ln',
  summary: 'Make a hard link (or with -s a symbolic link) in the cluster\'s namespace',
  usage: 'tessera ln [-s] [--json] TARGET LINK (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'A hard link needs TARGET to exist (not a directory). A symlink stores TARGET as given\n' +
    '(relative or absolute; it is not checked).',
  options: {
    ...TARGET_OPTIONS,
    symbolic: { type: 'boolean', short: 's', description: 'make a symbolic link' },
    json: { type: 'boolean', description: 'print the link\'s attributes as JSON' },
  },
  async run({ options, positionals, out, env }) {
    if (positionals.length !== 2) throw new UsageError(`expected TARGET and LINK, got ${positionals.length} argument(s)`)
    const [target, linkText] = positionals as [string, string]
    const link = absolute(linkText)
    const attr = await withMeta(options, env, (client) => about(link, async () => {
      const { parent, name } = await client.resolveParent(link)
      if (options.symbolic === true) return client.symlink(parent.ino, name, target)
      const existing = await about(target, () => client.resolve(absolute(target)))
      return client.link(existing.ino, parent.ino, name)
    }))
    if (options.json === true) out.write(JSON.stringify({ path: link, ...attrJson(attr) }) + '\n')
    return EXIT.ok
  },
}
