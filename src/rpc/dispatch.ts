/**
 * JSON-RPC 2.0 processing, independent of the transport: request checks, batches, notifications,
 * param validation from the OpenRPC document, the calls into `RpcBackend`, and error mapping.
 */
import { RPC_ERRORS, RpcDomainError, type RpcBackend } from './backend.js'
import { JSONRPC_ERRORS, RPC_METHOD_NAMES, type OpenRpcDocument, type RpcMethodName } from './openrpc.js'
import { compileParamValidators, type ParamIssue, type ParamsValidator } from './validate.js'
import { blobHashFromCidString } from '../records/cid.js'

export type JsonRpcId = string | number | null

export interface JsonRpcError { code: number, message: string, data?: unknown }

export type JsonRpcResponse =
  | { jsonrpc: '2.0', id: JsonRpcId, result: unknown }
  | { jsonrpc: '2.0', id: JsonRpcId, error: JsonRpcError }

/** Where the RPC layer reports internal errors (with their stacks) and dropped notifications. */
export interface RpcLogger { warn: (msg: string) => void }

type Params = Record<string, unknown>
type Handler = (backend: RpcBackend, p: Params) => Promise<unknown>
type SubmissionKind = NonNullable<Parameters<RpcBackend['submit']>[2]>

/** Base64 → a fresh Uint8Array (the schema has already checked the alphabet and length). */
const bytes = (v: unknown): Uint8Array => Uint8Array.from(Buffer.from(v as string, 'base64'))
/** Lowercase hex (checked by the schema) → bytes. */
const hex = (v: unknown): Uint8Array => Uint8Array.from(Buffer.from(v as string, 'hex'))
/** A params problem the schema cannot express (answered as INVALID_PARAMS with this issue). */
class ParamsError extends Error {
  readonly issue: ParamIssue
  constructor (issue: ParamIssue) { super(issue.message); this.issue = issue }
}
/** `ehr_verifyFile`: exactly one of `file` and `cid`; a CID must name a raw sha2-256 block. */
const verifyFile: Handler = async (b, p) => {
  if ((p.file === undefined) === (p.cid === undefined)) throw new ParamsError({ path: '', keyword: 'oneOf', message: 'give exactly one of file and cid' })
  if (p.file !== undefined) return await b.verifyFile(bytes(p.file))
  let hash: Uint8Array
  try { hash = blobHashFromCidString(p.cid as string) } catch (err) { throw new ParamsError({ path: '/cid', keyword: 'format', message: (err as Error).message }) }
  return await b.verifyHash(hash)
}
const submit = (kind: SubmissionKind): Handler => async (b, p) => await b.submit(bytes(p.submission), p.wait === true, kind)

const HANDLERS: Record<Exclude<RpcMethodName, 'rpc.discover'>, Handler> = {
  node_info: async (b) => await b.nodeInfo(),
  net_peers: async (b) => await b.netPeers(),
  chain_status: async (b) => await b.chainStatus(),
  chain_getHeader: async (b, p) => await b.getHeader(p.height as number | 'latest'),
  chain_getBlock: async (b, p) => await b.getBlock(p.height as number),
  chain_getHeaders: async (b, p) => await b.getHeaders(p.from as number, p.count as number),
  chain_getBlockSummary: async (b, p) => await b.getBlockSummary(p.height as number),
  chain_consortium: async (b) => await b.consortium(),
  chain_getConsortium: async (b, p) => await b.getConsortium(p.height as number | undefined),
  chain_submitGovernance: submit('governance'),
  ehr_submitRecord: submit('record'),
  ehr_registerPatient: submit('patient'),
  ehr_grantAccess: submit('grant'),
  consortium_submitChange: submit('manager'),
  ehr_getRecord: async (b, p) => await b.getRecord(hex(p.recordId)),
  ehr_getRecords: async (b, p) => await b.getRecords((p.recordIds as string[]).map(hex), p.fields as number[] | undefined, p.certificates === true),
  ehr_verifyRecord: async (b, p) => await b.verifyRecord(hex(p.recordId)),
  ehr_verifyFile: verifyFile,
  ehr_getPatient: async (b, p) => await b.getPatient(hex(p.patientId)),
  ehr_listGrants: async (b, p) => await b.listGrants(hex(p.recordId)),
  sse_search: async (b, p) => await b.search(bytes(p.token), p.cursor as number | undefined, p.limit as number | undefined),
  chain_submitKeyEpoch: submit('key-epoch'),
  chain_getKeyEpochs: async (b, p) => await b.getKeyEpochs(p.since === undefined ? 1 : p.since as number)
}

/** Longest domain-error message passed to clients. */
const MAX_MESSAGE = 512

const errorResponse = (id: JsonRpcId, error: JsonRpcError): JsonRpcResponse => ({ jsonrpc: '2.0', id, error })
const std = (e: { code: number, message: string }, data?: unknown): JsonRpcError =>
  data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data }

/** A single error response with a null id (parse errors, empty or oversized batches). */
export function topLevelError (e: { code: number, message: string }, data?: unknown): JsonRpcResponse {
  return errorResponse(null, std(e, data))
}

const isId = (v: unknown): v is JsonRpcId => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

export interface DispatcherOptions {
  /** The document whose schemas validate the params (and that `rpc.discover` returns). */
  document: OpenRpcDocument
  log: RpcLogger
  /** Told of every request handled: its method (`unknown` for a name not in the API), code (0 = ok, else the JSON-RPC error code) and duration. */
  observe?: RpcObserver
}

