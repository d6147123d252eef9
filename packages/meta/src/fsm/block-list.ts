/**
 * A file's block list, stored as one compact string (a JS array of objects would cost ~100 bytes
 * more per file). Each piece is `key` (16 hex) + `len` (hex) [+ '/' + `used` (hex) when a
 * truncate cut the block]; pieces are joined with ','. A salted key (16 hex + 's' + seed, rare:
 * only after a hash collision) is followed by '.' before `len`. The first part of a piece, key + len,
 * is the block id: the key of the reference-count table. A file of one whole block is stored
 * as exactly its block id, so the file and the table can share one string.
 *
 * Strings are built with Array.prototype.join, which yields flat strings; '+' would leave
 * V8 cons strings that cost an extra object each.
 */
import { TesseraError, type BlockId, type BlockRef } from '@tessera/protocol'

/** The piece rules are shared with the client (one home: @tessera/protocol block-refs). */
export { usedBytes, truncateBlockRefs as truncateBlocks } from '@tessera/protocol'

const KEY_PATTERN = /^[0-9a-f]{16}(s[1-9][0-9]{0,9})?$/

export function blockIdOf(key: string, len: number): string {
  return key.length === 16 ? [key, len.toString(16)].join('') : [key, '.', len.toString(16)].join('')
}

/** Where the key of a block id (or piece) ends and its hex length begins. */
function keyEnd(id: string): number {
  return id.charCodeAt(16) === 0x73 /* 's' */ ? id.indexOf('.') : 16
}

function lenStart(id: string): number {
  const end = keyEnd(id)
  return end === 16 ? 16 : end + 1
}

export function parseBlockId(id: string): BlockId {
  return { key: id.slice(0, keyEnd(id)), len: parseInt(id.slice(lenStart(id)), 16) }
}

export function encodeBlocks(refs: readonly BlockRef[]): string {
  if (refs.length === 1 && refs[0]!.used === refs[0]!.len) return blockIdOf(refs[0]!.key, refs[0]!.len)
  const parts = new Array<string>(refs.length)
  for (let i = 0; i < refs.length; i++) {
    const r = refs[i]!
    parts[i] = r.used === r.len
      ? blockIdOf(r.key, r.len)
      : [blockIdOf(r.key, r.len), '/', r.used.toString(16)].join('')
  }
  return parts.join(',')
}

export function decodeBlocks(data: string): BlockRef[] {
  if (data === '') return []
  return data.split(',').map((piece) => {
    const slash = piece.indexOf('/')
    const key = piece.slice(0, keyEnd(piece))
    if (slash < 0) {
      const len = parseInt(piece.slice(lenStart(piece)), 16)
      return { key, len, used: len }
    }
    return { key, len: parseInt(piece.slice(lenStart(piece), slash), 16), used: parseInt(piece.slice(slash + 1), 16) }
  })
}

/** The block id of every piece, in order (a block used twice appears twice). */
export function blockIdsOf(data: string): string[] {
  if (data === '') return []
  if (data.indexOf(',') < 0 && data.indexOf('/') < 0) return [data]
  return data.split(',').map((piece) => {
    const slash = piece.indexOf('/')
    return slash < 0 ? piece : piece.slice(0, slash)
  })
}


/** Pieces are well formed: a 16-hex key, 1 <= used <= len <= maxBlockBytes (else EINVAL). */
export function checkBlockRefs(refs: readonly BlockRef[], maxBlockBytes: number): void {
  for (const r of refs) {
    if (!KEY_PATTERN.test(r.key)) throw new TesseraError('EINVAL', 'block key is not 16 lowercase hex digits (optionally followed by s<seed>)')
    if (!Number.isInteger(r.len) || r.len < 1 || r.len > maxBlockBytes) {
      throw new TesseraError('EINVAL', `block length must be in [1, ${maxBlockBytes}]`)
    }
    if (!Number.isInteger(r.used) || r.used < 1 || r.used > r.len) {
      throw new TesseraError('EINVAL', 'block used bytes must be in [1, len]')
    }
  }
}
