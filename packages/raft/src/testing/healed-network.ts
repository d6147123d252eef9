/**
 * The network of the simulator's liveness phase: every fault the chaos weather drew is turned
 * off, including a path capacity smaller than the leader's append window.
 *
 * The chaos weather draws a per-path capacity (8 to 256 queued messages) independently of the
 * Raft window (maxInflightMsgs up to 64) and, when a path is full, drops a random queued
 * message, as TigerBeetle's packet simulator does. Under that weather a leader catching up a
 * follower with one-entry appends (maxSizePerMsg 100) fills its window, the path keeps a random
 * third of it, the follower accepts only the prefix up to the first gap and rejects the rest,
 * the leader probes, the probe's answer puts it back in replicate, and it fills the window again:
 * a couple of entries per cycle. etcd-io/raft does exactly the same (raft.go stepLeader on a
 * rejected MsgAppResp, tracker/progress.go MaybeDecrTo/BecomeProbe/BecomeReplicate); its Config
 * documents MaxInflightMsgs as the knob that keeps the window inside the transport's send
 * buffer, so a transport smaller than the window is a misconfiguration, not weather Raft must
 * ride out. Tessera's own transport (driver/rpc-transport.ts) sends each Ready's messages to a
 * peer as one in-order frame and drops only whole batches past a 4 MiB socket backlog, never a
 * message from the middle of a window.
 *
 * So the chaos phase keeps the small paths (they reorder and lose appends, which safety must
 * survive), and the healed network holds at least the default capacity and two windows.
 */
import { DEFAULT_NETWORK_FAULTS, type NetworkFaults } from '@tessera/sim'

/** Queued messages a healed path holds for a leader whose append window is `maxInflightMsgs`. */
export function healedPathCapacity(drawn: number, maxInflightMsgs: number): number {
  // Two windows: the appends themselves plus the heartbeats and commit-only appends beside them.
  return Math.max(drawn, DEFAULT_NETWORK_FAULTS.pathCapacity, 2 * maxInflightMsgs)
}

/** The fault settings that turn the chaos network into the liveness phase's healed one. */
export function healedNetworkFaults(drawn: Readonly<NetworkFaults>, maxInflightMsgs: number): Partial<NetworkFaults> {
  return {
    dropProbability: 0,
    duplicateProbability: 0,
    autoPartition: undefined,
    autoClog: undefined,
    pathCapacity: healedPathCapacity(drawn.pathCapacity, maxInflightMsgs),
  }
}
