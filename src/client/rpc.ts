/**
 * A small typed JSON-RPC 2.0 client over HTTP (`fetch`) for the pqmed node API
 * (`src/rpc/openrpc.ts`): one method per RPC method, bytes as base64, ids as lowercase hex.
 */
import {
  RPC_ERRORS, type ChainStatus, type CertificateJson, type FileMatchJson, type KeyEpochsJson, type GrantJson, type HeaderJson, type NodeInfo,
  type PatientJson, type RecordJson, type RecordsJson, type RecordVerificationJson, type RpcErrorName, type SearchPageJson, type SubmitResultJson, type BlockJson, type ConsortiumStateJson
} from '../rpc/backend.js'
import * as codec from '../rpc/codec.js'
import { ClientError } from './errors.js'

/** Default endpoint of a local node. */
export const DEFAULT_RPC_URL = 'http://127.0.0.1:8645/'

/** A JSON-RPC error answer: `rpcCode` is the numeric code, `rpcName` its `RPC_ERRORS` name when it is a domain error. */
export class RpcCallError extends ClientError {
  readonly rpcCode: number
  readonly rpcName?: RpcErrorName
  readonly data?: unknown
  constructor (method: string, rpcCode: number, message: string, data?: unknown) {
    const rpcName = (Object.keys(RPC_ERRORS) as RpcErrorName[]).find((k) => RPC_ERRORS[k].code === rpcCode)
    super('RPC', `${method}: ${message} (${rpcCode}${rpcName !== undefined ? ` ${rpcName}` : ''})`)
    this.name = 'RpcCallError'
    this.rpcCode = rpcCode
    this.rpcName = rpcName
    this.data = data
  }
}

/**
 * No answer at all from `url` (connection refused, unknown host, timeout...): a `TRANSPORT`
 * error that says which URL was tried and why (`reason`: the system error code when there is one,
 * e.g. ECONNREFUSED, else the fetch error's message). The CLI adds where the URL came from.
 */
export class NodeUnreachableError extends ClientError {
  readonly url: string
  readonly reason: string
  constructor (method: string, url: string, err: unknown) {
    const cause = (err as { cause?: { code?: unknown, message?: unknown } } | null)?.cause
    const reason = typeof cause?.code === 'string'
      ? cause.code
      : (err as Error | null)?.name === 'TimeoutError' ? 'no answer in time' : typeof cause?.message === 'string' ? cause.message : String((err as Error | null)?.message ?? err)
    super('TRANSPORT', `${method}: cannot reach ${url}: ${reason}`)
    this.name = 'NodeUnreachableError'
    this.url = url
    this.reason = reason
  }
}

export const { b64, unb64, hex } = codec

/**
 * Runs a decoder of the JSON codec (src/rpc/codec.ts), reporting its failures as the client's:
 * a malformed id as BAD_INPUT, a malformed value as VERIFY_FAILED.
 */
export function fromJson<T> (decode: () => T): T {
  try { return decode() } catch (err) {
    if (err instanceof codec.JsonCodecError) throw new ClientError(err.code === 'BAD_HEX' ? 'BAD_INPUT' : 'VERIFY_FAILED', err.message)
    throw err
  }
}

export const unhex = (s: string, what = 'hex id'): Uint8Array => fromJson(() => codec.unhex(s, what))

export interface RpcClientOptions {
  /** Per-call timeout in ms (default 60 s: a submission waits for its commit). */
  timeoutMs?: number
}

export class RpcClient {
  readonly url: string
  private readonly timeoutMs: number
  private nextId = 1

  constructor (url: string = DEFAULT_RPC_URL, opts: RpcClientOptions = {}) {
    try { new URL(url) } catch { throw new ClientError('BAD_INPUT', `not a URL: ${url}`) }
    this.url = url
    this.timeoutMs = opts.timeoutMs ?? 60_000
  }

