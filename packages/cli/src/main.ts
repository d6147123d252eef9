import { type Command, EXIT, parseCommandArgs, renderHelp, reportFailure } from './command.js'
import { catCommand } from './commands/cat.js'
import { chunkCommand } from './commands/chunk.js'
import { downCommand } from './commands/down.js'
import { formatCommand } from './commands/format.js'
import { getCommand } from './commands/get.js'
import { lnCommand } from './commands/ln.js'
import { lockCommand } from './commands/lock.js'
import { lsCommand } from './commands/ls.js'
import { membersCommand } from './commands/members.js'
import { metaCommand } from './commands/meta.js'
import { mkdirCommand } from './commands/mkdir.js'
import { mountCommand } from './commands/mount.js'
import { mvCommand } from './commands/mv.js'
import { putCommand } from './commands/put.js'
import { rmCommand } from './commands/rm.js'
import { snapshotCommand } from './commands/snapshot.js'
import { statCommand } from './commands/stat.js'
import { statusCommand } from './commands/status.js'
import { upCommand } from './commands/up.js'

/** Every subcommand, in the order `tessera --help` lists them. */
export const COMMANDS: readonly Command[] = [
  formatCommand, upCommand, downCommand, statusCommand, metaCommand, chunkCommand,
  membersCommand, snapshotCommand,
  putCommand, getCommand, catCommand,
  lsCommand, statCommand, mkdirCommand, rmCommand, mvCommand, lnCommand, lockCommand, mountCommand,
]

export interface MainIo {
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
}

function renderOverview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  const lines = [
    'tessera: a distributed chunked file system',
    '',
    'Usage: tessera <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Run 'tessera <command> --help' for a command's options.",
  ]
  return lines.join('\n') + '\n'
}

/** Runs one invocation of the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: MainIo = { out: process.stdout, err: process.stderr, env: process.env }): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out.write(renderOverview())
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    io.err.write(`tessera: unknown command '${name}' (see 'tessera --help')\n`)
    return EXIT.usage
  }
  const dashDash = rest.indexOf('--')
  const own = command.passthrough && dashDash >= 0 ? rest.slice(0, dashDash) : rest
  const passthrough = command.passthrough && dashDash >= 0 ? rest.slice(dashDash + 1) : []
  if (own.includes('--help') || own.includes('-h')) {
    io.out.write(renderHelp(command))
    return EXIT.ok
  }
  try {
    const { options, positionals } = parseCommandArgs(command, own)
    return await command.run({ options, positionals, rest: passthrough, out: io.out, err: io.err, env: io.env })
  } catch (err) {
    return reportFailure(command.name, err, io.err)
  }
}
