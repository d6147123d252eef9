/**
 * Meta names a block by its refs-table id (`<16hex>[s<seed>.]<len hex>`, see fsm/block-list.ts);
 * chunk servers and tokens by its chunk key (`<16hex>-<len>[-s<seed>]`); clients send BlockIds
 * ({key, len}). The conversions, each validating what it is given (it comes from the wire).
 */
import { TesseraError, type BlockId } from '@tessera/protocol'
import { blockIdOf, parseBlockId } from '../fsm/block-list.js'

const CHUNK_KEY = /^([0-9a-f]{16})-([1-9][0-9]{0,15})(?:-s([1-9][0-9]{0,9}))?$/
const REF_KEY = /^([0-9a-f]{16})(?:s([1-9][0-9]{0,9}))?$/
const MAX_LEN = 0xffffffff

/** A chunk key as a block id; EINVAL when malformed. */
export function blockIdOfChunkKey(key: string): string {
  const match = CHUNK_KEY.exec(key)
  const len = match === null ? NaN : Number(match[2])
  if (match === null || len > MAX_LEN) throw new TesseraError('EINVAL', `malformed block key ${JSON.stringify(key.slice(0, 64))}`)
  return blockIdOf(match[3] === undefined ? match[1]! : `${match[1]!}s${match[3]}`, len)
}

/** A client's BlockId as a block id; EINVAL when malformed. */
export function blockIdOfRef(ref: BlockId): string {
  if (!REF_KEY.test(ref.key) || !Number.isSafeInteger(ref.len) || ref.len < 1 || ref.len > MAX_LEN) {
    throw new TesseraError('EINVAL', `malformed block reference ${JSON.stringify(String(ref.key).slice(0, 64))}`)
  }
  return blockIdOf(ref.key, ref.len)
}

/** The chunk key of a block id. */
export function chunkKeyOfBlockId(id: string): string {
  const { key, len } = parseBlockId(id)
  const salt = key.indexOf('s')
  return salt < 0 ? `${key}-${len}` : `${key.slice(0, salt)}-${len}-${key.slice(salt)}`
}
