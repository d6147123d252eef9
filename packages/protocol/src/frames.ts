/**
 * The envelope of every ws message: an array whose first element is a small integer tag.
 * (Arrays: no key strings on the wire and no object allocation per frame on decode.)
 *
 * Bodies inside request/response/notification frames stay `unknown` here; the RPC layer
 * validates them against the method's schema once it knows the method.
 */
import { TesseraError, isErrorCode, type WireError } from './errors.js'
import { LIMITS } from './limits.js'

export const FrameTag = {
  /** server -> client, first frame: [tag, serverNonce, serverId] */
  AuthChallenge: 0,
  /** client -> server: [tag, clientId, clientNonce, clientProof] */
  AuthProof: 1,
  /** server -> client: [tag, serverProof] */
  AuthOk: 2,
  /** client -> server: [tag, id, method, body] */
  Request: 10,
  /** server -> client: [tag, id, body] */
  Response: 11,
  /** server -> client: [tag, id, wireError]; id 0 refers to the connection itself (auth) */
  Error: 12,
  /** client -> server: [tag, id] */
  Cancel: 13,
  /** either way: [tag, method, body] */
  Notify: 14,
  /** either way, stream data of call `id`: [tag, id, bytes] */
  Chunk: 15,
  /** either way, end of the stream of call `id`: [tag, id] */
  End: 16,
  /** either way, the receiver of call `id`'s stream lets the sender send `bytes` more: [tag, id, bytes] */
  Credit: 17,
  /**
   * either way, several frames in one ws message: [tag, frame, frame, ...]. A connection gathers
   * what it sends within one turn of the event loop: with many calls in flight this saves a ws
   * message and a syscall per frame. Never nested, never carries auth frames or stream chunks.
   */
  Batch: 20,
} as const
export type FrameTag = (typeof FrameTag)[keyof typeof FrameTag]

export type AuthChallengeFrame = [typeof FrameTag.AuthChallenge, Uint8Array, string]
export type AuthProofFrame = [typeof FrameTag.AuthProof, string, Uint8Array, Uint8Array]
export type AuthOkFrame = [typeof FrameTag.AuthOk, Uint8Array]
export type RequestFrame = [typeof FrameTag.Request, number, string, unknown]
export type ResponseFrame = [typeof FrameTag.Response, number, unknown]
export type ErrorFrame = [typeof FrameTag.Error, number, WireError]
export type CancelFrame = [typeof FrameTag.Cancel, number]
export type NotifyFrame = [typeof FrameTag.Notify, string, unknown]
export type ChunkFrame = [typeof FrameTag.Chunk, number, Uint8Array]
export type EndFrame = [typeof FrameTag.End, number]
export type CreditFrame = [typeof FrameTag.Credit, number, number]
/** Only as the outer frame of a ws message; its members are checked one by one with checkFrame. */
export type BatchFrame = [typeof FrameTag.Batch, ...unknown[]]

export type Frame =
  | AuthChallengeFrame
  | AuthProofFrame
  | AuthOkFrame
  | RequestFrame
  | ResponseFrame
  | ErrorFrame
  | CancelFrame
  | NotifyFrame
  | ChunkFrame
  | EndFrame
  | CreditFrame

/** Largest call or stream id; ids start at 1 and only grow on one connection. */
export const MAX_CALL_ID = Number.MAX_SAFE_INTEGER
/** Most frames in one batch. */
export const MAX_BATCH_FRAMES = 1024

/** Largest credit grant in one frame. */
export const MAX_CREDIT_BYTES = 2 ** 32

export type FrameCheck =
  | { ok: true; frame: Frame }
  /** `requestId` is set when the bad frame is a request whose id could be read: answer it. */
  | { ok: false; error: TesseraError; requestId?: number }

