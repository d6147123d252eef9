import type { MemberReport } from '@tessera/client'
import { type Command, EXIT } from '../command.js'
import { TARGET_OPTIONS, connectMeta } from '../cluster-target.js'

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
  summary: 'Show the meta members: role, term, commit and applied index, lag',
  usage: 'tessera status (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE] [--json]',
  details: 'Asks every member for its Raft status. Exits 1 when no member reports a leader.',
  options: {
    ...TARGET_OPTIONS,
    json: { type: 'boolean', description: 'print {leader, members: [...]} as JSON' },
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
    if (options.json === true) {
      out.write(JSON.stringify({ leader: leader ?? null, members }) + '\n')
    } else {
      out.write(renderTable(members))
      out.write(leader === undefined ? 'no leader\n' : `leader: ${leader}\n`)
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
