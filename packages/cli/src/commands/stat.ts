import type { MetaCalls, MetaClient } from '@tessera/client'
import { type Command, EXIT } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import type { BlockLocationInfo } from '@tessera/protocol'
import { withData } from '../data-target.js'
import { about, attrJson, fileType, isoTime, modeString, onePath } from './fs-output.js'

export const statCommand: Command = {
  name: 'stat',
  summary: 'Show the attributes of a path in the cluster\'s namespace',
  usage: 'tessera stat [--json] PATH (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'Symlinks are not followed: stat shows the link itself (and its target).',
  options: {
    ...TARGET_OPTIONS,
    json: { type: 'boolean', description: 'print {path, ino, type, mode, ..., blocks: [{key, len, used, copies, underReplicated}]} as JSON' },
  },
  async run({ options, positionals, out, env }) {
    const path = onePath(positionals)
    const { attr, target, blocks } = await withData(options, env, async ({ meta, calls }) => {
      const attr = await about(path, () => meta.resolve(path))
      const target = fileType(attr.mode) === 'symlink' ? await meta.readlink(attr.ino) : undefined
      const blocks = fileType(attr.mode) === 'file' && options.json === true ? await blockCopies(meta, calls, attr.ino) : undefined
      return { attr, target, blocks }
    })
    if (options.json === true) {
      out.write(JSON.stringify({
        path, ...attrJson(attr), ...(target === undefined ? {} : { target }), ...(blocks === undefined ? {} : { blocks }),
      }) + '\n')
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

/** The file's blocks in order, each with the servers holding a copy (from the cluster map). */
async function blockCopies(meta: MetaClient, calls: MetaCalls, ino: number): Promise<unknown[]> {
  const { blocks } = await meta.query({ op: 'getBlocks', cred: meta.cred, ino })
  const located: BlockLocationInfo[] = []
  for (let at = 0; at < blocks.length; at += 1024) {
    const refs = blocks.slice(at, at + 1024).map((b) => ({ key: b.key, len: b.len }))
    located.push(...(await calls.call('meta.blockLocations', { refs })).blocks)
  }
  return blocks.map((b, i) => ({
    key: b.key, len: b.len, used: b.used,
    copies: located[i]!.servers.map((s) => ({ id: s.id, address: s.address, state: s.state })),
    underReplicated: located[i]!.underReplicated,
  }))
}
