import { join } from 'node:path'
import { DEFAULT_GC, MetaService, type DataPathSettings, type GcSettings, type NamespaceOptions } from '@tessera/meta'
import { createLogger } from '@tessera/protocol'
import { type Command, type OptionSpec, type ParsedOptions, EXIT, UsageError } from '../command.js'
import { CONFIG_OPTION, configKeys, loadSettings } from '../config-file.js'
import { SECRET_FILE, readClusterConfig, readSecret } from '../cluster-files.js'

/** The daemon's settings: flags, over the keys of --config FILE. */
interface MetaSettings {
  id: string
  data: string
  listen: string
  advertise?: string
  peers: Record<string, string>
  cluster?: string
  secretFile?: string
  join: boolean
  gcGraceMs?: number
}

const OPTIONS: Record<string, OptionSpec> = {
  id: { type: 'string', value: 'ID', description: 'this member\'s id (unique in the cluster)' },
  data: { type: 'string', value: 'DIR', description: 'data directory (Raft log and snapshots)' },
  listen: { type: 'string', value: 'HOST:PORT', description: 'where to serve (default 127.0.0.1:7400)' },
  advertise: { type: 'string', value: 'HOST:PORT', description: 'address peers and clients use (default --listen)' },
  peers: { type: 'string', value: 'ID=HOST:PORT,...', description: 'the founding members (this one may be included)' },
  cluster: { type: 'string', value: 'DIR', description: 'the cluster directory (cluster.json and secret)' },
  'secret-file': { type: 'string', value: 'FILE', description: 'the cluster secret, when there is no --cluster' },
  join: { type: 'boolean', description: 'start empty, to be added to a running group' },
  'gc-grace-ms': { type: 'string', value: 'MS', description: 'delete blocks unreferenced for this long (default 600000: 10 minutes)' },
  config: CONFIG_OPTION,
}

/** In a config file `peers` may also be an object of id to address. */
const CONFIG_KEYS = configKeys(OPTIONS, { peers: 'any' })

export const metaCommand: Command = {
  name: 'meta',
  summary: 'Run a metadata service member (a Raft replica of the namespace)',
  usage: 'tessera meta --id ID --data DIR --listen HOST:PORT --peers ID=HOST:PORT,... (--cluster DIR | --secret-file FILE) [--join] [--config FILE]',
  details:
    'Serves clients, peers, /healthz and /metrics on one port. On first start with an empty data\n' +
    'directory the members named by --peers found the group together (start all of them with the\n' +
    'same --peers); later starts resume from the log and snapshots in DIR/raft. With --join the\n' +
    'member starts empty and waits to be added by the leader (`meta.members add`).\n' +
    '--config FILE is a JSON object whose keys are these flags\' names (peers may be an object of\n' +
    'ID to HOST:PORT); a flag given on the command line wins over the file.\n' +
    'Stops cleanly on SIGTERM or SIGINT.',
  options: OPTIONS,
  async run({ options, out, err }) {
    const settings = await settingsFrom(options)
    const secretPath = settings.secretFile ?? (settings.cluster === undefined ? undefined : join(settings.cluster, SECRET_FILE))
    if (secretPath === undefined) throw new UsageError('--cluster DIR or --secret-file FILE is required')
    const secret = await readSecret(secretPath)
    const namespace: Partial<NamespaceOptions> = {}
    const dataPath: Partial<DataPathSettings> = {}
    if (settings.cluster !== undefined) {
      const config = await readClusterConfig(settings.cluster)
      namespace.maxBlockBytes = config.blockSize
      namespace.replication = config.replication
      dataPath.minCopies = config.minCopies
    }
    const { host, port } = parseHostPort(settings.listen, '--listen')
    const logger = createLogger({ component: 'meta', nodeId: settings.id })
    const gc: Partial<GcSettings> = settings.gcGraceMs === undefined ? {} : gcWithGrace(settings.gcGraceMs)
    const service = await MetaService.listen({
      id: settings.id, dataDir: settings.data, host, port, secret, logger, namespace, dataPath, gc,
      ...(settings.advertise === undefined ? {} : { advertise: settings.advertise }),
    })
    let fatal = false
    const stopped = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'))
      process.once('SIGINT', () => resolve('SIGINT'))
    })
    try {
      await service.start({ peers: settings.peers, join: settings.join })
    } catch (error) {
      await service.stop()
      throw error
    }
    const failed = new Promise<string>((resolve) => service.raft?.onFatal(() => {
      fatal = true
      resolve('fatal storage failure')
    }))
    out.write(`meta ${settings.id} serving on ${service.address}\n`)
    const reason = await Promise.race([stopped, failed])
    logger.info({ reason }, 'meta: stopping')
    await service.stop()
    if (fatal) err.write(`tessera meta: ${settings.id} stopped after a storage failure (see the log)\n`)
    return fatal ? EXIT.failure : EXIT.ok
  },
}