  /** Calls `method` with by-name params; throws `RpcCallError` on an error answer, `NodeUnreachableError` without one, `ClientError('TRANSPORT')` on a non-JSON-RPC answer. */
  async call<T> (method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++
    let res: Response
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: AbortSignal.timeout(this.timeoutMs)
      })
    } catch (err) {
      throw new NodeUnreachableError(method, this.url, err)
    }
    let body: unknown
    try { body = await res.json() } catch { throw new ClientError('TRANSPORT', `${method}: ${this.url} answered HTTP ${res.status} without JSON`) }
    const o = body as { id?: unknown, result?: unknown, error?: { code?: unknown, message?: unknown, data?: unknown } }
    if (o === null || typeof o !== 'object' || o.id !== id) throw new ClientError('TRANSPORT', `${method}: not a JSON-RPC 2.0 answer to request ${id}`)
    if (o.error !== undefined) {
      throw new RpcCallError(method, typeof o.error.code === 'number' ? o.error.code : -32603, typeof o.error.message === 'string' ? o.error.message : 'error', o.error.data)
    }
    return o.result as T
  }

  nodeInfo = async (): Promise<NodeInfo> => await this.call('node_info')
  chainStatus = async (): Promise<ChainStatus> => await this.call('chain_status')
  getHeader = async (height: number | 'latest'): Promise<{ header: HeaderJson, certificate: CertificateJson | null }> => await this.call('chain_getHeader', { height })
  getBlock = async (height: number): Promise<BlockJson> => await this.call('chain_getBlock', { height })
  submitRecord = async (submission: Uint8Array, wait = true): Promise<SubmitResultJson> => await this.call('ehr_submitRecord', { submission: b64(submission), wait })
  registerPatient = async (submission: Uint8Array, wait = true): Promise<SubmitResultJson> => await this.call('ehr_registerPatient', { submission: b64(submission), wait })
  grantAccess = async (submission: Uint8Array, wait = true): Promise<SubmitResultJson> => await this.call('ehr_grantAccess', { submission: b64(submission), wait })
  /** A hospital's doctor or user-node tx (`chain_submitGovernance`). */
  submitGovernance = async (submission: Uint8Array, wait = true): Promise<SubmitResultJson> => await this.call('chain_submitGovernance', { submission: b64(submission), wait })
  /** The consortium configuration at `height` (default: the head). */
  getConsortium = async (height?: number): Promise<ConsortiumStateJson> => await this.call('chain_getConsortium', height === undefined ? {} : { height })
  getRecord = async (recordId: Uint8Array): Promise<RecordJson> => await this.call('ehr_getRecord', { recordId: hex(recordId) })
  /**
   * `ehr_getRecords`: up to 100 distinct records in one call, with only the ciphertexts of
   * `fields` (0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i; default all);
   * ids that are not committed come back in `missing`.
   */
  getRecords = async (recordIds: readonly Uint8Array[], opts: { fields?: readonly number[], certificates?: boolean } = {}): Promise<RecordsJson> => {
    const params: Record<string, unknown> = { recordIds: recordIds.map(hex) }
    if (opts.fields !== undefined) params.fields = [...opts.fields]
    if (opts.certificates === true) params.certificates = true
    return await this.call('ehr_getRecords', params)
  }
  verifyRecord = async (recordId: Uint8Array): Promise<RecordVerificationJson> => await this.call('ehr_verifyRecord', { recordId: hex(recordId) })
  verifyFile = async (file: Uint8Array): Promise<FileMatchJson> => await this.call('ehr_verifyFile', { file: b64(file) })
  /** `ehr_verifyFile` by a ciphertext's IPFS CID (CIDv1, raw, sha2-256). */
  verifyCid = async (cid: string): Promise<FileMatchJson> => await this.call('ehr_verifyFile', { cid })
  getPatient = async (patientId: Uint8Array): Promise<PatientJson> => await this.call('ehr_getPatient', { patientId: hex(patientId) })
  listGrants = async (recordId: Uint8Array): Promise<GrantJson[]> => await this.call('ehr_listGrants', { recordId: hex(recordId) })
  /** One page of `sse_search` (`cursor`: the previous page's `next`; `limit`: entries per page). */
  search = async (token: Uint8Array, page: { cursor?: number, limit?: number } = {}): Promise<SearchPageJson> => {
    const params: Record<string, unknown> = { token: b64(token) }
    if (page.cursor !== undefined) params.cursor = page.cursor
    if (page.limit !== undefined) params.limit = page.limit
    return await this.call('sse_search', params)
  }
  /** Committed key epochs above `since` (default 1: all on-chain epochs), with the doctors a next epoch must be wrapped to. */
  getKeyEpochs = async (since = 1): Promise<KeyEpochsJson> => await this.call('chain_getKeyEpochs', { since })
  submitKeyEpoch = async (submission: Uint8Array, wait = true): Promise<SubmitResultJson> => await this.call('chain_submitKeyEpoch', { submission: b64(submission), wait })
}
