import { parseArgs } from 'node:util'
import { TesseraError } from '@tessera/protocol'

/** One flag of a command, with the text `--help` shows for it. */
export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** Shown in help as the value's name, e.g. DIR. */
  value?: string
  description: string
}

export type ParsedOptions = Record<string, string | boolean | string[] | boolean[] | undefined>

export interface CommandInput {
  options: ParsedOptions
  positionals: string[]
  /** Arguments after `--`, for commands with `passthrough`. */
  rest: string[]
  /** Where command output goes (stdout in production; a buffer in tests). */
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
}

export interface Command {
  name: string
  summary: string
  /** e.g. 'tessera format --dir DIR [--block-size BYTES]' */
  usage: string
  /** Longer explanation shown by `tessera <cmd> --help`. */
  details?: string
  options: Record<string, OptionSpec>
  /** Allows arguments after `--` (e.g. `tessera lock PATH -- COMMAND`). */
  passthrough?: boolean
  /** Resolves to the process exit code; throws TesseraError / UsageError for failures. */
  run(input: CommandInput): Promise<number>
}

/** A mistake in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

export function parseCommandArgs(command: Command, argv: string[]): { options: ParsedOptions; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {}
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) }
  }
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    return { options: parsed.values as ParsedOptions, positionals: parsed.positionals }
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.split('\n')[0]! : String(err))
  }
}

export function renderHelp(command: Command): string {
  const lines = [`${command.summary}`, '', `Usage: ${command.usage}`]
  if (command.details) lines.push('', command.details)
  const entries = Object.entries(command.options)
  if (entries.length > 0) {
    lines.push('', 'Options:')
    const left = entries.map(([name, spec]) => {
      const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`
      return flag
    })
    const width = Math.max(...left.map((l) => l.length)) + 2
    entries.forEach(([, spec], i) => lines.push(`  ${left[i]!.padEnd(width)}${spec.description}`))
  }
  return lines.join('\n') + '\n'
}

/** One clear line on stderr for a failure; the exit code that goes with it. */
export function reportFailure(commandName: string, err: unknown, stderr: NodeJS.WritableStream): number {
  if (err instanceof UsageError) {
    stderr.write(`tessera ${commandName}: ${err.message} (see 'tessera ${commandName} --help')\n`)
    return EXIT.usage
  }
  if (err instanceof TesseraError) {
    stderr.write(`tessera ${commandName}: ${err.message} [${err.code}]\n`)
    return EXIT.failure
  }
  const message = err instanceof Error ? err.message : String(err)
  stderr.write(`tessera ${commandName}: ${message}\n`)
  return EXIT.failure
}

export function stringOption(options: ParsedOptions, name: string): string | undefined {
  const value = options[name]
  return typeof value === 'string' ? value : undefined
}

export function requireString(options: ParsedOptions, name: string): string {
  const value = stringOption(options, name)
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`)
  return value
}

/** Parses sizes like 4194304, 4M, 4MiB, 64k. */
export function parseSize(text: string, flag: string): number {
  const match = /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(text.trim())
  if (!match) throw new UsageError(`--${flag}: '${text}' is not a size (e.g. 4MiB, 65536)`)
  const unit = match[2]!.toLowerCase()
  const factor = unit === '' ? 1 : 1024 ** ('kmgt'.indexOf(unit) + 1)
  return Number(match[1]) * factor
}
