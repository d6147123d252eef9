import { MetaCalls, type MemberReport } from '@tessera/client'
import { asTesseraError, type ChunkServerInfo } from '@tessera/protocol'
import { type Command, EXIT } from '../command.js'
import { TARGET_OPTIONS, connectMeta, resolveClusterTarget } from '../cluster-target.js'
import { formatBytes } from '../progress.js'

/** One member's line of `tessera status`. */
export interface MemberLine {
  id: string
  address: string
  role: string
  term?: number
  commit?: number
  applied?: number
  /** Entries the member trails the leader's log by (from the leader's replication progress). */
  lag?: number
  voter?: boolean
  error?: string
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show the meta members (role, term, commit, applied, lag) and the chunk servers',
  usage: 'tessera status (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE] [--json]',
  details:
    'Asks every member for its Raft status, and the leader for the chunk servers (state, capacity,\n' +
    'used, block count) and the under-replicated block count. Exits 1 when no member reports a leader.',
  options: {
    ...TARGET_OPTIONS,
    json: { type: 'boolean', description: 'print {leader, members: [...], chunks: {servers, underReplicated, unreferencedBlocks, pendingDeletes}} as JSON' },
  },
  async run({ options, out, err, env }) {
    const client = await connectMeta(options, env, { sessions: 1 })
    let reports: MemberReport[]
    try {
      reports = await client.status()
    } finally {
      await client.close()
    }
    const { leader, members } = summarize(reports)
    const chunks = leader === undefined ? undefined : await chunkServers(options, env)
    if (options.json === true) {
      out.write(JSON.stringify({ leader: leader ?? null, members, ...(chunks === undefined ? {} : { chunks }) }) + '\n')
    } else {
      out.write(renderTable(members))
      out.write(leader === undefined ? 'no leader\n' : `leader: ${leader}\n`)
      if (chunks !== undefined) out.write(renderChunks(chunks))
    }
    if (leader === undefined) {
      err.write('tessera status: no member reports a leader\n')
      return EXIT.failure
    }
    return EXIT.ok
  },
}

export function summarize(reports: readonly MemberReport[]): { leader: string | undefined; members: MemberLine[] } {
  const leaderStatus = reports.map((r) => r.status).find((s) => s?.role === 'leader')
  const lagOf = new Map(leaderStatus?.members.map((m) => [m.id, m]) ?? [])
  const members = reports.map((report): MemberLine => {
    const s = report.status
    if (s === undefined) return { id: '?', address: report.address, role: 'unreachable', error: report.error?.message ?? 'no answer' }
    const progress = lagOf.get(s.id)
    return {
      id: s.id, address: s.address, role: s.role, term: s.term, commit: s.commit, applied: s.applied,
      ...(progress?.lag === undefined ? {} : { lag: progress.lag }),
      ...(progress === undefined ? {} : { voter: progress.voter }),
    }
  })
  return { leader: leaderStatus?.id, members }
}

function renderTable(members: readonly MemberLine[]): string {
  const header = ['ID', 'ADDRESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG']
  const rows = members.map((m) => [
    m.id, m.address, m.voter === false ? `${m.role} (learner)` : m.role,
    String(m.term ?? '-'), String(m.commit ?? '-'), String(m.applied ?? '-'), String(m.lag ?? '-'),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n'
  return [header, ...rows].map(line).join('')
}

interface ChunkReport {
  servers?: ChunkServerInfo[]
  underReplicated?: number
  /** Blocks no file references, waiting out GC's grace period. */
  unreferencedBlocks?: number
  /** GC delete orders the chunk servers have not confirmed. */
  pendingDeletes?: number
  error?: string
}

async function chunkServers(options: Parameters<typeof resolveClusterTarget>[0], env: NodeJS.ProcessEnv): Promise<ChunkReport> {
  const target = await resolveClusterTarget(options, env)
  const calls = new MetaCalls({ addresses: target.addresses, secret: target.secret, deadlineMs: 5000 })
  try {
    const { servers, underReplicated, unreferencedBlocks, pendingDeletes } = await calls.call('meta.chunkServers', {})
    return {
      servers, underReplicated,
      ...(unreferencedBlocks === undefined ? {} : { unreferencedBlocks }),
      ...(pendingDeletes === undefined ? {} : { pendingDeletes }),
    }
  } catch (err) {
    return { error: asTesseraError(err).message }
  } finally {
    await calls.close()
  }
}

function renderChunks(report: ChunkReport): string {
  if (report.servers === undefined) return `chunk servers: unknown (${report.error ?? 'no answer'})\n`
  if (report.servers.length === 0) return 'chunk servers: none registered\n'
  const header = ['CHUNK', 'ADDRESS', 'ZONE', 'STATE', 'CAPACITY', 'USED', 'BLOCKS']
  const rows = report.servers.map((s) => [
    s.id, s.address, s.zone === '' ? '-' : s.zone, s.state, formatBytes(s.capacityBytes), formatBytes(s.usedBytes), String(s.blockCount),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n'
  const gc = report.unreferencedBlocks === undefined
    ? ''
    : `unreferenced blocks (GC grace): ${report.unreferencedBlocks}, pending deletes: ${report.pendingDeletes ?? 0}\n`
  return '\n' + [header, ...rows].map(line).join('') + `under-replicated blocks: ${report.underReplicated ?? 0}\n` + gc
}
