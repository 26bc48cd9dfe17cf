/**
 * The operations HTTP server of a node (`pqmed node --ops-port N [--ops-host H]`, bound to
 * 127.0.0.1 unless told otherwise):
 *
 * - `GET /metrics`: Prometheus text exposition (README "Metrics").
 * - `GET /healthz`: 200 `{"status":"ok"}` while the process serves.
 * - `GET /readyz`: 200 `{"ready":true,...}` or 503 `{"ready":false,"reason":"...",...}` (./ready.ts).
 *
 * Read-only, no request body is read; anything else is 404 (unknown path) or 405 (not GET/HEAD).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { listenHttp } from '../../rpc/listen.js'
import type { ReadyState } from './ready.js'

export interface OpsServerOptions {
  host: string
  port: number
  metrics: () => Promise<{ contentType: string, body: string }>
  ready: () => ReadyState
}

export interface OpsServer {
  /** `http://host:port` (no trailing slash). */
  readonly url: string
  readonly address: AddressInfo
  close: () => Promise<void>
}

function send (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(req.method === 'HEAD' ? undefined : body)
}

const json = (req: IncomingMessage, res: ServerResponse, status: number, o: unknown): void => { send(req, res, status, 'application/json', JSON.stringify(o) + '\n') }

export async function startOpsServer (opts: OpsServerOptions): Promise<OpsServer> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) throw new RangeError('ops port must be an integer in [0, 65535]')
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.setHeader('allow', 'GET, HEAD'); send(req, res, 405, 'text/plain', 'Method not allowed: GET /metrics, /healthz or /readyz\n'); return }
    if (path === '/healthz') { json(req, res, 200, { status: 'ok' }); return }
    if (path === '/readyz') {
      const r = opts.ready()
      json(req, res, r.ready ? 200 : 503, r)
      return
    }
    if (path === '/metrics') {
      opts.metrics().then(
        (m) => { send(req, res, 200, m.contentType, m.body) },
        (err: unknown) => { send(req, res, 500, 'text/plain', `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`) }
      )
      return
    }
    send(req, res, 404, 'text/plain', 'Not found: GET /metrics, /healthz or /readyz\n')
  })
  server.keepAliveTimeout = 5000
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  const { origin, address, close } = await listenHttp(server, opts.port, opts.host)
  return { url: origin, address, close }
}
