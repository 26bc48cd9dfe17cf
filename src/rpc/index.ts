/**
 * `src/rpc`: JSON-RPC 2.0 over HTTP, a thin adapter over the `RpcBackend` a node implements.
 *
 * - `POST /` with `Content-Type: application/json`: single requests, batches (at most 100 by
 *   default), notifications (no response; an all-notification request gets HTTP 204).
 * - Params by name (object) or by position (array in the documented order), validated with ajv
 *   against the schemas of the OpenRPC document (`openRpcDocument()`, also served by
 *   `rpc.discover`): the document is the single source of truth for params and results.
 * - Bytes travel as standard padded base64, hashes and ids as lowercase hex.
 * - Errors: the standard codes -32700/-32600/-32601/-32602/-32603 (internal errors are logged,
 *   never described to the client) and the stable domain codes of `RPC_ERRORS` for
 *   `RpcDomainError`s. Body over the limit: HTTP 413 with -32030; rate limited: HTTP 429 with -32031.
 * - Binds 127.0.0.1 unless told otherwise.
 *
 * @example
 * ```ts
 * import { createRpcServer } from '../rpc/index.js'
 *
 * const rpc = await createRpcServer(backend, { port: 8645 }) // backend: an RpcBackend
 * const res = await fetch(rpc.url, {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_getHeader', params: { height: 'latest' } })
 * })
 * console.log(await res.json()) // { jsonrpc: '2.0', id: 1, result: { header: {...}, certificate: {...} } }
 * await rpc.close()
 * ```
 */
export * from './backend.js'
export * from './openrpc.js'
export { compileParamValidators, compileResultValidators, isBase64, paramsSchema, type ParamIssue, type ParamsValidator } from './validate.js'
export { RateLimiter, type RateLimit } from './ratelimit.js'
export { Dispatcher, type DispatcherOptions, type JsonRpcError, type JsonRpcId, type JsonRpcResponse, type RpcLogger, type RpcObserver } from './dispatch.js'
export { createRpcServer, DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES, DEFAULT_RATE_LIMIT, DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_BUFFERED_BYTES, type RpcServer, type RpcServerOptions } from './server.js'