async function settingsFrom(options: ParsedOptions): Promise<MetaSettings> {
  const settings = await loadSettings(options, CONFIG_KEYS)
  const id = settings.requireString('id')
  const data = settings.requireString('data')
  const join = settings.boolean('join')
  const peersValue = settings.value('peers')
  const peers = peersValue === undefined ? {} : parsePeers(peersValue)
  const listen = settings.string('listen')
  if (!join && Object.keys(peers).length === 0 && listen === undefined) {
    throw new UsageError('--peers is required (or --listen for a single-member group)')
  }
  if (join && Object.keys(peers).length === 0) {
    // A joining member learns the group from the leader's appends, but must be able to answer
    // them: without the members' addresses it would wait forever without a word.
    throw new UsageError('--join needs --peers naming the running members')
  }
  const result: MetaSettings = { id, data, listen: listen ?? '127.0.0.1:7400', peers, join }
  const advertise = settings.string('advertise')
  const cluster = settings.string('cluster')
  const secretFile = settings.string('secret-file')
  if (advertise !== undefined) result.advertise = advertise
  if (cluster !== undefined) result.cluster = cluster
  if (secretFile !== undefined) result.secretFile = secretFile
  const grace = settings.string('gc-grace-ms')
  if (grace !== undefined) {
    if (!/^\d{1,12}$/.test(grace)) throw new UsageError(`--gc-grace-ms: '${grace}' is not a number of milliseconds`)
    result.gcGraceMs = Number(grace)
  }
  return result
}

/** A short grace period (tests, demos) also gets passes often enough to notice it. */
function gcWithGrace(graceMs: number): Partial<GcSettings> {
  return { graceMs, intervalMs: Math.min(DEFAULT_GC.intervalMs, Math.max(100, Math.floor(graceMs / 2))) }
}

/** 'a=h:1,b=h:2' or {a: 'h:1'} -> {a: 'h:1', b: 'h:2'}. */
export function parsePeers(value: unknown): Record<string, string> {
  const peers: Record<string, string> = {}
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [id, address] of Object.entries(value)) {
      if (typeof address !== 'string') throw new UsageError(`peers: the address of ${id} is not a string`)
      parseHostPort(address, `peer ${id}`)
      peers[id] = address
    }
    return peers
  }
  if (typeof value !== 'string') throw new UsageError('--peers must be ID=HOST:PORT,...')
  for (const item of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw new UsageError(`--peers: '${item}' is not ID=HOST:PORT`)
    const id = item.slice(0, eq)
    const address = item.slice(eq + 1)
    parseHostPort(address, `--peers ${id}`)
    if (peers[id] !== undefined) throw new UsageError(`--peers: ${id} is named twice`)
    peers[id] = address
  }
  return peers
}

export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text)
  const port = match === null ? NaN : Number(match[3])
  if (match === null || port > 65535) throw new UsageError(`${flag}: '${text}' is not HOST:PORT`)
  return { host: match[1] ?? match[2]!, port }
}
