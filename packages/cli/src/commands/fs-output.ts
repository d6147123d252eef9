/**
 * Shared pieces of the namespace commands (ls, stat, mkdir, rm, mv, ln, lock): running a
 * command with a MetaClient for the named cluster, and printing attributes.
 */
import type { MetaClient } from '@tessera/client'
import { FileMode, TesseraError, type Attr, type Timespec } from '@tessera/protocol'
import { type ParsedOptions, UsageError } from '../command.js'
import { connectMeta } from '../cluster-target.js'

/** Runs `body` with a client for the cluster the options name, and closes it afterwards. */
export async function withMeta<T>(options: ParsedOptions, env: NodeJS.ProcessEnv, body: (client: MetaClient) => Promise<T>): Promise<T> {
  const client = await connectMeta(options, env, { sessions: 4 })
  try {
    return await body(client)
  } finally {
    await client.close()
  }
}

/** The one PATH argument a command takes, absolute. */
export function onePath(positionals: readonly string[], what = 'PATH'): string {
  if (positionals.length !== 1) throw new UsageError(`expected one ${what}, got ${positionals.length}`)
  return absolute(positionals[0]!)
}

export function absolute(path: string): string {
  if (!path.startsWith('/')) throw new UsageError(`'${path}' is not an absolute path in the cluster (start it with /)`)
  return path
}

export type FileType = 'file' | 'directory' | 'symlink' | 'other'

export function fileType(mode: number): FileType {
  switch (mode & FileMode.IFMT) {
    case FileMode.IFREG: return 'file'
    case FileMode.IFDIR: return 'directory'
    case FileMode.IFLNK: return 'symlink'
    default: return 'other'
  }
}

/** ls -l style: drwxr-xr-x, with s/S, t/T for setuid, setgid and sticky. */
export function modeString(mode: number): string {
  const type = { file: '-', directory: 'd', symlink: 'l', other: '?' }[fileType(mode)]
  const triple = (shift: number, special: boolean, specialChar: string): string => {
    const bits = (mode >> shift) & 7
    const x = bits & 1
    const last = special ? (x ? specialChar : specialChar.toUpperCase()) : (x ? 'x' : '-')
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${last}`
  }
  return type + triple(6, (mode & FileMode.ISUID) !== 0, 's') + triple(3, (mode & FileMode.ISGID) !== 0, 's') + triple(0, (mode & FileMode.ISVTX) !== 0, 't')
}

export function isoTime(t: Timespec): string {
  const iso = new Date(t.sec * 1000).toISOString()
  return `${iso.slice(0, 19)}.${String(t.nsec).padStart(9, '0')}Z`
}

/** An attribute as JSON output shows it: the Attr plus its type and octal permissions. */
export function attrJson(attr: Attr): Record<string, unknown> {
  return { ...attr, type: fileType(attr.mode), perms: (attr.mode & FileMode.PERMS).toString(8).padStart(4, '0') }
}

/** Parses an octal mode such as 755 or 0644. */
export function parseMode(text: string, flag: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw new UsageError(`${flag}: '${text}' is not an octal mode (e.g. 755)`)
  return parseInt(text, 8)
}

/** Prints rows as columns separated by two spaces; numeric-looking columns align right. */
export function columns(rows: readonly string[][], rightAligned: readonly boolean[]): string {
  if (rows.length === 0) return ''
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : rightAligned[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n'
}

/** Runs `body`, naming `path` in the message of a TesseraError it throws. */
export async function about<T>(path: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (err) {
    if (err instanceof TesseraError) throw new TesseraError(err.code, `${path}: ${err.message}`, err.details)
    throw err
  }
}
