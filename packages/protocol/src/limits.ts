/**
 * Every size that untrusted input can influence has a limit, here and nowhere else.
 */
export const LIMITS = {
  /** Largest frame one connection accepts (a ws message). Block data travels in pieces. */
  maxFrameBytes: 8 * 1024 * 1024,
  /** Largest piece of a binary stream (one frame of block data). */
  maxStreamChunkBytes: 1024 * 1024,
  /** Calls a client may have in flight on one connection before new calls wait. */
  maxInflightCalls: 4096,
  /** Longest RPC method name. */
  maxMethodNameBytes: 64,
  /** Longest error message accepted from the wire. */
  maxErrorMessageBytes: 4096,
  /** NAME_MAX: longest file name component, in bytes. */
  maxNameBytes: 255,
  /** PATH_MAX: longest path, in bytes. */
  maxPathBytes: 4096,
  /** Longest symlink target. */
  maxSymlinkBytes: 4096,
  /** Largest extended attribute value (Linux XATTR_SIZE_MAX). */
  maxXattrValueBytes: 64 * 1024,
  /** Longest extended attribute name (Linux XATTR_NAME_MAX). */
  maxXattrNameBytes: 255,
  /** Raft entries carried by one AppendEntries message. */
  maxEntriesPerAppend: 4096,
  /** Bytes of entries carried by one AppendEntries message. */
  maxAppendBytes: 4 * 1024 * 1024,
  /** One piece of a streamed snapshot. */
  maxSnapshotChunkBytes: 1024 * 1024,
  /** Members in one Raft group. */
  maxMembers: 9,
  /** Longest node id (a Raft member, chunk server or client name). */
  maxNodeIdBytes: 128,
  /** Longest host:port address. */
  maxAddressBytes: 512,
  /** Largest ReadIndex context carried by a heartbeat. */
  maxReadContextBytes: 64 * 1024,
  /** Raft messages carried by one raft.step notification. */
  maxRaftBatch: 256,
  /** Bytes a stream sender may have sent beyond what the receiver's consumer has taken. */
  streamWindowBytes: 8 * 1024 * 1024,
  /** Streams (calls with a request or response stream) open at once on one connection. */
  maxStreamsPerConnection: 256,
  /** Bytes a connection may have handed to its socket and not yet written before stream writers wait. */
  socketHighWaterBytes: 4 * 1024 * 1024,
  /** How long a new connection may take to complete the authentication handshake. */
  authTimeoutMs: 5000,
  /** Bytes of a handshake nonce. */
  authNonceBytes: 32,
} as const
