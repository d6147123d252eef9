/**
 * `tessera mount`: the cluster's namespace on a local directory (FUSE), in the foreground until
 * SIGINT/SIGTERM (then a clean unmount), or with --background as a detached process that this
 * command waits for until the mount is up.
 *
 * File contents go through `createDataPath` (below): the cluster's chunk servers, placed by meta.
 */
import { openSync, closeSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { ClusterDataPath, MetaCalls, Vfs } from '@tessera/client'
import { checkMountpoint, mountVfs } from '@tessera/fuse'
import { createLogger, type Logger } from '@tessera/protocol'
import { type Command, type OptionSpec, EXIT, UsageError, parseSize } from '../command.js'
import { CONFIG_OPTION, configKeys, loadSettings } from '../config-file.js'
import { TARGET_OPTIONS, connectMeta, resolveClusterTarget, type ClusterTarget } from '../cluster-target.js'
import { daemonEnv, tesseraNodeArgs } from '../local/processes.js'

/** Set in the environment of the process that --background starts. */
const BACKGROUND_CHILD_ENV = 'TESSERA_MOUNT_CHILD'
const READY_TIMEOUT_MS = 30_000

/** The real data path of `cluster`, with the meta calls it owns; `close` ends both. */
export async function createDataPath(cluster: ClusterTarget, logger: Logger): Promise<{ data: ClusterDataPath; close(): Promise<void> }> {
  const calls = new MetaCalls({ addresses: cluster.addresses, secret: cluster.secret, logger })
  try {
    const data = await ClusterDataPath.open({ calls, secret: cluster.secret, logger })
    return { data, close: async () => { await data.close(); await calls.close() } }
  } catch (error) {
    await calls.close()
    throw error
  }
}

const OPTIONS: Record<string, OptionSpec> = {
  ...TARGET_OPTIONS,
  background: { type: 'boolean', description: 'run detached; return once mounted' },
  'log-file': { type: 'string', value: 'FILE', description: 'with --background: where the mount logs (default: discarded)' },
  'max-dirty': { type: 'string', value: 'SIZE', description: 'bound on written bytes held in memory (default 256MiB)' },
  'cache-ms': { type: 'string', value: 'MS', description: 'attribute and entry cache time (default 1000)' },
  'allow-other': { type: 'boolean', description: 'let every local user use the mount (needs root or user_allow_other); each acts with their own uid/gid' },
  config: CONFIG_OPTION,
}

/** Every flag, and the MOUNTPOINT argument as `mountpoint` (the argument wins). */
const CONFIG_KEYS = configKeys(OPTIONS, { mountpoint: 'string' })

export const mountCommand: Command = {
  name: 'mount',
  summary: 'Mount the cluster\'s namespace on a local directory (FUSE)',
  usage: 'tessera mount (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE] [--background [--log-file FILE]] [--config FILE] MOUNTPOINT',
  details:
    'Serves the namespace at MOUNTPOINT (an existing, empty directory) until SIGINT or SIGTERM,\n' +
    'which unmount it cleanly after committing open files. --background returns once the mount\n' +
    'is up and prints the serving process\'s pid (stop it with kill PID, or fusermount -u MOUNTPOINT).\n' +
    'Files are visible to other mounts when closed (close-to-open consistency); concurrent writers\n' +
    'on two mounts: the last close wins.\n' +
    '--config FILE is a JSON object whose keys are these flags\' names, plus "mountpoint" for\n' +
    'MOUNTPOINT; flags and MOUNTPOINT given on the command line win over the file, and the file\n' +
    'wins over TESSERA_META and TESSERA_SECRET_FILE.',
  options: OPTIONS,
  async run({ options, positionals, out, err, env }) {
    const settings = await loadSettings(options, CONFIG_KEYS)
    if (positionals.length > 1) throw new UsageError('name one MOUNTPOINT')
    const mountpointText = positionals[0] ?? settings.string('mountpoint')
    if (mountpointText === undefined) throw new UsageError('name one MOUNTPOINT (or a "mountpoint" key in --config FILE)')
    const mountpoint = await checkMountpoint(mountpointText)
    const maxDirtyText = settings.string('max-dirty')
    const maxDirtyBytes = maxDirtyText === undefined ? undefined : parseSize(maxDirtyText, 'max-dirty')
    const cacheText = settings.string('cache-ms')
    const cacheMs = cacheText === undefined ? 1000 : Number(cacheText)
    if (!Number.isInteger(cacheMs) || cacheMs < 0 || cacheMs > 3_600_000) throw new UsageError('--cache-ms must be an integer in [0, 3600000]')
    const targetOptions = settings.asOptions()
    const target = await resolveClusterTarget(targetOptions, env)
    // The detached child runs this command again with the same --config: a "background" key
    // there must not make it detach once more.
    if (settings.boolean('background') && env[BACKGROUND_CHILD_ENV] !== '1') {
      return startInBackground(mountpoint, settings.string('log-file'), out, err)
    }

    const logger = createLogger({ component: 'mount' })
    const meta = await connectMeta(targetOptions, env, { logger })
    let data: Awaited<ReturnType<typeof createDataPath>>
    try {
      await meta.getattr(1, { deadlineMs: READY_TIMEOUT_MS }) // the cluster answers before we mount
      data = await createDataPath(target, logger)
    } catch (error) {
      await meta.close()
      throw error
    }
    const vfs = new Vfs(meta, data.data, {
      attrTtlMs: cacheMs, entryTtlMs: cacheMs, logger, ...(maxDirtyBytes === undefined ? {} : { maxDirtyBytes }),
    })
    let mount
    try {
      mount = await mountVfs(vfs, mountpoint, { logger, kernelCacheSeconds: cacheMs / 1000, allowOther: settings.boolean('allow-other') })
    } catch (error) {
      await data.close()
      await meta.close()
      throw error
    }
    if (env[BACKGROUND_CHILD_ENV] === '1') process.stdout.on('error', () => undefined) // the parent has gone
    out.write(`mounted ${mountpoint} (pid ${process.pid})\n`)
    // fuse-native's handles do not keep the event loop alive; this does until unmounted.
    const keepAlive = setInterval(() => undefined, 1 << 30)
    await new Promise<void>((resolve) => {
      const stop = (reason: string): void => {
        logger.info({ reason }, 'unmounting')
        process.off('SIGINT', onInt)
        process.off('SIGTERM', onTerm)
        resolve()
      }
      const onInt = (): void => stop('SIGINT')
      const onTerm = (): void => stop('SIGTERM')
      process.on('SIGINT', onInt)
      process.on('SIGTERM', onTerm)
      // Someone else unmounted the directory (umount, fusermount -u): nothing left to serve.
      void mount.closed.then(() => stop('unmounted by someone else'))
    })
    clearInterval(keepAlive)
    try {
      await mount.unmount()
    } finally {
      await data.close()
      await meta.close()
    }
    out.write(`unmounted ${mountpoint}\n`)
    return EXIT.ok
  },
}

/** Starts this command again, detached, without --background, and waits for its "mounted" line. */
async function startInBackground(
  mountpoint: string, logFile: string | undefined, out: NodeJS.WritableStream, err: NodeJS.WritableStream,
): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== '--background')
  const log = logFile === undefined ? 'ignore' : openSync(logFile, 'a')
  try {
    const child = spawn(process.execPath, tesseraNodeArgs(args), {
      detached: true, stdio: ['ignore', 'pipe', log], env: { ...daemonEnv(), [BACKGROUND_CHILD_ENV]: '1' },
    })
    const ready = await new Promise<boolean>((resolve) => {
      let text = ''
      const timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)
      child.stdout!.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (text.includes('mounted ')) {
          clearTimeout(timer)
          resolve(true)
        }
      })
      child.once('exit', () => {
        clearTimeout(timer)
        resolve(false)
      })
    })
    child.stdout!.destroy()
    child.unref()
    if (!ready) {
      if (child.exitCode === null) child.kill('SIGTERM')
      err.write(`tessera mount: the mount at ${mountpoint} did not come up${logFile === undefined ? '' : ` (see ${logFile})`}\n`)
      return EXIT.failure
    }
    out.write(`mounted ${mountpoint} (pid ${child.pid})\n`)
    return EXIT.ok
  } finally {
    if (typeof log === 'number') closeSync(log)
  }
}
