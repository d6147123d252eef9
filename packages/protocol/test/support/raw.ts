/** A hand-driven ws peer for tests that must send frames a well-behaved RpcClient never would. */
import { WebSocket } from 'ws'
import {
  FrameTag, encodeFrame, decodeValue, checkFrame, createNonce, clientProof, type Frame,
} from '../../src/index.js'

export interface RawPeer {
  ws: WebSocket
  /** Frames received, decoded. */
  frames: Frame[]
  /** Messages received that did not decode (a well-behaved server never sends one). */
  undecodable: unknown[]
  /** Resolves with the close code. */
  closed: Promise<number>
  send(data: Frame | Uint8Array | string): void
  /** Waits for the next frame matching `pick` (or any frame), or rejects on close/timeout. */
  next(pick?: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>
  close(): Promise<number>
}

export async function rawConnect(url: string, options: { autoPong?: boolean } = {}): Promise<RawPeer> {
  const ws = new WebSocket(url, { perMessageDeflate: false, autoPong: options.autoPong ?? true })
  const frames: Frame[] = []
  const undecodable: unknown[] = []
  let wake: (() => void) | undefined
  let closeCode: number | undefined
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => {
    closeCode = code
    resolve(code)
    wake?.()
  }))
  ws.on('error', () => undefined)
  ws.on('message', (data) => {
    try {
      const value = decodeValue(data as Buffer)
      const members = Array.isArray(value) && value[0] === FrameTag.Batch ? value.slice(1) : [value]
      for (const member of members) {
        const check = checkFrame(member)
        if (check.ok) frames.push(check.frame)
        else undecodable.push(check.error)
      }
    } catch (err) {
      undecodable.push(err)
    }
    wake?.()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  let cursor = 0
  const peer: RawPeer = {
    ws,
    frames,
    undecodable,
    closed,
    send(data) {
      if (typeof data === 'string') ws.send(data)
      else if (data instanceof Uint8Array) ws.send(data)
      else ws.send(encodeFrame(data))
    },
    async next(pick = () => true, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        while (cursor < frames.length) {
          const f = frames[cursor++]!
          if (pick(f)) return f
        }
        if (closeCode !== undefined) throw new Error(`closed with ${closeCode}`)
        const left = deadline - Date.now()
        if (left <= 0) throw new Error('timed out waiting for a frame')
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left)
          wake = () => { clearTimeout(t); wake = undefined; resolve() }
        })
      }
    },
    async close() {
      if (closeCode === undefined) ws.close()
      const t = setTimeout(() => ws.terminate(), 1000)
      const code = await closed
      clearTimeout(t)
      return code
    },
  }
  return peer
}

/** Connects and completes the client side of the handshake with `secret`. */
export async function rawAuthenticated(url: string, secret: Uint8Array, clientId = 'raw', options: { autoPong?: boolean } = {}): Promise<RawPeer> {
  const peer = await rawConnect(url, options)
  const challenge = await peer.next()
  if (challenge[0] !== FrameTag.AuthChallenge) throw new Error('expected a challenge')
  const clientNonce = createNonce()
  const proof = clientProof(secret, { serverNonce: challenge[1], clientNonce, clientId, serverId: challenge[2] })
  peer.send([FrameTag.AuthProof, clientId, clientNonce, proof])
  const ok = await peer.next()
  if (ok[0] !== FrameTag.AuthOk) throw new Error(`expected auth ok, got ${JSON.stringify(ok)}`)
  return peer
}
