/**
 * The wire protocol against its ceilings, in one run on loopback: small-message round trips/s
 * (1 and 64 in flight) and 1 MiB payload throughput client -> server (the write path's
 * direction), each for RpcClient/RpcServer, raw `ws` and raw TCP. The servers run in a forked
 * child; this process is the client. Each figure is the median of BENCH_ROUNDS (3) runs of
 * BENCH_SMALL_MS / BENCH_BULK_MS (1 s) each, interleaved with its baselines to share the noise.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { connect as tcpConnect, type Socket } from 'node:net'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { WebSocket } from 'ws'
import { RpcClient, LIMITS } from '@tessera/protocol'
import { benchCatalogue, BENCH_SECRET, type ServerPorts } from './lib/protocol-catalogue.js'
import { perSecond, percent, round, type Benchmark, type Row } from './lib/bench.js'

const SMALL_MS = Number(process.env.BENCH_SMALL_MS ?? 1000)
const BULK_MS = Number(process.env.BENCH_BULK_MS ?? 1000)
/** Each measurement runs this many times, interleaved with its baselines; the median is reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SMALL = 'x'.repeat(48) // with the envelope, a ~64-byte message
const MIB = 1024 * 1024

async function startServers(): Promise<{ child: ChildProcess; ports: ServerPorts }> {
  const child = fork(new URL('./lib/protocol-server.child.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ports = await new Promise<ServerPorts>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench server did not start within 10 s')), 10_000)
    child.once('message', (m) => { clearTimeout(timer); resolve(m as ServerPorts) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`bench server exited with ${code}`)) })
  })
  return { child, ports }
}

async function stopServers(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.disconnect()
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/** Runs each measurement ROUNDS times, in turn, and returns each one's median. */
async function interleaved(measurements: (() => Promise<number>)[]): Promise<number[]> {
  const results: number[][] = measurements.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < measurements.length; i++) results[i]!.push(await measurements[i]!())
  }
  return results.map((values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!)
}

// ---- small messages ----

async function rpcRoundTrips(client: RpcClient<typeof benchCatalogue>, inFlight: number): Promise<number> {
  const deadline = performance.now() + SMALL_MS
  let count = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < deadline) {
      await client.call('echo', { text: SMALL })
      count++
    }
  }))
  return perSecond(count, started)
}

async function wsRoundTrips(ws: WebSocket, inFlight: number): Promise<number> {
  const message = Buffer.alloc(64, 1)
  const deadline = performance.now() + SMALL_MS
  let count = 0
  let outstanding = 0
  const started = performance.now()
  await new Promise<void>((resolve) => {
    const onMessage = (): void => {
      count++
      outstanding--
      if (performance.now() < deadline) {
        outstanding++
        ws.send(message)
      } else if (outstanding === 0) {
        ws.off('message', onMessage)
        resolve()
      }
    }
    ws.on('message', onMessage)
    for (let i = 0; i < inFlight; i++) {
      outstanding++
      ws.send(message)
    }
  })
  return perSecond(count, started)
}

async function tcpRoundTrips(socket: Socket, inFlight: number): Promise<number> {
  const size = 64
  const message = Buffer.alloc(size, 1)
  const deadline = performance.now() + SMALL_MS
  let count = 0
  let outstanding = 0
  let pending = 0 // bytes of a partly received message
  const started = performance.now()
  await new Promise<void>((resolve) => {
    const onData = (data: Buffer): void => {
      pending += data.length
      while (pending >= size) {
        pending -= size
        count++
        outstanding--
        if (performance.now() < deadline) {
          outstanding++
          socket.write(message)
        }
      }
      if (outstanding === 0) {
        socket.off('data', onData)
        resolve()
      }
    }
    socket.on('data', onData)
    for (let i = 0; i < inFlight; i++) {
      outstanding++
      socket.write(message)
    }
  })
  return perSecond(count, started)
}

// ---- 1 MiB payloads, client -> server ----

async function rpcUpload(client: RpcClient<typeof benchCatalogue>, durationMs: number): Promise<number> {
  const chunk = Buffer.alloc(MIB, 7)
  const started = performance.now()
  const deadline = started + durationMs
  const put = await client.open('blob.put', {}, { timeoutMs: 0 })
  let sent = 0
  while (performance.now() < deadline) {
    await put.writer.write(chunk)
    sent += chunk.length
  }
  await put.writer.end()
  const { bytes } = await put.response
  if (bytes !== sent) throw new Error(`rpc upload: server counted ${bytes}, sent ${sent}`)
  return bytes / MIB / ((performance.now() - started) / 1000)
}

