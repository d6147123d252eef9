import { join } from 'node:path'
import { ChunkDaemon, chunkMetaLinkOver } from '@tessera/chunk'
import { MetaCalls } from '@tessera/client'
import { createLogger } from '@tessera/protocol'
import { type Command, type OptionSpec, EXIT, UsageError, parseSize } from '../command.js'
import { CONFIG_OPTION, configKeys, loadSettings } from '../config-file.js'
import { SECRET_FILE, readClusterConfig, readSecret } from '../cluster-files.js'
import { parseAddressList } from '../cluster-target.js'
import { readLocalState } from '../local/local-state.js'
import { parseHostPort } from './meta.js'

const OPTIONS: Record<string, OptionSpec> = {
  id: { type: 'string', value: 'ID', description: 'this server\'s id (unique in the cluster)' },
  data: { type: 'string', value: 'DIR', description: 'the block store directory' },
  listen: { type: 'string', value: 'HOST:PORT', description: 'where to serve (default 127.0.0.1:7500)' },
  advertise: { type: 'string', value: 'HOST:PORT', description: 'address clients and peers use (default --listen)' },
  meta: { type: 'string', value: 'HOST:PORT,...', description: 'meta members to register with (or TESSERA_META)' },
  dir: { type: 'string', value: 'DIR', description: 'a local cluster started by `tessera up` (meta addresses, secret)' },
  cluster: { type: 'string', value: 'DIR', description: 'the cluster directory (cluster.json and secret)' },
  'secret-file': { type: 'string', value: 'FILE', description: 'the cluster secret, when there is no --cluster' },
  zone: { type: 'string', value: 'ZONE', description: 'failure domain for placement (default none)' },
  capacity: { type: 'string', value: 'SIZE', description: 'use at most this much space (default: the file system)' },
  reserve: { type: 'string', value: 'SIZE', description: 'keep this much free (default 1% of the file system)' },
  config: CONFIG_OPTION,
}

export const chunkCommand: Command = {
  name: 'chunk',
  summary: 'Run a chunk server (stores blocks, serves and replicates them)',
  usage: 'tessera chunk --id ID --data DIR --listen HOST:PORT (--meta HOST:PORT,... | --dir DIR) (--cluster DIR | --secret-file FILE) [--zone Z] [--capacity SIZE] [--reserve SIZE] [--config FILE]',
  details:
    'Opens the block store in --data (a start-up scan quarantines damaged files), serves block\n' +
    'reads and writes on --listen, registers with meta with its block report, and heartbeats\n' +
    'every 3 s, following the meta leader. Stops cleanly on SIGTERM or SIGINT.\n' +
    '--config FILE is a JSON object whose keys are these flags\' names (e.g. {"id": "c1",\n' +
    '"capacity": "100GiB"}); a flag given on the command line wins over the file, and the file\n' +
    'wins over TESSERA_META.',
  options: OPTIONS,
  async run({ options, out, env }) {
    const settings = await loadSettings(options, configKeys(OPTIONS))
    const id = settings.requireString('id')
    const data = settings.requireString('data')
    const dir = settings.string('dir')
    const cluster = settings.string('cluster') ?? dir
    const secretPath = settings.string('secret-file') ?? (cluster === undefined ? undefined : join(cluster, SECRET_FILE))
    if (secretPath === undefined) throw new UsageError('--cluster DIR or --secret-file FILE is required')
    const { host, port } = parseHostPort(settings.string('listen') ?? '127.0.0.1:7500', '--listen')
    const capacity = settings.string('capacity')
    const reserve = settings.string('reserve')
    const capacityBytes = capacity === undefined ? undefined : parseSize(capacity, 'capacity')
    const reserveBytes = reserve === undefined ? undefined : parseSize(reserve, 'reserve')
    const advertise = settings.string('advertise')
    const zone = settings.string('zone')
    const secret = await readSecret(secretPath)
    const metas = await metaAddresses(settings.string('meta') ?? env.TESSERA_META, dir)
    const blockSize = cluster === undefined ? undefined : (await readClusterConfig(cluster)).blockSize
    const logger = createLogger({ component: 'chunk', nodeId: id })
    const calls = new MetaCalls({ addresses: metas, secret, clientId: id, logger, deadlineMs: 5000 })
    const link = chunkMetaLinkOver(calls)
    const stopped = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'))
      process.once('SIGINT', () => resolve('SIGINT'))
    })
    const daemon = await ChunkDaemon.start({
      id, dataDir: data, secret, meta: link, host, port, logger,
      ...(advertise === undefined ? {} : { advertiseAddress: advertise }),
      ...(zone === undefined ? {} : { zone }),
      ...(capacityBytes === undefined ? {} : { capacityBytes }),
      ...(reserveBytes === undefined ? {} : { reserveBytes }),
      ...(blockSize === undefined ? {} : { maxBlockBytes: blockSize }),
    })
    out.write(`chunk ${id} serving on ${daemon.address}\n`)
    const reason = await stopped
    logger.info({ reason }, 'chunk: stopping')
    await daemon.stop()
    return EXIT.ok
  },
}

async function metaAddresses(text: string | undefined, dir: string | undefined): Promise<string[]> {
  if (text !== undefined && text !== '') return parseAddressList(text, '--meta')
  if (dir !== undefined) {
    const state = await readLocalState(dir)
    if (state !== undefined && state.metas.length > 0) return state.metas.map((m) => m.address)
  }
  throw new UsageError('name the meta members with --meta HOST:PORT,..., TESSERA_META or --dir DIR')
}
