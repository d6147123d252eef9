/**
 * The cluster map's RPC handlers (clusterCatalogue), on the leader: chunk servers register,
 * heartbeat and report blocks; clients get placements and locations with block tokens signed
 * by the cluster secret (DESIGN decision 8), and record where blocks they wrote landed.
 */
import {
  MAX_GC_GRACE_MS, TesseraError, signBlockToken, type BlockLocationInfo, type ChunkServerInfo, type Handlers,
  type Logger,
} from '@tessera/protocol'
import type { RaftNode } from '@tessera/raft'
import type { ChunkServerRecord, ClusterRequest } from '../fsm/index.js'
import { choosePlacement, type Candidate } from '../placement/index.js'
import { blockIdOfChunkKey, blockIdOfRef, chunkKeyOfBlockId } from './block-names.js'
import type { ChunkLiveness } from './chunk-liveness.js'
import type { PlacementPins } from './gc.js'
import { notLeader, proposeCommand, type ClusterMethod, type HandlerDeps, type ServedCatalogue } from './handlers.js'

export interface DataPathSettings {
  /** Fewest durable copies a write may succeed with (default 2, capped by the replication). */
  minCopies: number
  /** A chunk server not heard from for this long is declared down (default 15 s). */
  chunkTimeoutMs: number
  /** Lifetime of a block token (default 5 min). */
  tokenTtlMs: number
}

export const DEFAULT_DATA_PATH: Readonly<DataPathSettings> = { minCopies: 2, chunkTimeoutMs: 15_000, tokenTtlMs: 5 * 60_000 }

/** Most delete orders one heartbeat reply carries (the rest follow in the next ones). */
export const MAX_DELETES_PER_HEARTBEAT = 1024

export interface ClusterDeps extends HandlerDeps {
  secret: Uint8Array
  liveness: ChunkLiveness
  settings: DataPathSettings
  logger: Logger
  /** Wall-clock ms (token expiry, liveness). */
  clockMs(): number
  random(): number
  /** Where placements are remembered for GC (it spares blocks being written: gc.ts). */
  pins: PlacementPins
  /** GC's grace period (ms), for writers: they renew their leases well within it. */
  gcGraceMs: number
}

function leader(deps: ClusterDeps): RaftNode {
  const node = deps.node()
  if (!node.isLeader()) throw notLeader(node)
  return node
}

function proposeCluster(deps: ClusterDeps, req: ClusterRequest): Promise<unknown> {
  return proposeCommand(deps, { kind: 'system', time: deps.now(), req })
}

function blockIds(keys: readonly string[]): string[] {
  return keys.map(blockIdOfChunkKey)
}

