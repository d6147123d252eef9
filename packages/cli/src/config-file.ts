/**
 * `--config FILE` for the daemons and the mount: a JSON object whose keys are the command's own
 * flag names (`"secret-file"`, not `secretFile`), plus any extra key the command declares (mount's
 * `mountpoint`). A flag on the command line wins over the same key in the file. A key the command
 * does not know, a value of the wrong type or malformed JSON is refused with the file's name, so a
 * typo in /etc/tessera/c1.json stops the unit instead of being silently ignored.
 */
import { type FileHandle, open } from 'node:fs/promises'
import { TesseraError, isErrorCode } from '@tessera/protocol'
import { type OptionSpec, type ParsedOptions, UsageError } from './command.js'

/** The `--config` flag itself, for a command's `options`. */
export const CONFIG_OPTION: OptionSpec = {
  type: 'string', value: 'FILE', description: 'JSON file whose keys are these flags\' names (flags win over it)',
}

/** Config files are a few lines; anything bigger is a mistake (a wrong path), not a config. */
export const MAX_CONFIG_BYTES = 1024 * 1024

/**
 * What a key may hold in the file: `string` (a JSON string, or a number, taken as its decimal
 * text, so `"cache-ms": 1000` works), `boolean`, or `any` for a key the command validates itself
 * (meta's `peers`, an object or the flag's text).
 */
export type KeyKind = 'string' | 'boolean' | 'any'

export type ConfigKeys = Readonly<Record<string, KeyKind>>

/** Every flag of `options` except `--config` itself, with its type; then `extra` (which wins). */
export function configKeys(options: Readonly<Record<string, OptionSpec>>, extra: ConfigKeys = {}): ConfigKeys {
  const keys: Record<string, KeyKind> = {}
  for (const [name, spec] of Object.entries(options)) {
    if (name !== 'config') keys[name] = spec.type
  }
  return { ...keys, ...extra }
}

/** Reads and checks FILE against `keys`; the values come back typed as `keys` says. */
export async function readConfigFile(path: string, keys: ConfigKeys): Promise<ReadonlyMap<string, unknown>> {
  const parsed = parseConfigText(path, await readSmallFile(path))
  const values = new Map<string, unknown>()
  for (const [key, value] of Object.entries(parsed)) {
    if (!Object.hasOwn(keys, key)) {
      throw new UsageError(`${path}: unknown key '${key}' (known: ${Object.keys(keys).join(', ')})`)
    }
    values.set(key, checkKind(path, key, keys[key]!, value))
  }
  return values
}

/** Flags over the file's keys, read through typed getters. */
export class Settings {
  constructor(
    private readonly flags: ParsedOptions,
    private readonly file: ReadonlyMap<string, unknown> = new Map(),
    /** The config file the values came from, for error messages. */
    readonly configPath?: string,
  ) {}

  /** The flag's value, else the file's, else undefined. */
  value(key: string): unknown {
    return this.flags[key] ?? this.file.get(key)
  }

  /** True when the key was given, as a flag or in the file. */
  has(key: string): boolean {
    return this.value(key) !== undefined
  }

  /** A non-empty string, or undefined when neither the flag nor the file gives one. */
  string(key: string): string | undefined {
    const value = this.value(key)
    if (value === undefined) return undefined
    if (typeof value !== 'string' || value === '') throw new UsageError(`${this.name(key)} must be a non-empty string`)
    return value
  }

  requireString(key: string): string {
    const value = this.string(key)
    if (value === undefined) throw new UsageError(`${this.name(key)} is required`)
    return value
  }

  boolean(key: string): boolean {
    const value = this.value(key)
    if (value === undefined) return false
    if (typeof value !== 'boolean') throw new UsageError(`${this.name(key)} must be true or false`)
    return value
  }

  /**
   * The merged string and boolean values as parsed flags, for helpers that read flags
   * (`resolveClusterTarget`): a key in the file then counts as if it had been passed as a flag.
   */
  asOptions(): ParsedOptions {
    const merged: ParsedOptions = {}
    for (const [key, value] of this.file) {
      if (typeof value === 'string' || typeof value === 'boolean') merged[key] = value
    }
    for (const [key, value] of Object.entries(this.flags)) {
      if (value !== undefined) merged[key] = value
    }
    return merged
  }

  private name(key: string): string {
    const fromFile = this.flags[key] === undefined && this.file.has(key) && this.configPath !== undefined
    return fromFile ? `'${key}' in ${this.configPath}` : `--${key}`
  }
}

/** The command's settings: its flags, over FILE when `--config FILE` was given. */
export async function loadSettings(flags: ParsedOptions, keys: ConfigKeys): Promise<Settings> {
  const path = flags.config
  if (path === undefined) return new Settings(flags)
  if (typeof path !== 'string' || path === '') throw new UsageError('--config must name a file')
  return new Settings(flags, await readConfigFile(path, keys), path)
}

async function readSmallFile(path: string): Promise<string> {
  let handle: FileHandle | undefined
  try {
    handle = await open(path, 'r')
    const stats = await handle.stat()
    if (!stats.isFile()) throw new TesseraError('EINVAL', `config ${path} is not a regular file`)
    if (stats.size > MAX_CONFIG_BYTES) throw new TesseraError('EFBIG', `config ${path} is ${stats.size} bytes (at most ${MAX_CONFIG_BYTES})`)
    return await handle.readFile('utf8')
  } catch (error) {
    if (error instanceof TesseraError) throw error
    const code = (error as NodeJS.ErrnoException).code
    throw new TesseraError(isErrorCode(code) ? code : 'EIO', `cannot read config ${path}: ${(error as Error).message}`)
  } finally {
    await handle?.close()
  }
}

function parseConfigText(path: string, text: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${path} must hold a JSON object of flag names to values`)
  }
  return parsed as Record<string, unknown>
}

function checkKind(path: string, key: string, kind: KeyKind, value: unknown): unknown {
  switch (kind) {
    case 'any':
      return value
    case 'boolean':
      if (typeof value !== 'boolean') throw new UsageError(`${path}: '${key}' must be true or false`)
      return value
    case 'string':
      if (typeof value === 'number' && Number.isFinite(value)) return String(value)
      if (typeof value !== 'string') throw new UsageError(`${path}: '${key}' must be a string`)
      return value
  }
}
