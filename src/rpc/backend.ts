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
  INACTIVE_DOCTOR: { code: -32018, message: 'Doctor revoked or its key rotated (earlier records and grants stay valid)' },
  UNAUTHORIZED_HOSPITAL: { code: -32019, message: 'Not signed by a hospital of the consortium, or about another hospital\'s doctor or user node' },
  GOVERNANCE_CONFLICT: { code: -32021, message: 'Governance change does not apply (unknown or inactive doctor, key in use, user node admitted already or not admitted, or a cap on active doctors or user nodes reached)' },
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
  | { type: 'doctor', action: 'add' | 'rotate' | 'revoke', hospital: string, doctor: string, name?: string, sigPublicKey?: string, kemPublicKey?: string, time: number, signature: string }
  | { type: 'user-node', action: 'add' | 'remove', hospital: string, peerId: string, time: number, signature: string }
  | { type: 'key-epoch', epoch: number, keyId: string, recipients: KeyEpochRecipientJson[], hospital: string, time: number, signature: string }
  | { type: 'manager', action: 'add' | 'remove' | 'rotate', baseConfig: string, hospitalId: string, name?: string, sigPublicKey?: string, peerId?: string, addrs?: string[], time: number, signers: string[] }

/** The index key of a key epoch wrapped to one doctor (hex ids, base64 ciphertexts). */
export interface KeyEpochRecipientJson { doctor: string, kemKeyId: string, kemCiphertext: string, sealed: string }

/** A committed key epoch of the consortium index-2 key. */
export interface KeyEpochJson {
  epoch: number
  tx: Extract<TxJson, { type: 'key-epoch' }>
  height: number
}

export interface KeyEpochsJson {
  /** The newest committed epoch (1: only the genesis key of consortium-key.json). */
  latest: number
  /** Epochs above `since`, oldest first. */
  epochs: KeyEpochJson[]
  /** The active doctors a next epoch must be wrapped to (a manager's committed state). */
  recipients: Array<{ id: string, kemPublicKey: string }>
  /** `user-node`: each epoch's inclusion was verified against certified headers, the longest of f + 1 managers' answers taken; recipients are not verified. */
  verifiedBy: 'user-node' | 'manager-store'
}

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

/** One record of `ehr_getRecords`: the record tx, its proof and only the asked ciphertexts. */
export interface RecordFieldsJson {
  recordId: string
  tx: Extract<TxJson, { type: 'record' }>
  height: number
  txIndex: number
  proof: string[]
  /** The field numbers whose ciphertexts follow (0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i): those asked that the record has. */
  fields: number[]
  /** The ciphertexts of `fields`, same order (base64). */
  ciphertexts: string[]
  /** The IPFS CID of each of those ciphertexts. */
  cids: string[]
}

export interface RecordsJson {
  /** The committed records among the ids asked, in the order asked. */
  records: RecordFieldsJson[]
  /** The ids asked that are not committed (per id; the others are still answered). */
  missing: string[]
  /** The header of each height a record is at, ascending, once each. */
  headers: HeaderJson[]
  /** With `certificates: true`: the commit certificate of each of `headers`, same order (null if none was available). */
  certificates?: Array<CertificateJson | null>
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
  /** The status of the record's doctor key now (a record it signed before its rotation or revocation stays valid). */
  doctorStatus?: 'active' | 'rotated' | 'revoked'
  /** The height at which the doctor key was rotated or revoked. */
  doctorUntil?: number
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

/** The certified index range of the header at `height` (`indexStart`, `indexCount` as in `HeaderJson`). */
export interface IndexRangeJson {
  height: number
  indexStart: number
  indexCount: number
}

/** One page of `sse_search`. */
export interface SearchPageJson {
  entries: SearchEntryJson[]
  /** The index range of the header at each height an entry is at, ascending (a user node takes them from its certified headers). */
  headers: IndexRangeJson[]
  /** Pass as `cursor` to get the next page; absent on the last page. */
  next?: number
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
  /** Genesis and on-chain doctor keys; `status`, `since` and `hospital` when the node has the registry at hand. */
  doctors: Array<{ index: number, name: string, id: string, status?: 'active' | 'rotated' | 'revoked', since?: number, hospital?: string }>
}

/** A doctor key in `chain_getConsortium` (docs/GOVERNANCE.md). */
export interface ConsortiumDoctorJson {
  id: string
  name: string
  hospital: string
  status: 'active' | 'rotated' | 'revoked'
  /** Height of the commit that registered this key (0: genesis); it signs records of later heights. */
  since: number
  /** Height of the rotation or revocation commit; it signs records up to this height. */
  until?: number
  previous?: string
  next?: string
  sigPublicKey: string
  kemPublicKey: string
}

/** The consortium configuration at a height (`chain_getConsortium`). */
export interface ConsortiumStateJson {
  chainId: string
  height: number
  managers: Array<{ index: number, name: string, hospital: string, peerId: string, sigPublicKey: string }>
  faultTolerance: number
  doctors: ConsortiumDoctorJson[]
  userNodes: Array<{ peerId: string, hospital: string | null, status: 'active' | 'removed', since: number, until?: number }>
  /** The manager-set configuration certifying block `height` (hex): the `configHash` its header commits to. */
  configHash: string
  /** SHA-256 (hex) of the dag-cbor encoding of `{ managers, faultTolerance, doctors, userNodes }` as returned. */
  stateHash: string
  /** `manager-store` (a manager's registry) or `user-node` (rebuilt from governance txs verified against the user node's headers). */
  verifiedBy: 'manager-store' | 'user-node'
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
  /** The managers, doctors and user nodes with status at `height` (default: the head). */
  getConsortium: (height?: number) => Promise<ConsortiumStateJson>
  /** Any tx kind: record, patient enrollment or grant, as `encodeSubmission` bytes (base64 decoded). */
  submit: (submission: Uint8Array, wait: boolean, kind?: 'record' | 'patient' | 'grant' | 'governance' | 'key-epoch' | 'manager') => Promise<SubmitResultJson>
  getRecord: (recordId: Uint8Array) => Promise<RecordJson>
  /** Up to `MAX_RECORDS_PER_CALL` distinct ids; `fields` undefined: every ciphertext. */
  getRecords: (recordIds: Uint8Array[], fields: number[] | undefined, certificates: boolean) => Promise<RecordsJson>
  verifyRecord: (recordId: Uint8Array) => Promise<RecordVerificationJson>
  verifyFile: (file: Uint8Array) => Promise<FileMatchJson>
  /** `verifyFile` by the ciphertext's SHA-256 (`ehr_verifyFile` with a CID). */
  verifyHash: (hash: Uint8Array) => Promise<FileMatchJson>
  getPatient: (patientId: Uint8Array) => Promise<PatientJson>
  listGrants: (recordId: Uint8Array) => Promise<GrantJson[]>
  /** One page: at most `limit` entries (default `SEARCH_PAGE_DEFAULT`) from token label `cursor` (default 0). */
  search: (token: Uint8Array, cursor?: number, limit?: number) => Promise<SearchPageJson>
  /** Committed key epochs above `since` (≥ 1), with the doctors the next one must be wrapped to. */
  getKeyEpochs: (since: number) => Promise<KeyEpochsJson>
}
