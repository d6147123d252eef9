import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { TesseraError } from '@tessera/protocol'

/** What `tessera format` decides once for the life of a cluster. */
export interface ClusterConfig {
  clusterId: string
  /** Largest block, in bytes (DESIGN decision 5). */
  blockSize: number
  /** Copies each block should have. */
  replication: number
  /** Fewest durable copies a write may succeed with while servers are down. */
  minCopies: number
  createdAt: string
}

export const CLUSTER_FILE = 'cluster.json'
export const SECRET_FILE = 'secret'
export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024
const MIN_BLOCK_SIZE = 64 * 1024
const MAX_BLOCK_SIZE = 64 * 1024 * 1024

export function validateClusterConfig(config: ClusterConfig): void {
  const { blockSize, replication, minCopies } = config
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || blockSize % (64 * 1024) !== 0) {
    throw new TesseraError('EINVAL', `block size ${blockSize} must be a multiple of 64 KiB between 64 KiB and 64 MiB`)
  }
  if (!Number.isInteger(replication) || replication < 1 || replication > 5) {
    throw new TesseraError('EINVAL', `replication ${replication} must be between 1 and 5`)
  }
  if (!Number.isInteger(minCopies) || minCopies < 1 || minCopies > replication) {
    throw new TesseraError('EINVAL', `min copies ${minCopies} must be between 1 and the replication (${replication})`)
  }
}

/** Creates `dir/cluster.json` and `dir/secret` (mode 0600); refuses to overwrite a cluster. */
export async function formatCluster(dir: string, settings: Pick<ClusterConfig, 'blockSize' | 'replication' | 'minCopies'>): Promise<ClusterConfig> {
  const config: ClusterConfig = { clusterId: randomUUID(), createdAt: new Date().toISOString(), ...settings }
  validateClusterConfig(config)
  await mkdir(dir, { recursive: true })
  if (await exists(join(dir, CLUSTER_FILE))) {
    throw new TesseraError('EEXIST', `${join(dir, CLUSTER_FILE)} exists: ${dir} already holds a cluster`)
  }
  await writeDurably(join(dir, SECRET_FILE), randomBytes(32).toString('hex') + '\n', 0o600)
  await writeDurably(join(dir, CLUSTER_FILE), JSON.stringify(config, null, 2) + '\n', 0o644)
  return config
}

export async function readClusterConfig(dir: string): Promise<ClusterConfig> {
  const path = join(dir, CLUSTER_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new TesseraError('ENOENT', `cannot read ${path}: ${(err as Error).message} (run 'tessera format' first)`)
  }
  let config: ClusterConfig
  try {
    config = JSON.parse(text) as ClusterConfig
  } catch {
    throw new TesseraError('EINVAL', `${path} is not valid JSON`)
  }
  if (typeof config.clusterId !== 'string') throw new TesseraError('EINVAL', `${path}: clusterId is missing`)
  validateClusterConfig(config)
  return config
}

/** Reads a secret file: hex text of at least 32 bytes; refuses files others may read. */
export async function readSecret(path: string): Promise<Buffer> {
  let text: string
  try {
    const info = await stat(path)
    if ((info.mode & 0o077) !== 0) {
      throw new TesseraError('EACCES', `${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`)
    }
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if (err instanceof TesseraError) throw err
    throw new TesseraError('ENOENT', `cannot read secret ${path}: ${(err as Error).message}`)
  }
  if (!/^[0-9a-f]{64,}$/i.test(text)) throw new TesseraError('EINVAL', `${path} does not hold a hex secret of at least 32 bytes`)
  return Buffer.from(text, 'hex')
}

/** True when something exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/** Writes to a temporary name, fsyncs, renames, fsyncs the directory. */
export async function writeDurably(path: string, contents: string | Uint8Array, mode: number): Promise<void> {
  const temporary = `${path}.tmp`
  const file = await open(temporary, 'w', mode)
  try {
    await file.writeFile(contents)
    await file.chmod(mode)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(temporary, path)
  const directory = await open(join(path, '..'), 'r')
  try {
    await directory.sync()
  } finally {
    await directory.close()
  }
}
