/**
 * The server side of the protocol benchmark, run in a forked child so that client and server
 * have their own event loops (as in production). Serves, on 127.0.0.1:
 *  - an RpcServer (echo, blob.put with a request stream);
 *  - a raw ws server: echoes binary messages up to 1 KiB, counts larger ones, and answers the
 *    text message "total" with the byte count so far (then resets it);
 *  - a raw TCP echo server and a raw TCP sink that answers with its byte count when the client ends.
 * Exits when the parent disconnects.
 */
import { createServer, type Socket } from 'node:net'
import { createRequire } from 'node:module'
import { WebSocketServer } from 'ws'
import { RpcServer } from '@tessera/protocol'
import { benchCatalogue, BENCH_SECRET, type ServerPorts } from './protocol-catalogue.js'

function bufferutilLoads(): boolean {
  try {
    createRequire(import.meta.url)('bufferutil')
    return true
  } catch {
    return false
  }
}

async function main(): Promise<void> {
  const rpc = await RpcServer.listen({
    catalogue: benchCatalogue,
    secret: BENCH_SECRET,
    serverId: 'bench-server',
    host: '127.0.0.1',
    port: 0,
    handlers: {
      echo: ({ text }) => ({ text }),
      'blob.put': async (_request, { requestStream }) => {
        let bytes = 0
        for await (const chunk of requestStream) bytes += chunk.byteLength
        return { bytes }
      },
    },
  })

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 16 << 20 })
  await new Promise((resolve) => wss.once('listening', resolve))
  wss.on('connection', (ws) => {
    let total = 0
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        ws.send(String(total))
        total = 0
      } else if (data.length <= 1024) {
        ws.send(data)
      } else {
        total += data.length
      }
    })
  })

  const tcpEcho = createServer((socket: Socket) => {
    socket.setNoDelay(true)
    socket.on('data', (d) => socket.write(d))
    socket.on('error', () => undefined)
  })
  const tcpSink = createServer((socket: Socket) => {
    let total = 0
    socket.on('data', (d) => { total += d.length })
    socket.on('end', () => socket.end(String(total)))
    socket.on('error', () => undefined)
  })
  await Promise.all([tcpEcho, tcpSink].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))))

  const ports: ServerPorts = {
    rpc: rpc.address().port,
    ws: (wss.address() as { port: number }).port,
    tcpEcho: (tcpEcho.address() as { port: number }).port,
    tcpSink: (tcpSink.address() as { port: number }).port,
    bufferutil: bufferutilLoads(),
  }
  process.send?.(ports)
  process.on('disconnect', () => process.exit(0))
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server failed: ${String(err)}\n`)
  process.exit(1)
})
