/**
 * The one home of Tessera's error vocabulary. Every error that crosses a process
 * boundary is a TesseraError with a symbolic `code`; POSIX errno numbers live only in
 * the ERRNO table below, which the FUSE adapter reads at the edge.
 */

/** POSIX errors a file system operation can end with, by symbolic name. */
export const FS_CODES = [
  'EPERM', 'ENOENT', 'EIO', 'EBADF', 'EAGAIN', 'EACCES', 'EBUSY', 'EEXIST', 'EXDEV',
  'ENOTDIR', 'EISDIR', 'EINVAL', 'EFBIG', 'ENOSPC', 'EROFS', 'EMLINK', 'ERANGE',
  'EDEADLK', 'ENAMETOOLONG', 'ENOLCK', 'ENOSYS', 'ENOTEMPTY', 'ELOOP', 'ENODATA',
  'ENOTSUP', 'ETIMEDOUT', 'ECANCELED',
] as const
export type FsCode = (typeof FS_CODES)[number]

/** The cluster's own failure kinds, which are not file system answers. */
export const CLUSTER_CODES = [
  'NOT_LEADER', // this member is not the Raft leader; details.leaderHint names who may be
  'BAD_TOKEN', // block access token missing, forged, expired or for another block
  'PROTOCOL', // a frame or message broke the protocol; the connection is closed
  'UNAVAILABLE', // the peer or the cluster cannot serve now (no quorum, closed connection)
  'AUTH_FAILED', // the peer does not hold the cluster secret
  'CHECKSUM_MISMATCH', // stored or received bytes do not match their checksum
  'HASH_COLLISION', // same block key, different bytes
  'SESSION_EXPIRED', // the client session is gone; open a new one
] as const
export type ClusterCode = (typeof CLUSTER_CODES)[number]

export type ErrorCode = FsCode | ClusterCode

/** Linux errno numbers; the cluster codes map to the errno a POSIX caller should see. */
export const ERRNO: Readonly<Record<ErrorCode, number>> = {
  EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, EACCES: 13, EBUSY: 16, EEXIST: 17,
  EXDEV: 18, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EFBIG: 27, ENOSPC: 28, EROFS: 30,
  EMLINK: 31, ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36, ENOLCK: 37, ENOSYS: 38,
  ENOTEMPTY: 39, ELOOP: 40, ENODATA: 61, ENOTSUP: 95, ETIMEDOUT: 110, ECANCELED: 125,
  NOT_LEADER: 11, BAD_TOKEN: 13, PROTOCOL: 5, UNAVAILABLE: 5, AUTH_FAILED: 13,
  CHECKSUM_MISMATCH: 5, HASH_COLLISION: 5, SESSION_EXPIRED: 5,
}

const ALL_CODES: ReadonlySet<string> = new Set<string>([...FS_CODES, ...CLUSTER_CODES])

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ALL_CODES.has(value)
}

/** Typed details some codes carry. Kept small: they travel on the wire. */
export interface ErrorDetails {
  /** NOT_LEADER: the address (host:port) of the member believed to lead, if known. */
  leaderHint?: string
  /** NOT_LEADER: the Raft id of that member, if known. */
  leaderId?: string
}

export interface WireError {
  code: ErrorCode
  message: string
  details?: ErrorDetails
}

export class TesseraError extends Error {
  override readonly name = 'TesseraError'
  readonly code: ErrorCode
  readonly details: ErrorDetails | undefined

  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(message)
    this.code = code
    this.details = details
  }

  get errno(): number {
    return ERRNO[this.code]
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }

  /** Rebuilds an error from an untrusted wire value; anything malformed becomes PROTOCOL. */
  static fromWire(value: unknown): TesseraError {
    if (typeof value !== 'object' || value === null) {
      return new TesseraError('PROTOCOL', 'malformed error on the wire')
    }
    const { code, message, details } = value as Record<string, unknown>
    if (!isErrorCode(code) || typeof message !== 'string' || message.length > 4096) {
      return new TesseraError('PROTOCOL', 'malformed error on the wire')
    }
    return new TesseraError(code, message, parseDetails(details))
  }
}

function parseDetails(value: unknown): ErrorDetails | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const raw = value as Record<string, unknown>
  const details: ErrorDetails = {}
  if (typeof raw.leaderHint === 'string' && raw.leaderHint.length <= 512) details.leaderHint = raw.leaderHint
  if (typeof raw.leaderId === 'string' && raw.leaderId.length <= 128) details.leaderId = raw.leaderId
  return Object.keys(details).length > 0 ? details : undefined
}

/** Shorthand for throwing: `throw fsError('ENOENT', 'no such file: /a')`. */
export function fsError(code: ErrorCode, message: string, details?: ErrorDetails): TesseraError {
  return new TesseraError(code, message, details)
}

/** True when `err` is a TesseraError with one of `codes` (compare by code, never by text). */
export function hasCode(err: unknown, ...codes: ErrorCode[]): err is TesseraError {
  return err instanceof TesseraError && codes.includes(err.code)
}

/** Any thrown value as a TesseraError: unknown failures become EIO with their message. */
export function asTesseraError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new TesseraError('EIO', message)
}
