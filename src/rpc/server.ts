/**
 * The HTTP transport: `POST /` with `Content-Type: application/json`, a request-body limit, a
 * per-client-IP token bucket, and JSON-RPC 2.0 single requests, batches and notifications.
 * `GET /explorer/` serves the web explorer's static pages (`src/explorer`), which call this endpoint.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isExplorerPath, serveExplorer } from '../explorer/assets.js'
import { RPC_ERRORS, type RpcBackend } from './backend.js'
import { listenHttp } from './listen.js'
import { Dispatcher, topLevelError, type JsonRpcResponse, type RpcLogger, type RpcObserver } from './dispatch.js'
import { JSONRPC_ERRORS, openRpcDocument } from './openrpc.js'
import { RateLimiter, type RateLimit } from './ratelimit.js'

export interface RpcServerOptions {
  /** Interface to bind. Default 127.0.0.1 (loopback only). */
  host?: string
  /** TCP port; 0 picks a free one. */
  port: number
  /** Largest request body in bytes (submissions carry ciphertexts). Default 16 MiB. Over it: HTTP 413, -32030. */
  maxBodyBytes?: number
  /** Most requests in one batch. Default 100. Over it: -32600. */
  maxBatch?: number
  /**
   * Per-client-IP token bucket; every call costs one token (a batch of n calls costs n). Default
   * 100 per second with bursts of 200; `false` disables it. Over it: HTTP 429, -32031.
   */
  rateLimit?: RateLimit | false
  /** Receives internal errors (with stacks, never sent to clients). Default: stderr. */
  log?: RpcLogger
  /** Told of every JSON-RPC request handled (metrics): method, code (0 = ok) and duration. */
  observe?: RpcObserver
  /** Time a client has to send the request line and headers. Default 10 s. Over it: HTTP 408, connection closed. */
  headersTimeoutMs?: number
  /** Time a client has to send a whole request (headers and body). Default 30 s. Over it: HTTP 408, connection closed. */
  requestTimeoutMs?: number
  /** An idle keep-alive connection is closed after this long. Default 5 s. */
  keepAliveTimeoutMs?: number
  /** Most open TCP connections; further connections are closed at once. Default 256. */
  maxConnections?: number
  /** Most requests being handled at once (all connections, pipelined ones included). Default 512. Over it: HTTP 503, -32030. */
  maxInFlight?: number
  /**
   * Most request-body bytes held at once by all requests being read or handled (at least
   * `maxBodyBytes`). Default 64 MiB (four maximal bodies). Over it: HTTP 503, -32030.
   */
  maxBufferedBytes?: number
}

export interface RpcServer {
  /** `http://host:port/`, the JSON-RPC endpoint. */
  readonly url: string
  readonly address: AddressInfo
  /** Stops listening and closes every connection. Idempotent. */
  close: () => Promise<void>
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
export const DEFAULT_MAX_BATCH = 100
export const DEFAULT_RATE_LIMIT: RateLimit = Object.freeze({ perSecond: 100, burst: 200 })
/**
 * HTTP limits for a hospital-LAN API (README "JSON-RPC limits"). Headers are a few hundred bytes:
 * 10 s is ample on any LAN and bounds slowloris clients. A whole request (up to 16 MiB of
 * ciphertexts) gets 30 s, i.e. ≥ 4.5 Mbit/s for the largest body. Idle keep-alive connections are
 * closed after 5 s (clients reconnect cheaply on a LAN). 256 connections cover every workstation
 * of a department talking to its node at once, while bounding sockets and per-connection memory;
 * 512 requests in flight leave room for pipelining and bound queued work; at most 64 MiB of
 * request bodies are held at once (each costs a few times its size while decoded and parsed).
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000
export const DEFAULT_MAX_CONNECTIONS = 256
export const DEFAULT_MAX_IN_FLIGHT = 512
/** Each buffered body costs several times its size while it is decoded and parsed; 64 MiB bounds that memory. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024

const GET_TEXT = 'pqmed JSON-RPC 2.0 endpoint. POST application/json requests here; call "rpc.discover" for the OpenRPC document. The web explorer is at /explorer/.\n'
const stderrLog: RpcLogger = { warn: (msg) => { console.error(msg) } }

class BodyTooLarge extends Error {}
class OverBudget extends Error {}

/**
 * Reads the whole body, failing as soon as it exceeds `max` bytes or `take` refuses more bytes
 * (the server-wide budget of buffered bodies). With a declared length the bytes are copied once
 * into a buffer of that size (no second copy to join chunks).
 */
function readBody (req: IncomingMessage, max: number, declared: number | undefined, take: (n: number) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const whole = declared !== undefined && declared > 0 ? Buffer.allocUnsafe(declared) : undefined
    let size = 0
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > max) { req.off('data', onData); reject(new BodyTooLarge()); return }
      if (!take(chunk.length)) { req.off('data', onData); reject(new OverBudget()); return }
      if (whole !== undefined && size + chunk.length <= whole.length) chunk.copy(whole, size)
      else chunks.push(chunk)
      size += chunk.length
    }
    req.on('data', onData)
    req.once('end', () => {
      if (whole !== undefined && chunks.length === 0) resolve(whole.subarray(0, size))
      else resolve(Buffer.concat(whole === undefined ? chunks : [whole.subarray(0, Math.min(size, whole.length)), ...chunks], size))
    })
    req.once('error', reject)
    req.once('close', () => { if (!req.complete) reject(new Error('request aborted')) })
  })
}

