/**
 * `pqmed explorer --rpc URL`: a small HTTP server that serves the explorer pages (`./assets.ts`)
 * and passes the pages' JSON-RPC calls (`POST /`) on to the node at URL, so that the pages call
 * their own origin exactly as they do when a node serves them. Nothing else is forwarded: only
 * `POST /` with a body of at most the node's own request limit (16 MiB).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { listenHttp } from '../rpc/listen.js'
import { EXPLORER_PATH, isExplorerPath, serveExplorer } from './assets.js'

/** The default port of `pqmed explorer` (next to the devnet's JSON-RPC ports 8641–8646). */
export const DEFAULT_EXPLORER_PORT = 8660
/** Largest JSON-RPC body passed on: the node's own limit (src/rpc/server.ts DEFAULT_MAX_BODY_BYTES). */
export const MAX_PROXY_BODY_BYTES = 16 * 1024 * 1024
/** How long a proxied call may take (a submission waiting for its commit takes up to 30 s). */
export const PROXY_TIMEOUT_MS = 60_000

export interface ExplorerServerOptions {
  /** The node's JSON-RPC URL (http or https). */
  rpc: string
  port: number
  /** Default 127.0.0.1. */
  host?: string
  log?: (msg: string) => void
}

export interface ExplorerServer {
  /** `http://host:port/explorer/`. */
  readonly url: string
  readonly address: AddressInfo
  close: () => Promise<void>
}

/** A JSON-RPC error response (id null) as the proxy's own answer. */
function rpcError (res: ServerResponse, status: number, code: number, message: string, data: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message, data } })
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' })
  res.end(body)
}

/** Checks the `--rpc` URL: http(s), no credentials. */
export function parseRpcUrl (s: string): URL {
  let u: URL
  try { u = new URL(s) } catch { throw new Error(`--rpc ${s}: not a URL (e.g. http://127.0.0.1:8645/)`) }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--rpc ${s}: must be an http:// or https:// URL`)
  if (u.username !== '' || u.password !== '') throw new Error(`--rpc ${s}: credentials in the URL are not supported`)
  return u
}

async function readBody (req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

export async function startExplorerServer (opts: ExplorerServerOptions): Promise<ExplorerServer> {
  const upstream = parseRpcUrl(opts.rpc)
  const log = opts.log ?? ((m: string) => { console.error(m) })
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) throw new RangeError('port must be an integer in [0, 65535]')

  async function proxy (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? 0)
    const body = declared > MAX_PROXY_BODY_BYTES ? undefined : await readBody(req, MAX_PROXY_BODY_BYTES)
    if (body === undefined) {
      rpcError(res, 413, -32030, 'Limit exceeded', { limit: 'maxBodyBytes', max: MAX_PROXY_BODY_BYTES }, { Connection: 'close' })
      return
    }
    let up: Response
    try {
      up = await fetch(upstream, { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? 'application/json' }, body, signal: AbortSignal.timeout(PROXY_TIMEOUT_MS) })
    } catch (err) {
      const reason = `the node at ${upstream.href} did not answer: ${(err as Error).message}`
      log(`explorer: ${reason}`)
      rpcError(res, 502, -32603, 'Internal error', { reason })
      return
    }
    const out = Buffer.from(await up.arrayBuffer())
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', 'Content-Length': String(out.length) }
    const type = up.headers.get('content-type')
    if (type !== null) headers['Content-Type'] = type
    const retry = up.headers.get('retry-after')
    if (retry !== null) headers['Retry-After'] = retry
    res.writeHead(up.status, headers)
    res.end(out)
  }

  const server = createServer({ headersTimeout: 10_000, requestTimeout: PROXY_TIMEOUT_MS + 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string
    if (isExplorerPath(path)) { serveExplorer(req, res, path, log); return }
    if (path === '/' && req.method === 'POST') {
      proxy(req, res).catch((err: unknown) => {
        log(`explorer: proxy failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
        if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error', undefined)
        else res.destroy()
      })
      return
    }
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(302, { Location: EXPLORER_PATH, 'Content-Length': '0' })
      res.end()
      return
    }
    const text = 'Not found: the explorer is at /explorer/ (JSON-RPC calls: POST /)\n'
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) })
    res.end(text)
  })
  server.maxConnections = 256
  const { origin, address, close } = await listenHttp(server, opts.port, opts.host ?? '127.0.0.1')
  return { url: `${origin}${EXPLORER_PATH}`, address, close }
}
