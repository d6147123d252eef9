import type { MemberStatus } from '@tessera/protocol'
import { type Command, EXIT, UsageError } from '../command.js'
import { TARGET_OPTIONS } from '../cluster-target.js'
import { parseHostPort } from './meta.js'
import { columns, withMeta } from './fs-output.js'

const ACTIONS = ['list', 'add', 'remove', 'promote', 'transfer-leader'] as const
type Action = (typeof ACTIONS)[number]

export const membersCommand: Command = {
  name: 'members',
  summary: 'List or change the meta group: add, remove, promote, transfer-leader',
  usage: 'tessera members [list | add ID HOST:PORT | remove ID | promote ID | transfer-leader ID] [--json]\n' +
    '               (--meta HOST:PORT,... | --dir DIR) [--secret-file FILE]',
  details: 'add: the leader adds a started `tessera meta --join` member as a learner (it catches up\n' +
    'without voting); promote: makes a learner a voter; remove: takes a member out of the group;\n' +
    'transfer-leader: hands leadership to a voter and waits until it leads. Each change is one\n' +
    'Raft membership change, made on the leader. Without an action, lists the members.',
  options: {
    ...TARGET_OPTIONS,
    json: { type: 'boolean', description: 'print {members: [{id, address, voter, match, lag, ...}]} as JSON' },
  },
  async run({ options, positionals, out, env }) {
    const [actionText = 'list', ...args] = positionals
    if (!(ACTIONS as readonly string[]).includes(actionText)) {
      throw new UsageError(`unknown action '${actionText}' (one of ${ACTIONS.join(', ')})`)
    }
    const action = actionText as Action
    const wanted = action === 'list' ? 0 : action === 'add' ? 2 : 1
    if (args.length !== wanted) throw new UsageError(`members ${action} takes ${wanted === 2 ? 'ID HOST:PORT' : wanted === 1 ? 'ID' : 'no argument'}`)
    const [id, address] = args as [string, string | undefined]
    if (address !== undefined) parseHostPort(address, 'HOST:PORT')
    const members = await withMeta(options, env, async (client): Promise<MemberStatus[]> => {
      switch (action) {
        case 'add': return client.changeMembers({ op: 'add', id, address: address! })
        case 'remove': return client.changeMembers({ op: 'remove', id })
        case 'promote': return client.changeMembers({ op: 'promote', id })
        case 'transfer-leader': await client.transferLeader(id); break
        case 'list': break
      }
      const leader = (await client.status()).find((r) => r.status?.role === 'leader')?.status
      return leader?.members ?? []
    })
    if (options.json === true) {
      out.write(JSON.stringify({ members }) + '\n')
      return EXIT.ok
    }
    const rows = members.map((m) => [m.id, m.address, m.voter ? 'voter' : 'learner', String(m.match ?? '-'), String(m.lag ?? '-'), m.active === undefined ? '-' : m.active ? 'yes' : 'no'])
    out.write(columns([['ID', 'ADDRESS', 'KIND', 'MATCH', 'LAG', 'ACTIVE'], ...rows], [false, false, false, true, true, false]))
    return EXIT.ok
  },
}
