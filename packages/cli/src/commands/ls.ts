import { FileMode, type Attr } from '@tessera/protocol'
import { type Command, EXIT } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { about, attrJson, columns, fileType, isoTime, modeString, onePath, withMeta } from './fs-output.js'

interface Listed {
  name: string
  attr: Attr
  target?: string
}

export const lsCommand: Command = {
  name: 'ls',
  summary: 'List a directory of the cluster\'s namespace (no mount needed)',
  usage: 'tessera ls [-l] [--json] PATH (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'Lists the entries of directory PATH in name order (a file or symlink lists itself).\n' +
    '-l adds type and permissions, links, owner, group, size and mtime; symlinks show their target.',
  options: {
    ...TARGET_OPTIONS,
    long: { type: 'boolean', short: 'l', description: 'long listing' },
    json: { type: 'boolean', description: 'print [{name, ino, type, ...}] as JSON (with -l: every attribute)' },
  },
  async run({ options, positionals, out, env }) {
    const path = onePath(positionals)
    const long = options.long === true
    const listed = await withMeta(options, env, async (client) => {
      const attr = await about(path, () => client.resolve(path))
      const items: Listed[] = []
      if ((attr.mode & FileMode.IFMT) !== FileMode.IFDIR) {
        items.push({ name: path, attr })
      } else {
        // With -l the listing carries each entry's attributes (plus): one read per page, not per entry.
        for (const entry of await client.readdir(attr.ino, { plus: long })) {
          const entryAttr = long ? entry.attr ?? await client.getattr(entry.ino) : { ino: entry.ino, mode: entry.type } as Attr
          items.push({ name: entry.name, attr: entryAttr })
        }
      }
      if (long) {
        for (const item of items) if (fileType(item.attr.mode) === 'symlink') item.target = await client.readlink(item.attr.ino)
      }
      return items
    })
    if (options.json === true) {
      const rows = listed.map((i) => long
        ? { name: i.name, ...attrJson(i.attr), ...(i.target === undefined ? {} : { target: i.target }) }
        : { name: i.name, ino: i.attr.ino, type: fileType(i.attr.mode) })
      out.write(JSON.stringify(rows) + '\n')
    } else if (long) {
      out.write(columns(listed.map((i) => [
        modeString(i.attr.mode), String(i.attr.nlink), String(i.attr.uid), String(i.attr.gid), String(i.attr.size),
        isoTime(i.attr.mtime).slice(0, 19).replace('T', ' '), i.target === undefined ? i.name : `${i.name} -> ${i.target}`,
      ]), [false, true, false, false, true, false, false]))
    } else {
      for (const item of listed) out.write(`${item.name}\n`)
    }
    return EXIT.ok
  },
}
