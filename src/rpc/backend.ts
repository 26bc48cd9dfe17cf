/**
 * The interface the JSON-RPC server needs from a node. `src/node` implements it (for managers,
 * from the local store; for user nodes, by asking managers and verifying every answer); tests
 * implement it with fakes. Every value is already JSON-shaped: bytes as base64 strings, hashes
 * and ids as lowercase hex strings, heights and times as integers.
 */

/** A domain error with a stable JSON-RPC server code (-32000..-32099), see `RPC_ERRORS`. */
export class RpcDomainError extends Error {
  readonly rpcCode: RpcErrorName
  readonly data?: unknown
  constructor (code: RpcErrorName, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcDomainError'
    this.rpcCode = code
    this.data = data
  }
}

/** Stable server error codes. Never renumber: clients depend on them. */
export const RPC_ERRORS = {
  UNKNOWN_RECORD: { code: -32001, message: 'Unknown record' },
  UNKNOWN_PATIENT: { code: -32002, message: 'Unknown patient' },
  UNKNOWN_BLOCK: { code: -32003, message: 'Unknown block or header' },
  BAD_SIGNATURE: { code: -32010, message: 'Bad signature' },
  UNREGISTERED_DOCTOR: { code: -32011, message: 'Unregistered doctor' },
  INVALID_TX: { code: -32012, message: 'Invalid transaction' },
  DUPLICATE: { code: -32013, message: 'Duplicate or replayed submission' },
  BLOB_MISMATCH: { code: -32014, message: 'Ciphertexts do not match the committed hashes' },
  /** Reserved: no longer returned since grants need the record's doctor or owner (-32016). */
  UNKNOWN_GRANTOR: { code: -32015, message: 'Unknown grantor (reserved, no longer returned)' },
  UNAUTHORIZED_GRANTOR: { code: -32016, message: 'Grantor not authorized for this record' },
  DUPLICATE_LABEL: { code: -32017, message: 'Index label already committed or pending (the client\'s index counters are behind; nothing was stored)' },
  MALFORMED_TOKEN: { code: -32020, message: 'Malformed search token' },
  LIMIT_EXCEEDED: { code: -32030, message: 'Limit exceeded' },
  RATE_LIMITED: { code: -32031, message: 'Rate limited' },
  NOT_COMMITTED: { code: -32040, message: 'Not committed in time (safe to resubmit)' },
  NO_MANAGER: { code: -32050, message: 'No manager reachable' },
  UNVERIFIABLE: { code: -32051, message: 'No manager returned a verifiable answer' },
  NOT_AVAILABLE: { code: -32060, message: 'Not available on this node role' }
} as const

export type RpcErrorName = keyof typeof RPC_ERRORS

export interface NodeInfo {
  role: 'manager' | 'user'
  chainId: string
  genesisHash: string
  peerId: string
  addrs: string[]
  version: string
  pqBackend: string
  height: number
}

export interface PeerInfo {
  peerId: string
  addrs: string[]
  manager: boolean
}

export interface ChainStatus {
  height: number
  headerHash: string
  time: number
  managers: number
  faultTolerance: number
  /** Managers only. */
  view?: number
  leader?: number
  mempool?: number
}

export interface HeaderJson {
  chainId: string
  height: number
  prevHash: string
  time: number
  proposer: number
  view: number
  recordIds: string[]
  txRoot: string
  txCount: number
  indexRoot: string
  indexCount: number
  indexStart: number
  /** Hash of the consortium configuration (manager set) certifying this block, and of the one certifying the next. */
  configHash: string
  nextConfigHash: string
  hash: string
}

export interface CertificateJson {
  chainId: string
  height: number
  view: number
  headerHash: string
  signatures: Array<{ validator: number, signature: string }>
}

export interface IndexUpdateJson { label: string, value: string }

export type TxJson =
  | { type: 'record', recordId: string, doctor: string, owner: string, fields: string[], attachments: string[], indexUpdates: IndexUpdateJson[], time: number, signature: string }
  | { type: 'grant', recordId: string, grantor: string, grantorKey: string, grantee: string, fields: number[], wrapped: string, time: number, signature: string }
  | { type: 'patient', patientId: string, sigPublicKey: string, kemPublicKey: string, time: number, signature: string }
  | { type: 'manager', action: 'add' | 'remove' | 'rotate', baseConfig: string, hospitalId: string, name?: string, sigPublicKey?: string, peerId?: string, addrs?: string[], time: number, signers: string[] }

