import { LIMITS, type Credentials, type Timespec } from '@tessera/protocol'
import type { Tx } from './tx.js'

/**
 * Settings fixed at format time. Every member must use the same values (they shape results),
 * so they travel in snapshots.
 */
export interface NamespaceOptions {
  /**
   * A session idle longer than this (in command time) goes at the next expireSessions, and
   * the locks it held with it. Clients keep their sessions alive every third of it; a client
   * cut off for longer loses exactly-once for its in-flight request and must reopen.
   */
  sessionTimeoutMs: number
  /** LINK_MAX: most links to a file; a directory holds at most maxLinks - 2 subdirectories. */
  maxLinks: number
  /** Largest block a file may reference. */
  maxBlockBytes: number
  /** Most bytes of extended attribute names and values on one inode (else ENOSPC). */
  maxXattrBytesPerInode: number
  /** Copies each block should have: fewer is under-replicated (the cluster map's repair list). */
  replication: number
}

export const DEFAULT_OPTIONS: Readonly<NamespaceOptions> = {
  sessionTimeoutMs: 60 * 1000,
  maxLinks: 65000,
  maxBlockBytes: 4 * 1024 * 1024,
  maxXattrBytesPerInode: 4 * LIMITS.maxXattrValueBytes,
  replication: 3,
}

/** What an operation works with. */
export interface OpContext {
  tx: Tx
  cred: Credentials
  /** The command's time (the leader's clock when it proposed). */
  time: Timespec
  /** The inode number a creating operation uses: derived from the Raft index (see namespace.ts). */
  newIno: number
  options: Readonly<NamespaceOptions>
}

/** A nanosecond field of a real time: an integer in [0, 1e9). */
export function isValidNsec(nsec: number): boolean {
  return Number.isInteger(nsec) && nsec >= 0 && nsec < 1e9
}