async function wsUpload(ws: WebSocket, durationMs: number): Promise<number> {
  const chunk = Buffer.alloc(MIB, 7)
  const highWater = LIMITS.socketHighWaterBytes // the same socket budget the RPC layer uses
  const started = performance.now()
  const deadline = started + durationMs
  let queued = 0
  let sent = 0
  let wake: (() => void) | undefined
  while (performance.now() < deadline) {
    while (queued >= highWater) await new Promise<void>((resolve) => { wake = resolve })
    queued += chunk.length
    sent += chunk.length
    ws.send(chunk, () => {
      queued -= chunk.length
      const w = wake
      wake = undefined
      w?.()
    })
  }
  const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())))
  ws.send('total')
  const total = Number(await reply)
  if (total !== sent) throw new Error(`ws upload: server counted ${total}, sent ${sent}`)
  return total / MIB / ((performance.now() - started) / 1000)
}

async function tcpUpload(port: number, durationMs: number): Promise<number> {
  const socket = tcpConnect(port, '127.0.0.1')
  await once(socket, 'connect')
  const chunk = Buffer.alloc(MIB, 7)
  const started = performance.now()
  const deadline = started + durationMs
  let sent = 0
  while (performance.now() < deadline) {
    sent += chunk.length
    if (!socket.write(chunk)) await once(socket, 'drain')
  }
  let reply = ''
  socket.on('data', (d) => { reply += d.toString() })
  socket.end()
  await once(socket, 'close')
  if (Number(reply) !== sent) throw new Error(`tcp upload: server counted ${reply}, sent ${sent}`)
  return sent / MIB / ((performance.now() - started) / 1000)
}

async function openWs(port: number, zeroMask = false): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
    perMessageDeflate: false,
    maxPayload: 16 << 20,
    ...(zeroMask ? { generateMask: (mask: Buffer) => { mask.fill(0) } } : {}),
  })
  await once(ws, 'open')
  return ws
}

async function openTcp(port: number): Promise<Socket> {
  const socket = tcpConnect(port, '127.0.0.1')
  socket.setNoDelay(true)
  await once(socket, 'connect')
  return socket
}

export const benchmark: Benchmark = {
  name: 'protocol',
  description: 'RPC round trips/s and 1 MiB upload MB/s, beside raw ws and raw TCP on loopback',
  async run(): Promise<Row[]> {
    const { child, ports } = await startServers()
    const client = new RpcClient({
      url: `ws://127.0.0.1:${ports.rpc}`, catalogue: benchCatalogue, secret: BENCH_SECRET, clientId: 'bench', defaultTimeoutMs: 30_000,
    })
    let ws: WebSocket | undefined
    let wsUnmasked: WebSocket | undefined
    let tcp: Socket | undefined
    try {
      await client.ready()
      ws = await openWs(ports.ws)
      wsUnmasked = await openWs(ports.ws, true)
      tcp = await openTcp(ports.tcpEcho)
      // Warm up JITs and allocators on both sides.
      for (let i = 0; i < 2000; i++) await client.call('echo', { text: SMALL })
      await rpcUpload(client, 300)
      await wsUpload(ws, 300)

      const rows: Row[] = []
      for (const inFlight of [1, 64]) {
        const [rpc, raw, net] = await interleaved([
          () => rpcRoundTrips(client, inFlight),
          () => wsRoundTrips(ws!, inFlight),
          () => tcpRoundTrips(tcp!, inFlight),
        ])
        rows.push({
          measure: `small message round trips/s, ${inFlight} in flight`,
          rpc: round(rpc),
          'raw ws': round(raw),
          'raw tcp': round(net),
          'rpc/ws': percent(rpc, raw),
          target: inFlight === 64 ? '>= 70%' : '',
        })
      }
      const [rpcMb, wsMb, wsUnmaskedMb, tcpMb] = await interleaved([
        () => rpcUpload(client, BULK_MS),
        () => wsUpload(ws!, BULK_MS),
        () => wsUpload(wsUnmasked!, BULK_MS),
        () => tcpUpload(ports.tcpSink, BULK_MS),
      ])
      rows.push({
        measure: '1 MiB payloads client->server, MB/s',
        rpc: round(rpcMb),
        'raw ws': round(wsMb),
        'raw tcp': round(tcpMb),
        'rpc/ws': percent(rpcMb, wsMb),
        target: '>= 80%',
        // The RPC client skips ws masking for large frames; this is raw ws doing the same.
        'ws zero mask': round(wsUnmaskedMb),
        'rpc/zero': percent(rpcMb, wsUnmaskedMb),
      })
      rows.push({ measure: `bufferutil loaded (client/server)`, rpc: `${bufferutilLoaded()}/${ports.bufferutil}`, 'raw ws': '', 'raw tcp': '', 'rpc/ws': '', target: '' })
      return rows
    } finally {
      ws?.terminate()
      wsUnmasked?.terminate()
      tcp?.destroy()
      await client.close()
      await stopServers(child)
    }
  },
}

/** ws uses bufferutil for client masking when it loads; report whether it does here. */
function bufferutilLoaded(): boolean {
  try {
    createRequire(import.meta.url)('bufferutil')
    return true
  } catch {
    return false
  }
}
