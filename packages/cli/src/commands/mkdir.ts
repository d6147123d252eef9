import { type Command, EXIT, UsageError, stringOption } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { about, absolute, attrJson, parseMode, withMeta } from './fs-output.js'

export const mkdirCommand: Command = {
  name: 'mkdir',
  summary: 'Create directories in the cluster\'s namespace',
  usage: 'tessera mkdir [-p] [-m MODE] [--json] PATH... (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'Without -p the parent must exist and PATH must not. With -p missing parents are created\n' +
    'and an existing directory is not an error.',
  options: {
    ...TARGET_OPTIONS,
    parents: { type: 'boolean', short: 'p', description: 'make parent directories as needed; no error if existing' },
    mode: { type: 'string', short: 'm', value: 'MODE', description: 'octal permissions (default 755)' },
    json: { type: 'boolean', description: 'print the created directories\' attributes as JSON' },
  },
  async run({ options, positionals, out, env }) {
    if (positionals.length === 0) throw new UsageError('expected at least one PATH')
    const paths = positionals.map(absolute)
    const modeText = stringOption(options, 'mode')
    const mode = modeText === undefined ? 0o755 : parseMode(modeText, '--mode')
    const made = await withMeta(options, env, async (client) => {
      const attrs = []
      for (const path of paths) {
        if (options.parents === true) {
          attrs.push({ path, ...attrJson(await about(path, () => client.mkdirp(path, mode))) })
        } else {
          const made = await about(path, async () => {
            const { parent, name } = await client.resolveParent(path)
            return client.mkdir(parent.ino, name, mode)
          })
          attrs.push({ path, ...attrJson(made) })
        }
      }
      return attrs
    })
    if (options.json === true) out.write(JSON.stringify(made) + '\n')
    return EXIT.ok
  },
}
