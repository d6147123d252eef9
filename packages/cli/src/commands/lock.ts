import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { type LockHandle } from '@tessera/client'
import { TesseraError } from '@tessera/protocol'
import { type Command, UsageError, stringOption } from '../command.js'
import { TARGET_OPTIONS, connectMeta } from '../cluster-target.js'
import { about, onePath } from './fs-output.js'

/** Exit codes of a command that could not run, as shells use them. */
const NOT_FOUND = 127
const NOT_EXECUTABLE = 126

export const lockCommand: Command = {
  name: 'lock',
  summary: 'Run a command while holding a cluster-wide lock on a path',
  usage: 'tessera lock [--shared] [--nonblock | --timeout MS] PATH (--meta HOST:PORT,... | --dir DIR)\n' +
    '               [--secret-file FILE] -- COMMAND [ARGS...]',
  details: 'Takes an advisory lock on PATH (exclusive unless --shared; waiters are served in arrival\n' +
    'order, and a shared request waits behind an exclusive one queued before it), runs COMMAND,\n' +
    'releases the lock, and exits with COMMAND\'s exit code (128+N when killed by signal N).\n' +
    'The lock is a lease on this process\'s session: if this process dies, the lock passes on\n' +
    'once the session expires. Exit code 1 when the lock cannot be taken (EAGAIN with\n' +
    '--nonblock, ETIMEDOUT after --timeout).',
  passthrough: true,
  options: {
    ...TARGET_OPTIONS,
    shared: { type: 'boolean', description: 'a shared lock instead of an exclusive one' },
    nonblock: { type: 'boolean', short: 'n', description: 'fail at once (EAGAIN) if the lock is busy' },
    timeout: { type: 'string', value: 'MS', description: 'give up waiting after MS milliseconds' },
  },
  async run({ options, positionals, rest, out, err, env }) {
    const path = onePath(positionals)
    if (rest.length === 0) throw new UsageError('no command given (tessera lock PATH -- COMMAND [ARGS...])')
    const timeoutText = stringOption(options, 'timeout')
    const timeoutMs = timeoutText === undefined ? undefined : Number(timeoutText)
    if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) throw new UsageError('--timeout must be a whole number of milliseconds')
    const client = await connectMeta(options, env, { sessions: 1 })
    try {
      const handle = await about(path, () => client.lock(path, options.shared === true ? 'shared' : 'exclusive', {
        wait: options.nonblock !== true, ...(timeoutMs === undefined ? {} : { timeoutMs }),
      }))
      handle.onLost(() => err.write(`tessera lock: the lock on ${path} was lost (session expired); the command keeps running\n`))
      let code: number
      try {
        code = await runCommand(rest, out, err, env)
      } finally {
        await release(handle, path, err)
      }
      return code
    } finally {
      await client.close()
    }
  },
}

async function release(handle: LockHandle, path: string, err: NodeJS.WritableStream): Promise<void> {
  try {
    await handle.release()
  } catch (error) {
    // The command has run; a failed unlock is reported but its session end frees the lock anyway.
    err.write(`tessera lock: releasing ${path}: ${(error as Error).message}\n`)
  }
}

/** Runs the command with this process's stdin; forwards SIGINT/SIGTERM; resolves to its exit code. */
function runCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const ownOut = out === process.stdout
    const ownErr = err === process.stderr
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['inherit', ownOut ? 'inherit' : 'pipe', ownErr ? 'inherit' : 'pipe'],
      env: { ...process.env, ...env },
    })
    if (!ownOut) child.stdout?.pipe(out, { end: false })
    if (!ownErr) child.stderr?.pipe(err, { end: false })
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal)
    const onInt = forward('SIGINT')
    const onTerm = forward('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
    const cleanup = () => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanup()
      if (error.code === 'ENOENT') {
        err.write(`tessera lock: ${argv[0]}: command not found\n`)
        resolve(NOT_FOUND)
      } else if (error.code === 'EACCES') {
        err.write(`tessera lock: ${argv[0]}: permission denied\n`)
        resolve(NOT_EXECUTABLE)
      } else {
        reject(new TesseraError('EIO', `cannot run ${argv[0]}: ${error.message}`))
      }
    })
    child.once('close', (code, signal) => {
      cleanup()
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal] ?? 0))
    })
  })
}