export interface BlockJson { header: HeaderJson, txs: TxJson[], certificate: CertificateJson | null }

export interface SubmitResultJson {
  status: 'committed' | 'pending'
  txHash: string
  height?: number
}

export interface RecordJson {
  tx: Extract<TxJson, { type: 'record' }>
  height: number
  txIndex: number
  proof: string[]
  /** cip1, cip2, cip3, then attachments (base64). */
  ciphertexts: string[]
  /** The IPFS CID (v1, raw, sha2-256, base32) of each ciphertext, in the same order (from the hashes in tx). */
  cids: string[]
  header: HeaderJson
  certificate: CertificateJson | null
  /** Which node verified what (a user node verifies before answering; a manager answers from its store). */
  verifiedBy: 'user-node' | 'manager-store'
}

export interface RecordVerificationJson {
  recordId: string
  valid: boolean
  checks: {
    signature: boolean
    ciphertextHashes: boolean[]
    inclusion: boolean
    certificate: boolean
    doctorRegistered: boolean
  }
  height: number
}

export interface PatientJson {
  patientId: string
  sigPublicKey: string
  kemPublicKey: string
  height: number
}

export interface GrantJson {
  tx: Extract<TxJson, { type: 'grant' }>
  height: number
}

export interface SearchEntryJson {
  label: string
  value: string
  height: number
  position: number
}

export interface FileMatchJson {
  match: boolean
  sha256: string
  /** The IPFS CID of a ciphertext with this SHA-256. */
  cid: string
  recordId?: string
  /** 0 personal info, 1 symptoms, 2 prescriptions, 3+ attachment (3 + index). */
  field?: number
  height?: number
}

export interface TxSummaryJson {
  index: number
  type: TxJson['type']
  txHash: string
  size: number
  /** The record id (record, grant) or the patient id (patient). */
  id: string
  /** The doctor id (record), the grantor id (grant), the patient id (patient). */
  signer: string
  time: number
  attachments?: number
  indexUpdates?: number
  grantee?: string
  grantedFields?: number[]
}

export interface BlockSummaryJson {
  header: HeaderJson
  size: number
  certificate: { view: number, signers: number[] } | null
  txs: TxSummaryJson[]
}

export interface ManagerStateJson {
  index: number
  name: string
  id: string
  peerId: string
  self: boolean
  connected: boolean
  height?: number
  headerHash?: string
  lastCommitTime?: number
  view?: number
  error?: string
}

export interface ConsortiumJson {
  chainId: string
  genesisHash: string
  faultTolerance: number
  blockInterval: number
  managers: ManagerStateJson[]
  doctors: Array<{ index: number, name: string, id: string }>
}

/** What the RPC server calls. Methods throw `RpcDomainError` for domain failures. */
export interface RpcBackend {
  nodeInfo: () => Promise<NodeInfo>
  netPeers: () => Promise<PeerInfo[]>
  chainStatus: () => Promise<ChainStatus>
  getHeader: (height: number | 'latest') => Promise<{ header: HeaderJson, certificate: CertificateJson | null }>
  getBlock: (height: number) => Promise<BlockJson>
  /** Headers `from` .. min(from + count - 1, head), oldest first; `UNKNOWN_BLOCK` when `from` is above the head. */
  getHeaders: (from: number, count: number) => Promise<HeaderJson[]>
  getBlockSummary: (height: number) => Promise<BlockSummaryJson>
  consortium: () => Promise<ConsortiumJson>
  /** Any tx kind: record, patient enrollment or grant, as `encodeSubmission` bytes (base64 decoded). */
  submit: (submission: Uint8Array, wait: boolean, kind?: 'record' | 'patient' | 'grant' | 'manager') => Promise<SubmitResultJson>
  getRecord: (recordId: Uint8Array) => Promise<RecordJson>
  verifyRecord: (recordId: Uint8Array) => Promise<RecordVerificationJson>
  verifyFile: (file: Uint8Array) => Promise<FileMatchJson>
  /** `verifyFile` by the ciphertext's SHA-256 (`ehr_verifyFile` with a CID). */
  verifyHash: (hash: Uint8Array) => Promise<FileMatchJson>
  getPatient: (patientId: Uint8Array) => Promise<PatientJson>
  listGrants: (recordId: Uint8Array) => Promise<GrantJson[]>
  search: (token: Uint8Array) => Promise<SearchEntryJson[]>
}
