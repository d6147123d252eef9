/**
 * The ceilings the data benchmark is read against, measured in the same run: raw ws upload
 * (1 MiB binary messages, client -> server, to the protocol benchmark's ws server child) and the
 * disk's sequential write rate (1 MiB writes into one file, then one fsync).
 */
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'

const MIB = 1024 * 1024

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms) }),
  ]).finally(() => clearTimeout(timer))
}

/** MB/s (10^6 bytes/s, as dd reports) of `totalBytes` sent over one ws connection, at most 4 MiB queued. */
export async function rawWsUploadMBs(totalBytes: number): Promise<number> {
  const child = fork(new URL('./protocol-server.child.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let socket: WebSocket | undefined
  try {
    const ports = await withTimeout(new Promise<{ ws: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { ws: number }))
      child.once('exit', (code) => reject(new Error(`ws server exited with ${code}`)))
    }), 20_000, 'raw ws server')
    const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}`, { perMessageDeflate: false, maxPayload: 16 * MIB })
    socket = ws
    await withTimeout(once(ws, 'open'), 10_000, 'raw ws connect')
    const piece = randomBytes(MIB)
    const started = performance.now()
    let queued = 0
    let wake: (() => void) | undefined
    for (let sent = 0; sent < totalBytes; sent += MIB) {
      while (queued >= 4 * MIB) await new Promise<void>((resolve) => { wake = resolve })
      queued += MIB
      ws.send(piece, () => {
        queued -= MIB
        const w = wake
        wake = undefined
        w?.()
      })
    }
    const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())))
    ws.send('total')
    const counted = Number(await withTimeout(reply, 300_000, 'raw ws upload'))
    const sentBytes = Math.ceil(totalBytes / MIB) * MIB
    if (counted !== sentBytes) throw new Error(`raw ws upload: server counted ${counted}, sent ${sentBytes}`)
    return sentBytes / 1e6 / ((performance.now() - started) / 1000)
  } finally {
    socket?.terminate()
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      if (child.connected) child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** MB/s of `totalBytes` written in 1 MiB pieces to one new file, then fsynced, under `parent`. */
export async function diskWriteMBs(totalBytes: number, parent = tmpdir()): Promise<number> {
  const dir = await mkdtemp(join(parent, 'tessera-bench-disk-'))
  try {
    const piece = randomBytes(MIB)
    const started = performance.now()
    const file = await open(join(dir, 'sequential.bin'), 'wx')
    try {
      for (let at = 0; at < totalBytes; at += MIB) await file.write(piece, 0, Math.min(MIB, totalBytes - at), at)
      await file.sync()
    } finally {
      await file.close()
    }
    return totalBytes / 1e6 / ((performance.now() - started) / 1000)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
