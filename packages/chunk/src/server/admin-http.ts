/**
 * The plain-HTTP side of the chunk server's port: /healthz and /metrics. WebSocket upgrades on
 * the same port go to the RPC server; any other request gets 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface AdminSource {
  /** JSON body of /healthz, and whether the server is healthy (200) or not (503). */
  health(): { healthy: boolean; body: Record<string, unknown> }
  /** Prometheus text of /metrics. */
  metrics(): string
}

export function adminRequestListener(source: AdminSource): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(response, 405, 'text/plain', 'method not allowed\n')
    try {
      if (path === '/healthz') {
        const { healthy, body } = source.health()
        return reply(response, healthy ? 200 : 503, 'application/json', JSON.stringify(body) + '\n')
      }
      if (path === '/metrics') return reply(response, 200, 'text/plain; version=0.0.4; charset=utf-8', source.metrics())
    } catch (err) {
      return reply(response, 500, 'text/plain', `internal error: ${err instanceof Error ? err.message : String(err)}\n`)
    }
    return reply(response, 404, 'text/plain', 'not found\n')
  }
}

function reply(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  response.end(body)
}
