import { Packr } from 'msgpackr'
import { TesseraError, type NodeId } from '@tessera/protocol'

/**
 * A snapshot's bytes as the driver stores and ships them: the member address book (so a
 * member that joins from a snapshot knows how to reach everyone) around the application's
 * own snapshot bytes.
 */
export interface SnapshotEnvelope {
  members: Record<NodeId, string>
  app: Uint8Array
}

const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeSnapshotEnvelope(envelope: SnapshotEnvelope): Uint8Array {
  return packr.pack({ v: 1, members: envelope.members, app: envelope.app })
}

export function decodeSnapshotEnvelope(bytes: Uint8Array): SnapshotEnvelope {
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch (err) {
    throw new TesseraError('EIO', `snapshot envelope does not decode: ${(err as Error).message}`)
  }
  const { v, members, app } = (value ?? {}) as Record<string, unknown>
  if (v !== 1 || typeof members !== 'object' || members === null || !(app instanceof Uint8Array)) {
    throw new TesseraError('EIO', 'snapshot envelope is malformed')
  }
  for (const address of Object.values(members)) {
    if (typeof address !== 'string') throw new TesseraError('EIO', 'snapshot envelope has a bad member address')
  }
  return { members: members as Record<NodeId, string>, app }
}
