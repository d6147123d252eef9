/**
 * The data path for commands that move file contents (put, get, cat, stat's block list): a
 * MetaClient for the namespace, MetaCalls for the cluster map, and a FileStore over both, for
 * the cluster the command's options name (see cluster-target.ts).
 */
import { FileStore, MetaCalls, MetaClient } from '@tessera/client'
import type { ParsedOptions } from './command.js'
import { resolveClusterTarget } from './cluster-target.js'

export interface DataSession {
  meta: MetaClient
  calls: MetaCalls
  files: FileStore
}

/** Runs `body` with a data session for the named cluster and closes it afterwards. */
export async function withData<T>(options: ParsedOptions, env: NodeJS.ProcessEnv, body: (session: DataSession) => Promise<T>): Promise<T> {
  const target = await resolveClusterTarget(options, env)
  const meta = new MetaClient({ addresses: target.addresses, secret: target.secret, sessions: 2 })
  const calls = new MetaCalls({ addresses: target.addresses, secret: target.secret })
  const files = new FileStore({ meta, calls, secret: target.secret })
  try {
    return await body({ meta, calls, files })
  } finally {
    await files.close()
    await calls.close()
    await meta.close()
  }
}
