/**
 * Single-server membership changes: validation against the current configuration, applying
 * one to a ConfState, and the byte encoding carried in ConfChange entries. Pure.
 */
import { LIMITS, TesseraError, type ConfChange, type ConfChangeType, type ConfState, type NodeId } from '@tessera/protocol'

const TYPES: readonly ConfChangeType[] = ['addLearner', 'promote', 'remove']
const MAX_NODE_ID_BYTES = 128
const MAX_ADDRESS_BYTES = 512

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id)
}

/** Why `cc` cannot be applied to `conf`, or undefined when it can. */
export function checkConfChange(conf: ConfState, cc: ConfChange): TesseraError | undefined {
  if (!TYPES.includes(cc.type)) return new TesseraError('EINVAL', `unknown conf change type ${String(cc.type)}`)
  if (typeof cc.node !== 'string' || cc.node.length === 0 || cc.node.length > MAX_NODE_ID_BYTES) {
    return new TesseraError('EINVAL', 'conf change node id must be a non-empty string of at most 128 bytes')
  }
  if (cc.address !== undefined && (typeof cc.address !== 'string' || cc.address.length > MAX_ADDRESS_BYTES)) {
    return new TesseraError('EINVAL', 'conf change address too long')
  }
  const members = conf.voters.length + conf.learners.length
  switch (cc.type) {
    case 'addLearner':
      if (isMember(conf, cc.node)) return new TesseraError('EEXIST', `${cc.node} is already a member`)
      if (members >= LIMITS.maxMembers) return new TesseraError('ENOSPC', `group already has ${members} members`)
      return undefined
    case 'promote':
      if (!conf.learners.includes(cc.node)) return new TesseraError('EINVAL', `${cc.node} is not a learner`)
      return undefined
    case 'remove':
      if (!isMember(conf, cc.node)) return new TesseraError('ENOENT', `${cc.node} is not a member`)
      if (conf.voters.length === 1 && conf.voters[0] === cc.node) {
        return new TesseraError('EINVAL', 'cannot remove the last voter')
      }
      return undefined
  }
}

/** The configuration after `cc`; an invalid change leaves it unchanged (returns the error). */
export function applyConfChange(conf: ConfState, cc: ConfChange): { conf: ConfState; error?: TesseraError } {
  const error = checkConfChange(conf, cc)
  if (error !== undefined) return { conf, error }
  const voters = conf.voters.filter((v) => v !== cc.node)
  const learners = conf.learners.filter((l) => l !== cc.node)
  switch (cc.type) {
    case 'promote':
      voters.push(cc.node)
      break
    case 'addLearner':
      learners.push(cc.node)
      break
    case 'remove':
      break
  }
  return { conf: { voters: voters.sort(), learners: learners.sort() } }
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const plain: ConfChange = cc.address === undefined ? { type: cc.type, node: cc.node } : { type: cc.type, node: cc.node, address: cc.address }
  return new TextEncoder().encode(JSON.stringify(plain))
}

/** Decodes the data of a ConfChange entry; malformed bytes give a PROTOCOL error. */
export function decodeConfChange(data: Uint8Array): ConfChange | TesseraError {
  if (data.length > 2048) return new TesseraError('PROTOCOL', 'conf change entry too large')
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data))
  } catch {
    return new TesseraError('PROTOCOL', 'conf change entry is not valid JSON')
  }
  if (typeof value !== 'object' || value === null) return new TesseraError('PROTOCOL', 'conf change entry is not an object')
  const { type, node, address } = value as Record<string, unknown>
  if (typeof type !== 'string' || !TYPES.includes(type as ConfChangeType) || typeof node !== 'string') {
    return new TesseraError('PROTOCOL', 'conf change entry has a bad type or node')
  }
  if (address !== undefined && typeof address !== 'string') return new TesseraError('PROTOCOL', 'conf change address is not a string')
  return address === undefined ? { type: type as ConfChangeType, node } : { type: type as ConfChangeType, node, address }
}

export function sameConf(a: ConfState, b: ConfState): boolean {
  return a.voters.join('\n') === b.voters.join('\n') && a.learners.join('\n') === b.learners.join('\n')
}