export type RpcObserver = (method: string, code: number, seconds: number) => void

export class Dispatcher {
  private readonly backend: RpcBackend
  private readonly document: OpenRpcDocument
  private readonly log: RpcLogger
  private readonly validators: Map<string, ParamsValidator>
  private readonly paramNames: Map<string, string[]>
  private discoverDocument: OpenRpcDocument
  private readonly observe: RpcObserver | undefined

  constructor (backend: RpcBackend, opts: DispatcherOptions) {
    this.backend = backend
    this.document = opts.document
    this.discoverDocument = opts.document
    this.log = opts.log
    this.observe = opts.observe
    this.validators = compileParamValidators(opts.document)
    this.paramNames = new Map(opts.document.methods.map((m) => [m.name, m.params.map((p) => p.name)]))
    const documented = opts.document.methods.map((m) => m.name).sort()
    const implemented = [...RPC_METHOD_NAMES].sort()
    if (documented.join() !== implemented.join()) throw new Error(`OpenRPC document methods ${documented.join()} differ from the implemented ${implemented.join()}`)
  }

  /** Sets the endpoint `rpc.discover` lists under `servers`. */
  setServerUrl (url: string): void {
    this.discoverDocument = { ...this.document, servers: [{ name: 'this node', url }] }
  }

  /**
   * Handles one request object (a whole single request or one batch element) and returns its
   * serialized response, or `undefined` for a notification.
   */
  async handle (req: unknown): Promise<string | undefined> {
    const t0 = this.observe === undefined ? 0 : performance.now()
    const response = await this.respond(req)
    if (this.observe !== undefined) {
      const m = isObject(req) && typeof req.method === 'string' && this.validators.has(req.method) ? req.method : 'unknown'
      this.observe(m, response !== undefined && 'error' in response ? response.error.code : 0, (performance.now() - t0) / 1000)
    }
    if (response === undefined) return undefined
    try {
      return JSON.stringify(response)
    } catch (err) {
      // A result or error data that is not JSON (a BigInt, a cycle): the backend's bug, not the client's.
      this.log.warn(`rpc: unserializable response: ${err instanceof Error ? err.message : String(err)}`)
      return JSON.stringify(errorResponse(response.id, std(JSONRPC_ERRORS.INTERNAL_ERROR)))
    }
  }

  private async respond (req: unknown): Promise<JsonRpcResponse | undefined> {
    if (!isObject(req)) return errorResponse(null, std(JSONRPC_ERRORS.INVALID_REQUEST, { reason: 'a request must be an object' }))
    const hasId = Object.hasOwn(req, 'id')
    const id: JsonRpcId = hasId && isId(req.id) ? req.id : null
    const invalid = (reason: string): JsonRpcResponse => errorResponse(id, std(JSONRPC_ERRORS.INVALID_REQUEST, { reason }))
    if (req.jsonrpc !== '2.0') return invalid('"jsonrpc" must be exactly "2.0"')
    if (typeof req.method !== 'string') return invalid('"method" must be a string')
    if (hasId && !isId(req.id)) return invalid('"id" must be a string, a number or null')
    if (Object.hasOwn(req, 'params') && (req.params === null || typeof req.params !== 'object')) return invalid('"params" must be an object or an array')

    const outcome = await this.call(req.method, req.params)
    if (!hasId) return undefined // a notification: executed, never answered
    return 'error' in outcome ? errorResponse(id, outcome.error) : { jsonrpc: '2.0', id, result: outcome.result ?? null }
  }

  private async call (method: string, rawParams: unknown): Promise<{ result: unknown } | { error: JsonRpcError }> {
    const validate = this.validators.get(method)
    const names = this.paramNames.get(method)
    if (validate === undefined || names === undefined) return { error: std(JSONRPC_ERRORS.METHOD_NOT_FOUND, { method }) }

    let params: Params
    if (rawParams === undefined) params = {}
    else if (Array.isArray(rawParams)) {
      if (rawParams.length > names.length) return { error: std(JSONRPC_ERRORS.INVALID_PARAMS, [{ path: '', keyword: 'maxItems', message: `${method} takes at most ${names.length} positional params (${names.join(', ') || 'none'})` }]) }
      params = Object.fromEntries(rawParams.map((v, i) => [names[i] as string, v]))
    } else params = { ...(rawParams as Params) }
    const issues = validate(params)
    if (issues !== null) return { error: std(JSONRPC_ERRORS.INVALID_PARAMS, issues) }

    try {
      if (method === 'rpc.discover') return { result: this.discoverDocument }
      const handler = HANDLERS[method as Exclude<RpcMethodName, 'rpc.discover'>]
      return { result: await handler(this.backend, params) }
    } catch (err) {
      return { error: this.mapError(method, err) }
    }
  }

  private mapError (method: string, err: unknown): JsonRpcError {
    if (err instanceof ParamsError) return std(JSONRPC_ERRORS.INVALID_PARAMS, [err.issue])
    if (err instanceof RpcDomainError && Object.hasOwn(RPC_ERRORS, err.rpcCode)) {
      const known = RPC_ERRORS[err.rpcCode]
      const message = err.message === '' ? known.message : err.message.slice(0, MAX_MESSAGE)
      return err.data === undefined ? { code: known.code, message } : { code: known.code, message, data: err.data }
    }
    const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err)
    this.log.warn(`rpc: internal error in ${method}: ${detail}`)
    return std(JSONRPC_ERRORS.INTERNAL_ERROR)
  }
}
