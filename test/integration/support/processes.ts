/** Child processes for integration tests: always bounded by a timeout, never through a shell. */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The repository root (this file compiles to test/dist/integration/support/). */
export const REPO = fileURLToPath(new URL('../../../../', import.meta.url))

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  timeoutMs?: number
  cwd?: string
  env?: NodeJS.ProcessEnv
  input?: string
}

/** Runs a program to completion; a timeout kills it (SIGTERM) and yields a non-zero code. */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, {
      timeout: options.timeoutMs ?? 30_000,
      maxBuffer: 16 << 20,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
    }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      const killed = err !== null && (err as { killed?: boolean }).killed === true ? `\n(killed after ${options.timeoutMs ?? 30_000} ms)` : ''
      resolve({ code, stdout, stderr: stderr + killed })
    })
    if (options.input !== undefined) child.stdin!.end(options.input)
    else child.stdin?.end()
  })
}
