import { type Command, EXIT } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { about, attrJson, fileType, isoTime, modeString, onePath, withMeta } from './fs-output.js'

export const statCommand: Command = {
  name: 'stat',
  summary: 'Show the attributes of a path in the cluster\'s namespace',
  usage: 'tessera stat [--json] PATH (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'Symlinks are not followed: stat shows the link itself (and its target).',
  options: {
    ...TARGET_OPTIONS,
    json: { type: 'boolean', description: 'print {path, ino, type, mode, perms, nlink, uid, gid, size, atime, mtime, ctime, ...} as JSON' },
  },
  async run({ options, positionals, out, env }) {
    const path = onePath(positionals)
    const { attr, target } = await withMeta(options, env, async (client) => {
      const attr = await about(path, () => client.resolve(path))
      const target = fileType(attr.mode) === 'symlink' ? await client.readlink(attr.ino) : undefined
      return { attr, target }
    })
    if (options.json === true) {
      out.write(JSON.stringify({ path, ...attrJson(attr), ...(target === undefined ? {} : { target }) }) + '\n')
      return EXIT.ok
    }
    const perms = (attr.mode & 0o7777).toString(8).padStart(4, '0')
    out.write([
      `  Path: ${path}${target === undefined ? '' : ` -> ${target}`}`,
      `  Type: ${fileType(attr.mode)}  Inode: ${attr.ino}  Links: ${attr.nlink}  Size: ${attr.size}`,
      `  Mode: ${perms} (${modeString(attr.mode)})  Uid: ${attr.uid}  Gid: ${attr.gid}`,
      `Access: ${isoTime(attr.atime)}`,
      `Modify: ${isoTime(attr.mtime)}`,
      `Change: ${isoTime(attr.ctime)}`,
    ].join('\n') + '\n')
    return EXIT.ok
  },
}