export function clusterHandlers(deps: ClusterDeps): Pick<Handlers<ServedCatalogue>, ClusterMethod> {
  const ns = () => deps.stateMachine.namespace
  const servers = () => ns().chunkServers()
  const byNum = () => new Map(servers().map((s) => [s.num, s]))
  const token = (key: string, op: 'read' | 'write', clientId: string) =>
    signBlockToken(deps.secret, { key, op, expiresAtMs: deps.clockMs() + deps.settings.tokenTtlMs, clientId: clientId.slice(0, 128) })
  const replication = () => ns().options.replication
  const minCopies = () => Math.max(1, Math.min(deps.settings.minCopies, replication()))

  return {
    'chunk.register': async (req) => {
      leader(deps)
      const blocks = req.blocks === undefined ? undefined : blockIds(req.blocks)
      deps.liveness.note(req.id, deps.clockMs(), { capacityBytes: req.capacityBytes, usedBytes: req.usedBytes, blockCount: req.blocks?.length ?? 0, load: 0 })
      const known = servers().find((s) => s.id === req.id)
      await proposeCluster(deps, {
        op: 'registerChunk', id: req.id, address: req.address, zone: req.zone, capacityBytes: req.capacityBytes,
        usedBytes: req.usedBytes, ...(blocks === undefined ? {} : { blocks }),
      })
      if (known === undefined || known.state === 'down') {
        deps.logger.info({ chunk: req.id, address: req.address, zone: req.zone, blocks: blocks?.length ?? 0 }, 'meta: chunk server registered')
      }
      return {}
    },

    'chunk.heartbeat': async (req) => {
      leader(deps)
      const known = servers().find((s) => s.id === req.id)
      if (known === undefined || known.state === 'down') return { deletes: [], register: true }
      const { usedBytes, capacityBytes, blockCount, load } = req
      deps.liveness.note(req.id, deps.clockMs(), { usedBytes, capacityBytes, blockCount, load })
      if (ns().deleteOrdersFor(known.num, 1).length === 0) return { deletes: [], register: false }
      // Orders are read from the applied state once it holds everything committed (a new leader
      // may not have applied a registration that dropped this server's orders yet).
      await leader(deps).readBarrier()
      const current = servers().find((s) => s.id === req.id)
      if (current === undefined || current.state === 'down') return { deletes: [], register: true }
      const ids = ns().deleteOrdersFor(current.num, MAX_DELETES_PER_HEARTBEAT)
      return { deletes: ids.map((id) => ({ key: chunkKeyOfBlockId(id) })), register: false }
    },

    'chunk.blockReport': async (req) => {
      leader(deps)
      await proposeCluster(deps, { op: 'blockReport', id: req.id, blocks: blockIds(req.blocks), replace: req.replace })
      return {}
    },

    'chunk.blocksGone': async (req) => {
      leader(deps)
      await proposeCluster(deps, { op: 'removeBlockLocation', server: req.id, blocks: blockIds(req.blocks) })
      return {}
    },

    'meta.placeBlock': async (req, context) => {
      const node = leader(deps)
      const id = blockIdOfChunkKey(req.key)
      if (ns().isRetired(id)) {
        // Its copies are being deleted: a write now could find one still stored and keep it.
        throw new TesseraError('EAGAIN', `block ${req.key} is being deleted by garbage collection; try again shortly`)
      }
      const now = deps.clockMs()
      const exclude = new Set(req.exclude ?? [])
      const candidates: Candidate[] = []
      for (const s of servers()) {
        if (s.state !== 'up' || exclude.has(s.address) || !deps.liveness.isLive(s.id, now, deps.settings.chunkTimeoutMs)) continue
        const live = deps.liveness.figures(s.id)
        const capacity = live?.capacityBytes ?? s.capacityBytes
        const used = live?.usedBytes ?? s.usedBytes
        candidates.push({ id: s.id, address: s.address, zone: s.zone, freeBytes: Math.max(0, capacity - used) })
      }
      const chosen = choosePlacement(candidates, replication(), req.length, deps.random)
      if (chosen.length < minCopies()) {
        // EAGAIN, not UNAVAILABLE: the meta service is fine, the chunk servers are too few now.
        const code = candidates.length >= minCopies() ? 'ENOSPC' : 'EAGAIN'
        throw new TesseraError(code, `cannot place block ${req.key}: ${chosen.length} live chunk server(s) with room, ${minCopies()} needed`)
      }
      for (const c of chosen) deps.liveness.reserve(c.id, req.length)
      // The writer may deduplicate onto an old orphan copy: GC spares it until the writer's lease covers it.
      deps.pins.observeTerm(node.status().term, now)
      deps.pins.note(id, now)
      return { servers: chosen.map((c) => c.address), token: token(req.key, 'write', context.peer.id), minCopies: minCopies() }
    },

    'meta.locateBlock': async ({ ref }, context) => {
      await leader(deps).readBarrier()
      const id = blockIdOfRef(ref)
      const known = byNum()
      const holders = ns().locationsOf(id).map((n) => known.get(n)).filter((s): s is ChunkServerRecord => s !== undefined && s.state !== 'down')
      if (holders.length === 0) throw new TesseraError('EIO', `no known copy of block ${ref.key}/${ref.len}`)
      // Spread reads: live servers in random order, draining ones last.
      const order = holders.map((s) => ({ s, rank: (s.state === 'up' ? 0 : 1) + deps.random() * 0.5 }))
      order.sort((a, b) => a.rank - b.rank)
      const key = chunkKeyOfBlockId(id)
      return { servers: order.map((o) => o.s.address), token: token(key, 'read', context.peer.id) }
    },

    'meta.reportBadCopy': async ({ ref, server }) => {
      leader(deps)
      const id = blockIdOfRef(ref)
      const holder = servers().find((s) => s.address === server && s.state !== 'down')
      if (holder === undefined) return {}
      deps.logger.warn({ block: id, chunk: holder.id }, 'meta: bad copy reported; forgetting it')
      await proposeCluster(deps, { op: 'removeBlockLocation', server: holder.id, blocks: [id] })
      return {}
    },

    'meta.blocksWritten': async ({ blocks }) => {
      leader(deps)
      const idOf = new Map(servers().filter((s) => s.state !== 'down').map((s) => [s.address, s.id]))
      const located = blocks.map(({ ref, servers: addresses }) => ({
        block: blockIdOfRef(ref),
        servers: addresses.map((a) => idOf.get(a)).filter((id): id is string => id !== undefined),
      }))
      if (located.length === 0) return { underReplicated: 0 }
      const reply = (await proposeCluster(deps, { op: 'addBlockLocations', blocks: located })) as { underReplicated: number }
      return { underReplicated: reply.underReplicated }
    },

    'meta.blockLocations': async ({ refs }) => {
      await leader(deps).readBarrier()
      const known = byNum()
      const blocks: BlockLocationInfo[] = refs.map((ref) => {
        const id = blockIdOfRef(ref)
        const holders = ns().locationsOf(id).map((n) => known.get(n)).filter((s): s is ChunkServerRecord => s !== undefined)
        return {
          key: ref.key, len: ref.len,
          servers: holders.map((s) => ({ id: s.id, address: s.address, state: s.state })),
          underReplicated: ns().underReplicatedCopies(id) !== undefined,
        }
      })
      return { blocks }
    },

    'meta.chunkServers': async () => {
      await leader(deps).readBarrier()
      const now = deps.clockMs()
      const list: ChunkServerInfo[] = servers().map((s) => {
        const live = deps.liveness.figures(s.id)
        const heard = deps.liveness.lastHeardMs(s.id)
        return {
          id: s.id, address: s.address, zone: s.zone, state: s.state,
          capacityBytes: live?.capacityBytes ?? s.capacityBytes, usedBytes: live?.usedBytes ?? s.usedBytes,
          blockCount: live?.blockCount ?? 0,
          ...(heard === undefined ? {} : { lastHeardMs: Math.max(0, now - heard) }),
        }
      })
      return {
        servers: list, underReplicated: ns().underReplicatedCount, replication: replication(),
        unreferencedBlocks: ns().unreferencedCount, pendingDeletes: ns().pendingDeleteCount,
      }
    },

    'meta.dataConfig': async () => ({
      // A writer told a shorter grace period than the real one only renews more often.
      blockSize: ns().options.maxBlockBytes, replication: replication(), minCopies: minCopies(), gcGraceMs: Math.min(deps.gcGraceMs, MAX_GC_GRACE_MS),
    }),
  }
}
