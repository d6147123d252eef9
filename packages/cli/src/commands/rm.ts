import type { MetaClient } from '@tessera/client'
import { FileMode, TesseraError, hasCode, type Ino } from '@tessera/protocol'
import { type Command, EXIT, UsageError } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { about, absolute, withMeta } from './fs-output.js'

export const rmCommand: Command = {
  name: 'rm',
  summary: 'Remove files, symlinks and (with -r) directories from the cluster\'s namespace',
  usage: 'tessera rm [-r] [-f] PATH... (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'A directory needs -r, which removes everything below it first. -f ignores missing paths.',
  options: {
    ...TARGET_OPTIONS,
    recursive: { type: 'boolean', short: 'r', description: 'remove directories and their contents' },
    force: { type: 'boolean', short: 'f', description: 'ignore paths that do not exist' },
  },
  async run({ options, positionals, env }) {
    if (positionals.length === 0) throw new UsageError('expected at least one PATH')
    const paths = positionals.map(absolute)
    await withMeta(options, env, async (client) => {
      for (const path of paths) {
        await about(path, async () => {
          let target
          try {
            const { parent, name } = await client.resolveParent(path)
            target = { parent: parent.ino, name, attr: await client.lookup(parent.ino, name) }
          } catch (err) {
            if (options.force === true && hasCode(err, 'ENOENT')) return
            throw err
          }
          if (isDir(target.attr.mode)) {
            if (options.recursive !== true) throw new TesseraError('EISDIR', 'is a directory (use -r)')
            await removeTree(client, target.parent, target.name, target.attr.ino)
          } else {
            await client.unlink(target.parent, target.name)
          }
        })
      }
    })
    return EXIT.ok
  },
}

function isDir(mode: number): boolean {
  return (mode & FileMode.IFMT) === FileMode.IFDIR
}

/** Removes directory `ino` (entry `name` in `parent`) after everything in it, depth first. */
async function removeTree(client: MetaClient, parent: Ino, name: string, ino: Ino): Promise<void> {
  for (;;) {
    const entries = await client.readdir(ino)
    if (entries.length === 0) break
    for (const entry of entries) {
      if (isDir(entry.type)) await removeTree(client, ino, entry.name, entry.ino)
      else await client.unlink(ino, entry.name)
    }
  }
  await client.rmdir(parent, name)
}
