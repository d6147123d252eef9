/**
 * Which cluster an admin command talks to, decided in one place:
 * - meta addresses: `--meta host:port,...`, else TESSERA_META, else `--dir D` (D/local.json of a
 *   cluster started by `tessera up`);
 * - the secret: `--secret-file F`, else TESSERA_SECRET_FILE, else D/secret.
 */
import { join } from 'node:path'
import { MetaClient, type MetaClientOptions } from '@tessera/client'
import { type OptionSpec, type ParsedOptions, UsageError, stringOption } from './command.js'
import { SECRET_FILE, readSecret } from './cluster-files.js'
import { readLocalState } from './local/local-state.js'

export const TARGET_OPTIONS: Record<string, OptionSpec> = {
  meta: { type: 'string', value: 'HOST:PORT,...', description: 'meta members to reach (or TESSERA_META)' },
  dir: { type: 'string', value: 'DIR', description: 'a local cluster started by `tessera up --dir DIR`' },
  'secret-file': { type: 'string', value: 'FILE', description: 'the cluster secret (or TESSERA_SECRET_FILE; default DIR/secret)' },
}

export interface ClusterTarget {
  addresses: string[]
  secret: Buffer
}

export function parseAddressList(text: string, flag: string): string[] {
  const addresses = text.split(',').map((a) => a.trim()).filter((a) => a !== '')
  if (addresses.length === 0) throw new UsageError(`${flag}: no address given`)
  for (const address of addresses) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(address)) throw new UsageError(`${flag}: '${address}' is not host:port`)
  }
  return addresses
}

export async function resolveClusterTarget(options: ParsedOptions, env: NodeJS.ProcessEnv): Promise<ClusterTarget> {
  const dir = stringOption(options, 'dir')
  const metaFlag = stringOption(options, 'meta')
  let addresses: string[]
  if (metaFlag !== undefined) {
    addresses = parseAddressList(metaFlag, '--meta')
  } else if (env.TESSERA_META !== undefined && env.TESSERA_META !== '') {
    addresses = parseAddressList(env.TESSERA_META, 'TESSERA_META')
  } else if (dir !== undefined) {
    const state = await readLocalState(dir)
    if (state === undefined || state.metas.length === 0) throw new UsageError(`${dir} holds no local cluster (run 'tessera up --dir ${dir}')`)
    addresses = state.metas.map((m) => m.address)
  } else {
    throw new UsageError('name the cluster with --meta HOST:PORT,..., TESSERA_META or --dir DIR')
  }
  const secretFile = stringOption(options, 'secret-file')
    ?? (env.TESSERA_SECRET_FILE !== undefined && env.TESSERA_SECRET_FILE !== '' ? env.TESSERA_SECRET_FILE : undefined)
    ?? (dir === undefined ? undefined : join(dir, SECRET_FILE))
  if (secretFile === undefined) throw new UsageError('the cluster secret is needed: --secret-file FILE, TESSERA_SECRET_FILE or --dir DIR')
  return { addresses, secret: await readSecret(secretFile) }
}

/** A MetaClient for the cluster the command's options name. */
export async function connectMeta(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
  extra: Partial<MetaClientOptions> = {},
): Promise<MetaClient> {
  const target = await resolveClusterTarget(options, env)
  return new MetaClient({ addresses: target.addresses, secret: target.secret, ...extra })
}
