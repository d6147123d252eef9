/**
 * The daemon's HTTP side on its one port: `GET /healthz` and `GET /metrics`; WebSocket upgrades
 * on the same server go to the RpcServer attached to it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

export interface Health {
  healthy: boolean
  body: Record<string, unknown>
}

export interface AdminRoutes {
  health(): Health
  metrics(): string
}

export function createAdminServer(routes: AdminRoutes): Server {
  const server = createServer((req, res) => {
    try {
      route(routes, req, res)
    } catch (err) {
      send(res, 500, 'application/json', JSON.stringify({ error: (err as Error).message }))
    }
  })
  // Idle keep-alive sockets must not hold up a shutdown.
  server.keepAliveTimeout = 5000
  return server
}

function route(routes: AdminRoutes, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain', 'method not allowed\n')
    return
  }
  if (path === '/healthz') {
    const health = routes.health()
    send(res, health.healthy ? 200 : 503, 'application/json', JSON.stringify(health.body) + '\n')
    return
  }
  if (path === '/metrics') {
    send(res, 200, 'text/plain; version=0.0.4', routes.metrics())
    return
  }
  send(res, 404, 'text/plain', 'not found: try /healthz or /metrics\n')
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
