/**
 * The parent side of a group of KV node processes: fork, SIGKILL, restart from the same
 * directory and port, and know who leads (from the children's role reports).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NodeId } from '@tessera/protocol'
import type { ChildMessage, KvNodeConfig, ParentMessage } from './kv-node-ipc.js'
import { waitFor } from './cluster.js'

export const KV_NODE_SCRIPT = fileURLToPath(new URL('./kv-node-process.js', import.meta.url))

export interface ProcessMemberOptions {
  tickMs?: number
  electionTicks?: number
  snapshotEntries?: number
  logLevel?: string
}

interface ProcessMember {
  id: NodeId
  dir: string
  port: number
  child: ChildProcess | undefined
  exited: Promise<void>
  role: string
  leader: NodeId
  term: number
  messages: ((m: ChildMessage) => void)[]
}

export class ProcessCluster {
  readonly secret = randomBytes(32)
  private readonly members = new Map<NodeId, ProcessMember>()
  private peers: Record<NodeId, string> = {}

  private constructor(private readonly root: string, private readonly options: ProcessMemberOptions) {}

  static async start(ids: NodeId[], options: ProcessMemberOptions = {}): Promise<ProcessCluster> {
    const root = await mkdtemp(path.join(tmpdir(), 'tessera-kv-procs-'))
    const cluster = new ProcessCluster(root, options)
    try {
      const members = ids.map((id): ProcessMember => ({
        id, dir: path.join(root, id), port: 0, child: undefined, exited: Promise.resolve(), role: 'follower', leader: '', term: 0, messages: [],
      }))
      for (const m of members) cluster.members.set(m.id, m)
      const ports = await Promise.all(members.map((m) => cluster.spawn(m, true)))
      members.forEach((m, i) => {
        m.port = ports[i]!
        cluster.peers[m.id] = `127.0.0.1:${m.port}`
      })
      await Promise.all(ids.map((id) => cluster.startNode(cluster.members.get(id)!)))
    } catch (err) {
      await cluster.close()
      throw err
    }
    return cluster
  }

  addresses(): Record<NodeId, string> {
    return { ...this.peers }
  }

  ids(): NodeId[] {
    return [...this.members.keys()]
  }

  isAlive(id: NodeId): boolean {
    return this.member(id).child !== undefined
  }

  pid(id: NodeId): number | undefined {
    return this.member(id).child?.pid
  }

  /** The live member that last reported leading, in the highest term any live member reported. */
  currentLeader(): NodeId | undefined {
    let best: ProcessMember | undefined
    for (const m of this.members.values()) {
      if (m.child === undefined || m.role !== 'leader') continue
      if (best === undefined || m.term > best.term) best = m
    }
    return best?.id
  }

  async waitForLeader(timeoutMs = 10_000): Promise<NodeId> {
    await waitFor(() => this.currentLeader() !== undefined, timeoutMs, 'a live leader')
    return this.currentLeader()!
  }

  /** kill -9, and wait until the process is gone. */
  async kill(id: NodeId): Promise<void> {
    const m = this.member(id)
    const child = m.child
    if (child === undefined) return
    child.kill('SIGKILL')
    await m.exited
  }

  /** Starts a killed member again from its directory, on its old port. */
  async restart(id: NodeId): Promise<void> {
    const m = this.member(id)
    if (m.child !== undefined) throw new Error(`${id} is still running`)
    await this.spawn(m, false)
    await this.startNode(m)
  }

  /** Sends `message` to `id` and waits for the first answer of type `answer`. */
  async ask<T extends ChildMessage['type']>(id: NodeId, message: ParentMessage, answer: T, timeoutMs = 60_000): Promise<Extract<ChildMessage, { type: T }>> {
    const m = this.member(id)
    const child = m.child
    if (child === undefined) throw new Error(`${id} is not running`)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        m.messages = m.messages.filter((l) => l !== listener)
        reject(new Error(`${id} did not answer ${message.type} within ${timeoutMs} ms`))
      }, timeoutMs)
      const listener = (reply: ChildMessage): void => {
        if (reply.type !== answer) return
        clearTimeout(timer)
        m.messages = m.messages.filter((l) => l !== listener)
        resolve(reply as Extract<ChildMessage, { type: T }>)
      }
      m.messages.push(listener)
      child.send(message)
    })
  }

  /** SIGKILLs every child still running and removes the data. */
  async close(): Promise<void> {
    await Promise.all([...this.members.keys()].map((id) => this.kill(id)))
    await rm(this.root, { recursive: true, force: true })
  }

  private member(id: NodeId): ProcessMember {
    const m = this.members.get(id)
    if (m === undefined) throw new Error(`no member ${id}`)
    return m
  }

  /** Forks the member's process and resolves with the port it listens on. */
  private spawn(m: ProcessMember, bootstrap: boolean): Promise<number> {
    const config: KvNodeConfig = {
      id: m.id,
      dir: m.dir,
      port: m.port,
      secret: this.secret.toString('hex'),
      bootstrap,
      tickMs: this.options.tickMs ?? 20,
      electionTicks: this.options.electionTicks ?? 10,
      snapshotEntries: this.options.snapshotEntries ?? 10_000,
      ...(this.options.logLevel === undefined ? {} : { logLevel: this.options.logLevel }),
    }
    const child = fork(KV_NODE_SCRIPT, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    m.child = child
    m.role = 'follower'
    m.leader = ''
    m.messages = []
    m.exited = new Promise((resolve) => child.once('exit', () => {
      if (m.child === child) m.child = undefined
      resolve()
    }))
    child.on('message', (message: ChildMessage) => {
      if (m.child !== child) return
      if (message.type === 'role') {
        m.role = message.role
        m.leader = message.leader
        m.term = message.term
      }
      for (const listener of [...m.messages]) listener(message)
    })
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${m.id} did not listen within 10 s`)), 10_000)
      const onMessage = (message: ChildMessage): void => {
        if (message.type === 'listening') {
          clearTimeout(timer)
          m.messages = m.messages.filter((l) => l !== onMessage)
          resolve(message.port)
        } else if (message.type === 'fatal') {
          clearTimeout(timer)
          reject(new Error(`${m.id} failed to start: ${message.message}`))
        }
      }
      m.messages.push(onMessage)
      void m.exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`${m.id} exited before listening`))
      })
    })
  }

  private async startNode(m: ProcessMember): Promise<void> {
    await this.ask(m.id, { type: 'start', peers: this.peers }, 'started', 10_000)
  }
}