function bad(message: string, requestId?: number): FrameCheck {
  const error = new TesseraError('PROTOCOL', message)
  return requestId === undefined ? { ok: false, error } : { ok: false, error, requestId }
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_CALL_ID
const isBytes = (v: unknown, max: number): v is Uint8Array => v instanceof Uint8Array && v.byteLength <= max
const isExactBytes = (v: unknown, size: number): v is Uint8Array => v instanceof Uint8Array && v.byteLength === size
/** HMAC-SHA256 output. */
const PROOF_BYTES = 32
const isStr = (v: unknown, maxBytes: number): v is string =>
  typeof v === 'string' && v.length > 0 && (v.length * 3 <= maxBytes || Buffer.byteLength(v) <= maxBytes)

/**
 * The carried error as a well-formed WireError (malformed ones become PROTOCOL). The common
 * shape is checked without building an Error object: bad peers can send many of these.
 */
function normaliseWireError(value: unknown): WireError {
  if (typeof value === 'object' && value !== null) {
    const { code, message, details } = value as Record<string, unknown>
    if (details === undefined && isErrorCode(code) && typeof message === 'string' && message.length <= LIMITS.maxErrorMessageBytes) {
      return { code, message }
    }
  }
  return TesseraError.fromWire(value).toWire()
}

/** Checks the envelope of a decoded value. Never throws. */
export function checkFrame(value: unknown): FrameCheck {
  if (!Array.isArray(value) || value.length === 0) return bad('frame: expected a non-empty array')
  const tag = value[0]
  const n = value.length
  switch (tag) {
    case FrameTag.AuthChallenge:
      if (n !== 3 || !isExactBytes(value[1], LIMITS.authNonceBytes) || !isStr(value[2], LIMITS.maxNodeIdBytes)) return bad('frame: malformed auth challenge')
      break
    case FrameTag.AuthProof:
      if (n !== 4 || !isStr(value[1], LIMITS.maxNodeIdBytes) || !isExactBytes(value[2], LIMITS.authNonceBytes) || !isExactBytes(value[3], PROOF_BYTES)) {
        return bad('frame: malformed auth proof')
      }
      break
    case FrameTag.AuthOk:
      if (n !== 2 || !isExactBytes(value[1], PROOF_BYTES)) return bad('frame: malformed auth ok')
      break
    case FrameTag.Request: {
      const id = isId(value[1]) ? value[1] : undefined
      if (n !== 4 || id === undefined) return bad('frame: malformed request', id)
      if (!isStr(value[2], LIMITS.maxMethodNameBytes)) return bad('request: method must be a non-empty string of at most ' + LIMITS.maxMethodNameBytes + ' bytes', id)
      break
    }
    case FrameTag.Response:
      if (n !== 3 || !isId(value[1])) return bad('frame: malformed response')
      break
    case FrameTag.Error:
      if (n !== 3 || !isId(value[1]) && value[1] !== 0) return bad('frame: malformed error')
      value[2] = normaliseWireError(value[2])
      break
    case FrameTag.Cancel:
    case FrameTag.End:
      if (n !== 2 || !isId(value[1])) return bad('frame: malformed ' + (tag === FrameTag.Cancel ? 'cancel' : 'stream end'))
      break
    case FrameTag.Notify:
      if (n !== 3 || !isStr(value[1], LIMITS.maxMethodNameBytes)) return bad('frame: malformed notification')
      break
    case FrameTag.Chunk:
      if (n !== 3 || !isId(value[1]) || !isBytes(value[2], LIMITS.maxStreamChunkBytes)) return bad('frame: malformed stream chunk')
      break
    case FrameTag.Credit: {
      const bytes = value[2]
      if (n !== 3 || !isId(value[1]) || typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 1 || bytes > MAX_CREDIT_BYTES) {
        return bad('frame: malformed stream credit')
      }
      break
    }
    case FrameTag.Batch:
      return bad('frame: a batch inside a batch')
    default:
      return bad(`frame: unknown kind ${typeof tag === 'number' ? tag : typeof tag}`)
  }
  return { ok: true, frame: value as Frame }
}
