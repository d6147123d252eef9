export * from './errors.js'
export * from './limits.js'
export * from './logger.js'
export * from './raft.js'
export * from './meta.js'
export { s, Schema, ObjectSchema, type Infer, type ObjectOf } from './schema.js'
export * from './messages.js'
export * from './frames.js'
export { encodeFrame, decodeFrame, checkFrameBytes, encodeValue, decodeValue, encodeChunkFrame, joinBatch } from './codec.js'
export {
  AUTH_PROTOCOL, MIN_SECRET_BYTES, assertClusterSecret, createNonce, clientProof, serverProof, proofsMatch,
  type ProofInput,
} from './auth.js'
export { StreamReader, StreamWriter, type StreamLink } from './rpc/stream.js'
export { CloseCode, type PeerInfo } from './rpc/connection.js'
export {
  RpcServer, type RpcServerOptions, type Handlers, type Handler, type HandlerContext, type BaseHandlerContext,
  type NotificationHandlers, type PeerConnection,
} from './rpc/server.js'
export { RpcClient, type RpcClientOptions, type CallOptions, type OpenCall, type TlsOptions } from './rpc/client.js'
export * from './meta-rpc.js'
export * from './tokens.js'
export * from './chunk-rpc.js'
export * from './block-refs.js'