function isJsonContentType (header: string | undefined): boolean {
  if (header === undefined) return false
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase())
  if (type !== 'application/json') return false
  return params.every((p) => !p.startsWith('charset=') || p === 'charset=utf-8' || p === 'charset="utf-8"')
}

function clientKey (req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? 'unknown'
  return a.startsWith('::ffff:') ? a.slice(7) : a
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function send (res: ServerResponse, status: number, contentType: string | undefined, body: string | undefined, headers: Record<string, string> = {}): void {
  if (res.headersSent) return
  res.statusCode = status
  res.setHeader('Cache-Control', 'no-store')
  res.setHeader('X-Content-Type-Options', 'nosniff')
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  if (contentType !== undefined && body !== undefined) {
    res.setHeader('Content-Type', contentType)
    res.setHeader('Content-Length', Buffer.byteLength(body))
    res.end(body)
  } else res.end()
}
const sendJson = (res: ServerResponse, status: number, body: string, headers?: Record<string, string>): void =>
  { send(res, status, 'application/json; charset=utf-8', body, headers) }
const sendError = (res: ServerResponse, status: number, r: JsonRpcResponse, headers?: Record<string, string>): void =>
  { sendJson(res, status, JSON.stringify(r), headers) }
const sendText = (res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void =>
  { send(res, status, 'text/plain; charset=utf-8', text, headers) }

/**
 * Starts a JSON-RPC 2.0 server over `backend`. Param validators are compiled from the OpenRPC
 * document before the port is opened.
 */
export async function createRpcServer (backend: RpcBackend, opts: RpcServerOptions): Promise<RpcServer> {
  const host = opts.host ?? '127.0.0.1'
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) throw new RangeError('port must be an integer in [0, 65535]')
  if (!Number.isInteger(maxBody) || maxBody < 1) throw new RangeError('maxBodyBytes must be a positive integer')
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError('maxBatch must be a positive integer')
  const headersTimeout = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const keepAliveTimeout = opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  for (const [name, v] of Object.entries({ headersTimeoutMs: headersTimeout, requestTimeoutMs: requestTimeout, keepAliveTimeoutMs: keepAliveTimeout, maxConnections, maxInFlight, maxBufferedBytes: maxBuffered })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`)
  }
  if (headersTimeout > requestTimeout) throw new RangeError('headersTimeoutMs must not exceed requestTimeoutMs')
  if (maxBuffered < maxBody) throw new RangeError('maxBufferedBytes must be at least maxBodyBytes')
  const limiter = opts.rateLimit === false ? undefined : new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT)
  const log = opts.log ?? stderrLog
  const dispatcher = new Dispatcher(backend, { document: openRpcDocument(), log, observe: opts.observe })

  const rateLimited = (res: ServerResponse, waitMs: number): void => {
    sendError(res, 429, topLevelError(RPC_ERRORS.RATE_LIMITED, { retryAfterMs: waitMs }), { 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) })
  }
  const tooLarge = (res: ServerResponse): void => {
    // The rest of the body is not read: close the connection once the response is out.
    sendError(res, 413, topLevelError(RPC_ERRORS.LIMIT_EXCEEDED, { limit: 'maxBodyBytes', max: maxBody }), { Connection: 'close' })
  }

  const busy = (res: ServerResponse, limit: string, max: number): void => {
    sendError(res, 503, topLevelError(RPC_ERRORS.LIMIT_EXCEEDED, { limit, max }), { 'Retry-After': '1', Connection: 'close' })
  }
  /** Request-body bytes held now (all requests); each request returns its share when its response ends. */
  let buffered = 0

  async function onRequest (req: IncomingMessage, res: ServerResponse, take: (n: number) => boolean): Promise<void> {
    const client = clientKey(req)
    if (limiter !== undefined) {
      const wait = limiter.take(client, 1, performance.now())
      if (wait > 0) { rateLimited(res, wait); return }
    }
    const path = (req.url ?? '/').split('?')[0] as string
    if (isExplorerPath(path)) { serveExplorer(req, res, path, (m) => { log.warn(m) }); return }
    if (path !== '/') { sendText(res, 404, 'Not found: the JSON-RPC endpoint is /\n'); return }
    if (req.method === 'GET' || req.method === 'HEAD') { sendText(res, 200, GET_TEXT); return }
    if (req.method !== 'POST') { sendText(res, 405, 'Method not allowed: POST JSON-RPC requests to /\n', { Allow: 'GET, HEAD, POST' }); return }
    if (!isJsonContentType(req.headers['content-type'])) {
      sendError(res, 415, topLevelError(JSONRPC_ERRORS.INVALID_REQUEST, { reason: 'Content-Type must be application/json (UTF-8)' }))
      return
    }
    const lengthHeader = req.headers['content-length']
    const declared = lengthHeader === undefined ? undefined : Number(lengthHeader)
    if (declared !== undefined && declared > maxBody) { tooLarge(res); return }
    if (declared !== undefined && buffered + declared > maxBuffered) { busy(res, 'maxBufferedBytes', maxBuffered); return }

    let body: Buffer
    try {
      body = await readBody(req, maxBody, declared, take)
    } catch (err) {
      if (err instanceof BodyTooLarge) tooLarge(res)
      if (err instanceof OverBudget) busy(res, 'maxBufferedBytes', maxBuffered)
      return // aborted by the client: nobody to answer
    }

    let payload: unknown
    try {
      payload = JSON.parse(utf8.decode(body))
    } catch {
      sendError(res, 200, topLevelError(JSONRPC_ERRORS.PARSE_ERROR))
      return
    }

    if (!Array.isArray(payload)) {
      const out = await dispatcher.handle(payload)
      if (out === undefined) send(res, 204, undefined, undefined)
      else sendJson(res, 200, out)
      return
    }
    if (payload.length === 0) { sendError(res, 200, topLevelError(JSONRPC_ERRORS.INVALID_REQUEST, { reason: 'empty batch' })); return }
    if (payload.length > maxBatch) { sendError(res, 200, topLevelError(JSONRPC_ERRORS.INVALID_REQUEST, { reason: `batch of ${payload.length} requests exceeds ${maxBatch}`, maxBatch })); return }
    if (limiter !== undefined && payload.length > 1) {
      const wait = limiter.take(client, payload.length - 1, performance.now())
      if (wait > 0) { rateLimited(res, wait); return }
    }
    const parts = (await Promise.all(payload.map(async (r) => await dispatcher.handle(r)))).filter((p): p is string => p !== undefined)
    if (parts.length === 0) send(res, 204, undefined, undefined)
    else sendJson(res, 200, `[${parts.join(',')}]`)
  }

  let inFlight = 0
  const server = createServer({
    headersTimeout: headersTimeout,
    requestTimeout: requestTimeout,
    keepAliveTimeout: keepAliveTimeout,
    // how often Node checks the header and request timeouts (its default, 30 s, would let a
    // slowloris client hold a connection for up to 30 s past the timeout)
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4)))
  }, (req, res) => {
    if (inFlight >= maxInFlight) { busy(res, 'maxInFlight', maxInFlight); return }
    inFlight++
    let held = 0
    const take = (n: number): boolean => {
      if (buffered + n > maxBuffered) return false
      buffered += n
      held += n
      return true
    }
    let done = false
    const release = (): void => { if (!done) { done = true; inFlight--; buffered -= held; held = 0 } }
    res.once('finish', release)
    res.once('close', release)
    onRequest(req, res, take).catch((err: unknown) => {
      log.warn(`rpc: request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      sendError(res, 500, topLevelError(JSONRPC_ERRORS.INTERNAL_ERROR))
    })
  })
  server.maxConnections = maxConnections

  const { origin, address, close } = await listenHttp(server, opts.port, host)
  const url = `${origin}/`
  dispatcher.setServerUrl(url)
  return { url, address, close }
}
