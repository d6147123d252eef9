/**
 * Scenario tests as data (etcd's interaction tests with cockroachdb/datadriven, small): a file
 * of blocks, each a command line, `----`, and the expected output. The output includes the
 * core's own log lines, so a behaviour change shows up as a readable diff. REWRITE=1 rewrites
 * the expected outputs (then review the diff).
 *
 * Commands (node ids are free-form words):
 *   bootstrap a b c [prevote] [checkquorum]   a group with these founding voters (its log lines omitted)
 *   add-node d                                 a member-to-be with an empty log
 *   campaign a | tick a [n] | tick-all [n] | tick-election a
 *   propose a <data> | read-index a <ctx> | transfer a b | conf-change a addLearner|promote|remove d
 *   isolate a | cut a b | recover | snapshot a [keep] | restart a
 *   status | log a | applied a
 */
import { TesseraError, type ConfChangeType, type NodeId } from '@tessera/protocol'
import type { RaftLogger } from '../core/index.js'
import { Network } from './network.js'

export interface Block {
  line: number
  /** `#` lines just above the command, kept when the file is rewritten. */
  comments: string[]
  command: string
  expected: string
}

export function parseDatadriven(text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  let i = 0
  let comments: string[] = []
  while (i < lines.length) {
    const l = lines[i]!
    if (l.trim() === '') {
      i++
      continue
    }
    if (l.startsWith('#')) {
      comments.push(l)
      i++
      continue
    }
    const start = i
    const command = l.trim()
    i++
    if (lines[i] !== '----') throw new Error(`line ${i + 1}: expected ---- after "${command}"`)
    i++
    const out: string[] = []
    while (i < lines.length && lines[i]!.trim() !== '') out.push(lines[i++]!)
    blocks.push({ line: start + 1, comments, command, expected: out.join('\n') })
    comments = []
  }
  return blocks
}

export function formatDatadriven(blocks: ReadonlyArray<{ comments: string[]; command: string; actual: string }>): string {
  return blocks.map((b) => [...b.comments, b.command, '----', b.actual, ''].join('\n')).join('\n')
}

function fmtFields(obj: object): string {
  return Object.entries(obj).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
}

/** Runs commands against a Network of real cores, collecting output and core log lines. */
export class InteractionEnv {
  private net: Network | undefined
  private readonly logLines: string[] = []

  private logger(id: NodeId): RaftLogger {
    const line = (level: string) => (obj: object | string, msg?: string): void => {
      this.logLines.push(typeof obj === 'string' ? `${id} ${level} ${obj}` : `${id} ${level} ${msg ?? ''} ${fmtFields(obj)}`.trimEnd())
    }
    return { debug: () => {}, info: line('INFO'), warn: line('WARN'), error: line('ERROR') }
  }

  private get network(): Network {
    if (this.net === undefined) throw new Error('no group: run bootstrap first')
    return this.net
  }

  run(command: string): string {
    this.logLines.length = 0
    let result: string
    try {
      result = this.exec(command.split(/\s+/))
    } catch (err) {
      result = `error: ${(err as Error).message}`
    }
    return [...this.logLines, result].filter((l) => l !== '').join('\n') || 'ok'
  }

  private exec(words: string[]): string {
    const [cmd, ...args] = words
    const arg = (k: number): string => {
      const v = args[k]
      if (v === undefined) throw new Error(`${cmd}: missing argument ${k + 1}`)
      return v
    }
    const count = (k: number): number => (args[k] === undefined ? 1 : Number.parseInt(args[k]!, 10))
    switch (cmd) {
      case 'bootstrap': {
        const ids = args.filter((a) => a !== 'prevote' && a !== 'checkquorum')
        this.net = Network.bootstrap(ids, {
          config: { preVote: args.includes('prevote'), checkQuorum: args.includes('checkquorum') },
          logger: (id) => this.logger(id),
        })
        // The bootstrap entries' conf-change lines are the same in every file: leave them out.
        this.logLines.length = 0
        return ''
      }
      case 'add-node':
        this.network.addNode(arg(0))
        return ''
      case 'campaign':
        this.network.campaign(arg(0))
        return ''
      case 'tick':
        this.network.tick(arg(0), count(1))
        return ''
      case 'tick-all':
        this.network.tickAll(count(0))
        return ''
      case 'tick-election':
        this.network.tick(arg(0), 2 * this.network.node(arg(0)).config.electionTick)
        return ''
      case 'propose': {
        const r = this.network.propose(arg(0), args.slice(1).join(' '))
        return r instanceof TesseraError ? `${r.code}: ${r.message}` : `proposed index=${r.index} term=${r.term}`
      }
      case 'read-index': {
        const n = this.network.node(arg(0))
        const before = n.readStates.length
        const err = n.core.readIndex(new TextEncoder().encode(arg(1)))
        if (err !== undefined) return `${err.code}: ${err.message}`
        this.network.stabilize()
        return n.readStates.slice(before).map((r) => `read-state index=${r.index} ctx=${new TextDecoder().decode(r.context)}`).join('\n') || 'pending'
      }
      case 'transfer': {
        const err = this.network.node(arg(0)).core.transferLeadership(arg(1))
        this.network.stabilize()
        return err === undefined ? '' : `${err.code}: ${err.message}`
      }
      case 'conf-change': {
        const type = arg(1) as ConfChangeType
        if (type === 'addLearner' && !this.network.nodes.has(arg(2))) this.network.addNode(arg(2))
        const r = this.network.node(arg(0)).core.proposeConfChange({ type, node: arg(2) })
        this.network.stabilize()
        return r instanceof TesseraError ? `${r.code}: ${r.message}` : `proposed index=${r.index} term=${r.term}`
      }
      case 'isolate':
        this.network.isolate(arg(0))
        return ''
      case 'cut':
        this.network.cut(arg(0), arg(1))
        return ''
      case 'recover':
        this.network.recover()
        return ''
      case 'snapshot': {
        const s = this.network.node(arg(0)).takeSnapshot(new TextEncoder().encode(`state-of-${arg(0)}`), args[1] === undefined ? 0 : Number(args[1]))
        return `snapshot index=${s.meta.index} term=${s.meta.term}`
      }
      case 'restart': {
        const n = this.network.node(arg(0))
        n.restart()
        this.network.send(n.process())
        return ''
      }
      case 'status':
        return [...this.network.nodes.values()]
          .map((n) => {
            const st = n.core.status()
            return `${st.id}: ${st.role} term=${st.term} leader=${st.leader || '-'} commit=${st.commit} applied=${st.applied} log=${st.firstIndex}..${st.lastIndex} voters=${st.conf.voters.join(',')}${st.conf.learners.length > 0 ? ` learners=${st.conf.learners.join(',')}` : ''}`
          })
          .join('\n')
      case 'log':
        return this.network.node(arg(0)).core.entriesFrom(1).map((e) => `${e.index}/${e.term} ${e.kind === 1 ? 'conf' : JSON.stringify(new TextDecoder().decode(e.data))}`).join('\n')
      case 'applied':
        return this.network.node(arg(0)).appliedData().join(' ') || '(none)'
      default:
        throw new Error(`unknown command ${String(cmd)}`)
    }
  }
}
