import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MetaService, type DataPathSettings, type NamespaceOptions } from '@tessera/meta'
import { TesseraError, createLogger } from '@tessera/protocol'
import { type Command, type ParsedOptions, EXIT, UsageError } from '../command.js'
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
}

const KEYS = ['id', 'data', 'listen', 'advertise', 'peers', 'cluster', 'secret-file', 'join'] as const

export const metaCommand: Command = {
  name: 'meta',
  summary: 'Run a metadata service member (a Raft replica of the namespace)',
  usage: 'tessera meta --id ID --data DIR --listen HOST:PORT --peers ID=HOST:PORT,... (--cluster DIR | --secret-file FILE) [--join] [--config FILE]',
  details:
    'Serves clients, peers, /healthz and /metrics on one port. On first start with an empty data\n' +
    'directory the members named by --peers found the group together (start all of them with the\n' +
    'same --peers); later starts resume from the log and snapshots in DIR/raft. With --join the\n' +
    'member starts empty and waits to be added by the leader (`meta.members add`).\n' +
    '--config FILE is JSON with the same keys as the flags (peers may be an object); flags win.\n' +
    'Stops cleanly on SIGTERM or SIGINT.',
  options: {
    id: { type: 'string', value: 'ID', description: 'this member\'s id (unique in the cluster)' },
    data: { type: 'string', value: 'DIR', description: 'data directory (Raft log and snapshots)' },
    listen: { type: 'string', value: 'HOST:PORT', description: 'where to serve (default 127.0.0.1:7400)' },
    advertise: { type: 'string', value: 'HOST:PORT', description: 'address peers and clients use (default --listen)' },
    peers: { type: 'string', value: 'ID=HOST:PORT,...', description: 'the founding members (this one may be included)' },
    cluster: { type: 'string', value: 'DIR', description: 'the cluster directory (cluster.json and secret)' },
    'secret-file': { type: 'string', value: 'FILE', description: 'the cluster secret, when there is no --cluster' },
    join: { type: 'boolean', description: 'start empty, to be added to a running group' },
    config: { type: 'string', value: 'FILE', description: 'JSON file with the same keys as these flags' },
  },
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
    const service = await MetaService.listen({
      id: settings.id, dataDir: settings.data, host, port, secret, logger, namespace, dataPath,
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
  const file: Record<string, unknown> = {}
  const configPath = options.config
  if (typeof configPath === 'string') {
    let parsed: unknown
    try {
      parsed = JSON.parse(await readFile(configPath, 'utf8'))
    } catch (error) {
      throw new TesseraError('EINVAL', `cannot read config ${configPath}: ${(error as Error).message}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TesseraError('EINVAL', `${configPath}: not a JSON object`)
    for (const [key, value] of Object.entries(parsed)) {
      if (!(KEYS as readonly string[]).includes(key)) throw new TesseraError('EINVAL', `${configPath}: unknown key '${key}'`)
      file[key] = value
    }
  }
  const pick = (key: (typeof KEYS)[number]): unknown => options[key] ?? file[key]
  const text = (key: (typeof KEYS)[number]): string | undefined => {
    const value = pick(key)
    if (value === undefined) return undefined
    if (typeof value !== 'string' || value === '') throw new UsageError(`--${key} must be a non-empty string`)
    return value
  }
  const id = text('id')
  const data = text('data')
  if (id === undefined) throw new UsageError('--id is required')
  if (data === undefined) throw new UsageError('--data is required')
  const join = pick('join') === true
  const peersValue = pick('peers')
  const peers = peersValue === undefined ? {} : parsePeers(peersValue)
  if (!join && Object.keys(peers).length === 0 && text('listen') === undefined) {
    throw new UsageError('--peers is required (or --listen for a single-member group)')
  }
  if (join && Object.keys(peers).length === 0) {
    // A joining member learns the group from the leader's appends, but must be able to answer
    // them: without the members' addresses it would wait forever without a word.
    throw new UsageError('--join needs --peers naming the running members')
  }
  const settings: MetaSettings = { id, data, listen: text('listen') ?? '127.0.0.1:7400', peers, join }
  const advertise = text('advertise')
  const cluster = text('cluster')
  const secretFile = text('secret-file')
  if (advertise !== undefined) settings.advertise = advertise
  if (cluster !== undefined) settings.cluster = cluster
  if (secretFile !== undefined) settings.secretFile = secretFile
  return settings
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
