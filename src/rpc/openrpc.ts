/**
 * The OpenRPC 1.2.6 document of the pqmed JSON-RPC API: the one source of truth for method names,
 * params, results and errors. The server compiles its param validators from the schemas here (see
 * `validate.ts`), `rpc.discover` returns this document, and the test suite validates every backend
 * result against the result schemas, so neither params nor results can drift from the code.
 */
import { RPC_ERRORS, type RpcErrorName } from './backend.js'

/** Version of the RPC API (OpenRPC `info.version`); bump the minor on additions, the major on breaks. */
export const RPC_API_VERSION = '2.0.0'

/** Standard JSON-RPC 2.0 error codes. */
export const JSONRPC_ERRORS = {
  PARSE_ERROR: { code: -32700, message: 'Parse error' },
  INVALID_REQUEST: { code: -32600, message: 'Invalid Request' },
  METHOD_NOT_FOUND: { code: -32601, message: 'Method not found' },
  INVALID_PARAMS: { code: -32602, message: 'Invalid params' },
  INTERNAL_ERROR: { code: -32603, message: 'Internal error' }
} as const

/** JSON Schema (draft-07 subset used here) as a plain JSON value. */
export type JsonSchema = { readonly [key: string]: unknown }

export interface ContentDescriptor {
  name: string
  summary?: string
  description?: string
  required?: boolean
  schema: JsonSchema
}

export interface ErrorObject { code: number, message: string, data?: unknown }

export interface MethodObject {
  name: string
  summary: string
  description: string
  paramStructure: 'by-name' | 'by-position' | 'either'
  params: ContentDescriptor[]
  result: ContentDescriptor
  errors: Array<{ $ref: string }>
  tags?: Array<{ name: string }>
}

export interface ServerObject {
  name: string
  url: string
  summary?: string
  description?: string
  variables?: Record<string, { default: string, description?: string }>
}

export interface OpenRpcDocument {
  openrpc: '1.2.6'
  info: { title: string, version: string, description: string, license: { name: string } }
  servers: ServerObject[]
  methods: MethodObject[]
  components: {
    schemas: Record<string, JsonSchema>
    errors: Record<string, ErrorObject>
  }
  'x-encoding': { bytes: 'base64', hashes: 'lowercase hex', ids: 'lowercase hex', integers: string }
}

/** The RPC method names (fixed). */
export const RPC_METHOD_NAMES = [
  'node_info', 'net_peers', 'chain_status', 'chain_getHeader', 'chain_getBlock',
  'chain_getHeaders', 'chain_getBlockSummary', 'chain_consortium', 'chain_getConsortium', 'chain_submitGovernance',
  'ehr_submitRecord', 'ehr_registerPatient', 'ehr_grantAccess',
  'ehr_getRecord', 'ehr_getRecords', 'ehr_verifyRecord', 'ehr_verifyFile', 'ehr_getPatient', 'ehr_listGrants',
  'sse_search', 'chain_getKeyEpochs', 'chain_submitKeyEpoch', 'consortium_submitChange', 'rpc.discover'
] as const

export type RpcMethodName = typeof RPC_METHOD_NAMES[number]

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` })
const arrayOf = (items: JsonSchema, description?: string): JsonSchema =>
  description === undefined ? { type: 'array', items } : { type: 'array', items, description }
const nullable = (name: string): JsonSchema => ({ anyOf: [ref(name), { type: 'null' }] })
/** A closed object: every listed property, `required` ones mandatory, nothing else. */
const object = (description: string, properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema => ({
  type: 'object',
  description,
  properties,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  additionalProperties: false
})

const MAX_SAFE = Number.MAX_SAFE_INTEGER
/** Most headers `chain_getHeaders` returns in one call. */
export const MAX_HEADERS_PER_CALL = 100
/** How long `chain_consortium` waits for each manager's status answer. */
export const CONSORTIUM_STATUS_TIMEOUT_MS = 2_000
/** Most record ids `ehr_getRecords` takes in one call. */
export const MAX_RECORDS_PER_CALL = 100
/** Highest field number: 0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i (at most 64 attachments). */
export const MAX_FIELD_NUMBER = 66
/** Index entries `sse_search` returns per page unless `limit` says otherwise, and the most it returns. */
export const SEARCH_PAGE_DEFAULT = 1_000
export const SEARCH_PAGE_MAX = 10_000

const SCHEMAS: Record<string, JsonSchema> = {
  Hex32: { type: 'string', pattern: '^[0-9a-f]{64}$', description: '32 bytes as 64 lowercase hex digits (SHA-256 hashes, record/patient/doctor ids, index labels).' },
  Cid: { type: 'string', pattern: '^bafkrei[a-z2-7]{52}$', description: 'IPFS CIDv1 of a ciphertext block (raw codec, sha2-256 multihash whose digest is the SHA-256 on chain), base32.' },
  Base64: {
    type: 'string',
    pattern: '^[A-Za-z0-9+/]*={0,2}$',
    format: 'base64',
    contentEncoding: 'base64',
    description: 'Bytes as standard padded base64 (RFC 4648 §4, length a multiple of 4).'
  },
  Uint: { type: 'integer', minimum: 0, maximum: MAX_SAFE },
  Height: { type: 'integer', minimum: 0, maximum: MAX_SAFE, description: 'Block height (0 is genesis).' },
  Time: { type: 'integer', minimum: 0, maximum: MAX_SAFE, description: 'Milliseconds since the Unix epoch.' },
  ChainId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$' },
  NodeInfo: object('This node.', {
    role: { enum: ['manager', 'user'], description: 'A manager runs consensus and stores the chain; a user node verifies answers from managers.' },
    chainId: ref('ChainId'),
    genesisHash: ref('Hex32'),
    peerId: { type: 'string', description: 'libp2p peer id.' },
    addrs: arrayOf({ type: 'string' }, 'libp2p multiaddrs this node listens on.'),
    version: { type: 'string', description: 'Node software version.' },
    pqBackend: { type: 'string', description: 'Post-quantum crypto backend (liboqs or noble).' },
    height: ref('Height')
  }),
  PeerInfo: object('A connected peer.', {
    peerId: { type: 'string' },
    addrs: arrayOf({ type: 'string' }),
    manager: { type: 'boolean', description: 'Whether the peer is one of the genesis managers.' }
  }),
  ChainStatus: object('Chain head and consensus state.', {
    height: ref('Height'),
    headerHash: ref('Hex32'),
    time: ref('Time'),
    managers: ref('Uint'),
    faultTolerance: { ...ref('Uint'), description: 'f: the number of faulty managers tolerated (n ≥ 3f + 1).' },
    view: { ...ref('Uint'), description: 'PBFT view (managers only).' },
    leader: { ...ref('Uint'), description: 'Index of the current leader (managers only).' },
    mempool: { ...ref('Uint'), description: 'Pending txs (managers only).' }
  }, ['view', 'leader', 'mempool']),
  Header: object('A block header.', {
    chainId: ref('ChainId'),
    height: ref('Height'),
    prevHash: ref('Hex32'),
    time: ref('Time'),
    proposer: ref('Uint'),
    view: ref('Uint'),
    recordIds: arrayOf(ref('Hex32')),
    txRoot: ref('Hex32'),
    txCount: ref('Uint'),
    indexRoot: ref('Hex32'),
    indexCount: ref('Uint'),
    indexStart: ref('Uint'),
    configHash: { ...ref('Hex32'), description: 'Hash of the consortium configuration (manager set) that certifies this block.' },
    nextConfigHash: { ...ref('Hex32'), description: 'Hash of the configuration that certifies the next block (differs only before a manager change takes effect).' },
    hash: { ...ref('Hex32'), description: 'The header hash.' }
  }),
  Certificate: object('A commit certificate: 2f + 1 manager signatures over the header hash.', {
    chainId: ref('ChainId'),
    height: ref('Height'),
    view: ref('Uint'),
    headerHash: ref('Hex32'),
    signatures: arrayOf(object('One manager\'s ML-DSA-65 signature.', { validator: ref('Uint'), signature: ref('Base64') }))
  }),
  CertifiedHeader: object('A header and its commit certificate (null when this node holds none for that height).', {
    header: ref('Header'),
    certificate: nullable('Certificate')
  }),
  IndexUpdate: object('An encrypted search-index entry.', { label: ref('Hex32'), value: ref('Base64') }),
  RecordTx: object('A record: the hashes of its three encrypted fields and attachments, signed by a registered doctor.', {
    type: { const: 'record' },
    recordId: ref('Hex32'),
    doctor: { ...ref('Hex32'), description: 'SHA-256 of the doctor\'s ML-DSA-65 public key.' },
    owner: { ...ref('Hex32'), description: 'SHA-256 of the patient\'s per-record owner key (ML-DSA-65, derived from the patient\'s secret and the record id; unlinkable across records). Signed by the doctor.' },
    fields: { ...arrayOf(ref('Hex32')), minItems: 3, maxItems: 3, description: 'SHA-256 of cip1 (personal info), cip2 (symptoms), cip3 (prescriptions).' },
    attachments: arrayOf(ref('Hex32'), 'SHA-256 of each attachment ciphertext.'),
    indexUpdates: arrayOf(ref('IndexUpdate')),
    time: ref('Time'),
    signature: ref('Base64')
  }),
  GrantTx: object('A grant: field keys wrapped for a grantee (consent log).', {
    type: { const: 'grant' },
    recordId: ref('Hex32'),
    grantor: { ...ref('Hex32'), description: 'SHA-256 of grantorKey: the record\'s doctor id or the record\'s owner id.' },
    grantorKey: { ...ref('Base64'), description: 'The grantor\'s ML-DSA-65 public key.' },
    grantee: ref('Hex32'),
    fields: arrayOf(ref('Uint'), 'Granted field numbers: 0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i.'),
    wrapped: ref('Base64'),
    time: ref('Time'),
    signature: ref('Base64')
  }),
  PatientTx: object('A patient enrollment: the patient\'s public keys.', {
    type: { const: 'patient' },
    patientId: ref('Hex32'),
    sigPublicKey: { ...ref('Base64'), description: 'ML-DSA-65 public key.' },
    kemPublicKey: { ...ref('Base64'), description: 'ML-KEM-768 public key.' },
    time: ref('Time'),
    signature: ref('Base64')
  }),
  DoctorTx: object('A hospital registers (add), replaces the keys of (rotate) or revokes (revoke) one of its doctors, signed by the hospital manager\'s ML-DSA-65 key (docs/GOVERNANCE.md). add carries name and both keys, rotate the new keys, revoke neither.', {
    type: { const: 'doctor' },
    action: { enum: ['add', 'rotate', 'revoke'] },
    hospital: { ...ref('Hex32'), description: 'Hospital id: SHA-256 of its manager\'s first ML-DSA-65 public key.' },
    doctor: { ...ref('Hex32'), description: 'add: the new doctor id (SHA-256 of sigPublicKey); rotate, revoke: the doctor\'s active id.' },
    name: { type: 'string', description: 'add only.' },
    sigPublicKey: { ...ref('Base64'), description: 'add, rotate: ML-DSA-65 public key (the new one for rotate).' },
    kemPublicKey: { ...ref('Base64'), description: 'add, rotate: ML-KEM-768 public key.' },
    time: ref('Time'),
    signature: ref('Base64')
  }, ['name', 'sigPublicKey', 'kemPublicKey']),
  UserNodeTx: object('A hospital admits (add) or removes (remove) a user node at the managers\' connection gate, signed by the hospital manager\'s key.', {
    type: { const: 'user-node' },
    action: { enum: ['add', 'remove'] },
    hospital: ref('Hex32'),
    peerId: { type: 'string', description: 'libp2p peer id of the user node.' },
    time: ref('Time'),
    signature: ref('Base64')
  }),
  KeyEpochTx: object('A key epoch: a new consortium index-2 key (keywords, file types, birth years) wrapped to every active doctor, signed by a hospital\'s manager.', {
    type: { const: 'key-epoch' },
    epoch: { type: 'integer', minimum: 2, maximum: 4294967295, description: 'Epoch number: 1 is the genesis key of consortium-key.json, on-chain epochs are 2, 3, … in order.' },
    keyId: { ...ref('Hex32'), description: 'SHA-256(\'pqmed/consortium-key-id/v1\' ‖ key).' },
    recipients: arrayOf(object('The key wrapped to one doctor (ML-KEM-768 → HKDF-SHA256 → AES-256-GCM).', {
      doctor: { ...ref('Hex32'), description: 'The doctor id (an index writer of this epoch).' },
      kemKeyId: { ...ref('Hex32'), description: 'SHA-256 of the ML-KEM-768 public key it is wrapped to.' },
      kemCiphertext: ref('Base64'),
      sealed: ref('Base64')
    })),
    hospital: { ...ref('Hex32'), description: 'Hospital id of the signer: SHA-256 of its manager\'s first ML-DSA-65 public key.' },
    time: ref('Time'),
    signature: ref('Base64')
  }),
  ManagerTx: object('A change of the manager set (a hospital joins, leaves or rotates its manager key), signed by at least 2f + 1 current managers.', {
    type: { const: 'manager' },
    action: { enum: ['add', 'remove', 'rotate'] },
    baseConfig: { ...ref('Hex32'), description: 'Hash of the configuration the change applies to.' },
    hospitalId: { ...ref('Hex32'), description: 'The hospital joining, leaving or rotating (SHA-256 of its first manager key).' },
    name: { type: 'string', description: 'add: the hospital\'s name.' },
    sigPublicKey: { ...ref('Base64'), description: 'add, rotate: the manager\'s (new) ML-DSA-65 public key.' },
    peerId: { type: 'string', description: 'add, rotate: the manager node\'s libp2p peer id.' },
    addrs: arrayOf({ type: 'string' }, 'add, rotate: the manager node\'s multiaddrs.'),
    time: ref('Time'),
    signers: arrayOf(ref('Hex32'), 'Hospital ids of the managers who signed the change.')
  }, ['name', 'sigPublicKey', 'peerId', 'addrs']),
  Tx: { anyOf: [ref('RecordTx'), ref('GrantTx'), ref('PatientTx'), ref('DoctorTx'), ref('UserNodeTx'), ref('KeyEpochTx'), ref('ManagerTx')], description: 'A transaction, discriminated by `type`.' },
  Block: object('A block with its certificate.', {
    header: ref('Header'),
    txs: arrayOf(ref('Tx')),
    certificate: nullable('Certificate')
  }),
  SubmitResult: object('Outcome of a submission.', {
    status: { enum: ['committed', 'pending'], description: '`pending`: accepted into the mempool (wait=false).' },
    txHash: ref('Hex32'),
    height: { ...ref('Height'), description: 'Height of the committing block (committed only).' }
  }, ['height']),
  Record: object('A committed record with everything needed to verify it independently.', {
    tx: ref('RecordTx'),
    height: ref('Height'),
    txIndex: ref('Uint'),
    proof: arrayOf(ref('Hex32'), 'Merkle inclusion proof of the tx under header.txRoot.'),
    ciphertexts: arrayOf(ref('Base64'), 'cip1, cip2, cip3, then the attachments.'),
    cids: arrayOf(ref('Cid'), 'The IPFS CID of each ciphertext, in the order of ciphertexts (derived from the hashes in tx; managers serve these blocks over bitswap).'),
    header: ref('Header'),
    certificate: nullable('Certificate'),
    verifiedBy: { enum: ['user-node', 'manager-store'], description: 'A user node verified the answer before replying; a manager answered from its own store.' }
  }),
  RecordVerification: object('Each verification check of a record, reported separately.', {
    recordId: ref('Hex32'),
    valid: { type: 'boolean', description: 'All checks passed.' },
    checks: object('The individual checks.', {
      signature: { type: 'boolean', description: 'The doctor\'s ML-DSA-65 signature verifies.' },
      ciphertextHashes: arrayOf({ type: 'boolean' }, 'Per ciphertext (fields, then attachments): its SHA-256 equals the committed hash.'),
      inclusion: { type: 'boolean', description: 'The Merkle proof places the tx under the header\'s txRoot.' },
      certificate: { type: 'boolean', description: 'The header is certified by 2f + 1 managers.' },
      doctorRegistered: { type: 'boolean', description: 'The signing doctor key was registered (genesis or a hospital\'s doctor add or rotate) and not yet retired at the record\'s height.' }
    }),
    height: ref('Height'),
    doctorStatus: { enum: ['active', 'rotated', 'revoked'], description: 'The signing doctor key\'s status now; a record signed before the key was rotated or revoked stays valid.' },
    doctorUntil: { ...ref('Height'), description: 'Height at which the doctor key was rotated or revoked.' }
  }, ['doctorStatus', 'doctorUntil']),
  Patient: object('An enrolled patient\'s public keys.', {
    patientId: ref('Hex32'),
    sigPublicKey: ref('Base64'),
    kemPublicKey: ref('Base64'),
    height: ref('Height')
  }),
  Grant: object('A committed grant.', { tx: ref('GrantTx'), height: ref('Height') }),
  SearchEntry: object('A search-index entry matched by the token, with its position in the index.', {
    label: ref('Hex32'),
    value: ref('Base64'),
    height: ref('Height'),
    position: ref('Uint')
  }),
  IndexRange: object('The index positions a certified header commits to: indexStart up to, not including, indexStart + indexCount.', {
    height: ref('Height'),
    indexStart: ref('Uint'),
    indexCount: ref('Uint')
  }),
  SearchPage: object('One page of search results.', {
    entries: arrayOf(ref('SearchEntry')),
    headers: arrayOf(ref('IndexRange'), 'The index range of the header at each height an entry is at, ascending by height, once each (a user node takes them from its certified headers), so that a client can check every position without asking for headers.'),
    next: { ...ref('Uint'), description: 'Absent on the last page; otherwise pass it as `cursor` with the same token to get the next page.' }
  }, ['next']),
  RecordFields: object('One record of ehr_getRecords: the record tx, its inclusion proof and the asked ciphertexts.', {
    recordId: ref('Hex32'),
    tx: ref('RecordTx'),
    height: ref('Height'),
    txIndex: ref('Uint'),
    proof: arrayOf(ref('Hex32'), 'Merkle inclusion proof of the tx under the txRoot of the header at `height` (in `headers`).'),
    fields: arrayOf(ref('Uint'), 'The field numbers of `ciphertexts`: those asked that this record has (0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i).'),
    ciphertexts: arrayOf(ref('Base64'), 'The ciphertexts of `fields`, same order.'),
    cids: arrayOf(ref('Cid'), 'The IPFS CID of each of `ciphertexts`.')
  }),
  Records: object('Several records in one answer.', {
    records: arrayOf(ref('RecordFields'), 'The committed records among the ids asked, in the order asked.'),
    missing: arrayOf(ref('Hex32'), 'The ids asked that are not committed; the others are answered all the same.'),
    headers: arrayOf(ref('Header'), 'The header of each height a record is at, ascending, once each.'),
    certificates: arrayOf(nullable('Certificate'), 'With certificates=true: the commit certificate of each of `headers`, same order; null if none was available.'),
    verifiedBy: { enum: ['user-node', 'manager-store'], description: 'A user node verified every record before replying; a manager answered from its own store.' }
  }, ['certificates']),
  FileMatch: object('Whether the given bytes are exactly a committed ciphertext, and which.', {
    match: { type: 'boolean' },
    sha256: { ...ref('Hex32'), description: 'SHA-256 of the given file (or the digest of the given CID).' },
    cid: { ...ref('Cid'), description: 'The IPFS CID of a ciphertext with these bytes.' },
    recordId: ref('Hex32'),
    field: { ...ref('Uint'), description: '0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i.' },
    height: ref('Height')
  }, ['recordId', 'field', 'height']),
  TxSummary: object('One tx of a block as the explorer lists it: ids, kind, size and signer, never a ciphertext (no node holds a plaintext).', {
    index: { ...ref('Uint'), description: 'Position of the tx in its block.' },
    type: { enum: ['record', 'grant', 'patient', 'doctor', 'user-node', 'key-epoch', 'manager'] },
    txHash: { ...ref('Hex32'), description: 'SHA-256 of the tx\'s canonical encoding (the hash a submission returns).' },
    size: { ...ref('Uint'), description: 'Bytes of the tx\'s canonical encoding (without its ciphertexts, which live off chain).' },
    id: { ...ref('Hex32'), description: 'The record id (record, grant), the patient id (patient), the doctor id (doctor), SHA-256 of the peer id text (user-node), the key id (key-epoch).' },
    signer: { ...ref('Hex32'), description: 'Who signed it: the doctor id (record), the grantor id (grant), the patient id (patient), the hospital id (doctor, user-node, key-epoch).' },
    time: ref('Time'),
    attachments: { ...ref('Uint'), description: 'Records: number of attachment ciphertexts (besides the three fields).' },
    indexUpdates: { ...ref('Uint'), description: 'Records: number of encrypted search-index entries.' },
    grantee: { ...ref('Hex32'), description: 'Grants: the grantee id.' },
    grantedFields: { ...arrayOf(ref('Uint')), description: 'Grants: 0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i.' }
  }, ['attachments', 'indexUpdates', 'grantee', 'grantedFields']),
  BlockSummary: object('A block as the explorer shows it: its header, size, certificate signers and tx summaries.', {
    header: ref('Header'),
    size: { ...ref('Uint'), description: 'Bytes of the block\'s canonical encoding (header and txs).' },
    certificate: {
      anyOf: [object('Who certified the block.', { view: ref('Uint'), signers: arrayOf(ref('Uint'), 'Manager indices whose ML-DSA-65 signature is in the certificate.') }), { type: 'null' }],
      description: 'null when this node holds no certificate for that height (a user node keeps its newest one).'
    },
    txs: arrayOf(ref('TxSummary'))
  }),
  ManagerState: object('One genesis manager and its consensus state as it reports it.', {
    index: ref('Uint'),
    name: { type: 'string' },
    id: { ...ref('Hex32'), description: 'SHA-256 of the manager\'s ML-DSA-65 public key.' },
    peerId: { type: 'string' },
    self: { type: 'boolean', description: 'This node is that manager.' },
    connected: { type: 'boolean', description: 'This node has a libp2p connection to it (always true for itself).' },
    height: { ...ref('Height'), description: 'Its committed height.' },
    headerHash: { ...ref('Hex32'), description: 'Hash of its newest committed header.' },
    lastCommitTime: { ...ref('Time'), description: 'Timestamp of its newest committed header (its last commit).' },
    view: { ...ref('Uint'), description: 'Its PBFT view.' },
    error: { type: 'string', maxLength: 512, description: 'Why its state is missing (not connected, no answer in time).' }
  }, ['height', 'headerHash', 'lastCommitTime', 'view', 'error']),
  Consortium: object('The genesis consortium: managers with their state, and the registered doctors.', {
    chainId: ref('ChainId'),
    genesisHash: ref('Hex32'),
    faultTolerance: { ...ref('Uint'), description: 'f: the number of faulty managers tolerated (n ≥ 3f + 1).' },
    blockInterval: { ...ref('Uint'), description: 'Minimum time between two proposals, ms (genesis parameter).' },
    managers: arrayOf(ref('ManagerState')),
    doctors: arrayOf(object('A registered doctor key (genesis or on chain).', {
      index: ref('Uint'),
      name: { type: 'string' },
      id: { ...ref('Hex32'), description: 'SHA-256 of the doctor\'s ML-DSA-65 public key (the signer id of its records).' },
      status: { enum: ['active', 'rotated', 'revoked'] },
      since: { ...ref('Height'), description: 'Height that registered the key (0: genesis).' },
      hospital: ref('Hex32')
    }, ['status', 'since', 'hospital']))
  }),
  ConsortiumDoctor: object('A doctor key: a rotation retires one id and registers another (linked by previous / next).', {
    id: { ...ref('Hex32'), description: 'SHA-256 of sigPublicKey: the doctor id its records name.' },
    name: { type: 'string' },
    hospital: { ...ref('Hex32'), description: 'The hospital the doctor belongs to.' },
    status: { enum: ['active', 'rotated', 'revoked'], description: 'At the requested height.' },
    since: { ...ref('Height'), description: 'Height of the commit that registered the key (0: genesis); it signs records of later heights.' },
    until: { ...ref('Height'), description: 'Height of the rotation or revocation; the key signs records up to this height.' },
    previous: { ...ref('Hex32'), description: 'The id this key replaced.' },
    next: { ...ref('Hex32'), description: 'The id that replaced this key.' },
    sigPublicKey: ref('Base64'),
    kemPublicKey: ref('Base64')
  }, ['until', 'previous', 'next']),
  ConsortiumState: object('The consortium configuration at a height: managers, f, doctors and user nodes with status and since-heights, and its hash.', {
    chainId: ref('ChainId'),
    height: ref('Height'),
    managers: arrayOf(object('A manager (hospital).', {
      index: ref('Uint'),
      name: { type: 'string' },
      hospital: { ...ref('Hex32'), description: 'Hospital id: SHA-256 of the manager\'s first ML-DSA-65 public key.' },
      peerId: { type: 'string' },
      sigPublicKey: ref('Base64')
    })),
    faultTolerance: { ...ref('Uint'), description: 'f = floor((n - 1) / 3).' },
    doctors: arrayOf(ref('ConsortiumDoctor')),
    userNodes: arrayOf(object('A user node the managers admit: genesis (hospital null) or on chain.', {
      peerId: { type: 'string' },
      hospital: { anyOf: [ref('Hex32'), { type: 'null' }] },
      status: { enum: ['active', 'removed'] },
      since: ref('Height'),
      until: { ...ref('Height'), description: 'Height of the removal.' }
    }, ['until'])),
    configHash: { ...ref('Hex32'), description: 'Hash of the manager-set configuration certifying block `height`: the configHash its header commits to.' },
    stateHash: { ...ref('Hex32'), description: 'SHA-256 of the dag-cbor encoding of { managers, faultTolerance, doctors, userNodes } as returned.' },
    verifiedBy: { enum: ['manager-store', 'user-node'], description: 'A manager answered from its registry; a user node rebuilt it from governance txs whose inclusion it verified against its certified headers (omissions are not detectable).' }
  }),
  KeyEpochs: object('Committed key epochs of the consortium index-2 key.', {
    latest: { ...ref('Uint'), description: 'The newest committed epoch (1: only the genesis key of consortium-key.json).' },
    epochs: arrayOf(object('A committed key epoch.', { epoch: ref('Uint'), tx: ref('KeyEpochTx'), height: ref('Height') }), 'Epochs above `since`, oldest first.'),
    recipients: arrayOf(object('An active doctor.', { id: ref('Hex32'), kemPublicKey: { ...ref('Base64'), description: 'ML-KEM-768 public key.' } }), 'The doctors a next epoch must be wrapped to (the answering manager\'s committed state; not verified by a user node, but managers refuse an epoch wrapped to another set).'),
    verifiedBy: { enum: ['user-node', 'manager-store'], description: '`user-node`: each epoch\'s inclusion was checked against certified headers, and the longest of f + 1 managers\' answers taken (a manager cannot forge an epoch, and cannot withhold one unless all f + 1 do).' }
  }),
  OpenRpcDocument: {
    type: 'object',
    description: 'An OpenRPC document (https://spec.open-rpc.org).',
    properties: { openrpc: { type: 'string' }, info: { type: 'object' }, methods: { type: 'array' } },
    required: ['openrpc', 'info', 'methods']
  }
}

const param = (name: string, schema: JsonSchema, description: string, required = true): ContentDescriptor =>
  ({ name, description, required, schema })
const recordIdParam = param('recordId', ref('Hex32'), 'The record id.')
const submissionParams = (kind: string): ContentDescriptor[] => [
  param('submission', ref('Base64'), `The ${kind} tx as \`encodeSubmission\` bytes (dag-cbor { tx, blobs }).`),
  param('wait', { type: 'boolean', default: false }, 'Wait until the tx is committed (true) or return once it is accepted into the mempool (false, the default).', false)
]
const submitErrors: RpcErrorName[] = ['INVALID_TX', 'BAD_SIGNATURE', 'DUPLICATE', 'LIMIT_EXCEEDED', 'NOT_COMMITTED', 'NO_MANAGER']
const readErrors: RpcErrorName[] = ['NO_MANAGER', 'UNVERIFIABLE']

interface MethodSpec {
  summary: string
  description: string
  params: ContentDescriptor[]
  result: ContentDescriptor
  errors: RpcErrorName[]
}

const METHODS: Record<RpcMethodName, MethodSpec> = {
  node_info: {
    summary: 'This node\'s role, chain, peer id and version.',
    description: 'Identity of the node answering: manager or user node, chain id and genesis hash, libp2p peer id and addresses, software version, PQ backend, current height.',
    params: [],
    result: { name: 'nodeInfo', schema: ref('NodeInfo') },
    errors: []
  },
  net_peers: {
    summary: 'Connected libp2p peers.',
    description: 'The peers this node is connected to, with their remote addresses and whether each is a genesis manager.',
    params: [],
    result: { name: 'peers', schema: arrayOf(ref('PeerInfo')) },
    errors: []
  },
  chain_status: {
    summary: 'Chain head and consensus status.',
    description: 'Height, hash and time of the newest certified header; the manager count and fault tolerance; managers also report their PBFT view, leader and mempool size.',
    params: [],
    result: { name: 'status', schema: ref('ChainStatus') },
    errors: []
  },
  chain_getHeader: {
    summary: 'A header and its commit certificate.',
    description: 'The header at a height (or the newest one) with the commit certificate this node holds for it (null if none; a user node keeps the certificate of its newest header, the chain of hashes certifies the rest).',
    params: [param('height', { anyOf: [ref('Height'), { const: 'latest' }] }, 'A height, or "latest".')],
    result: { name: 'certifiedHeader', schema: ref('CertifiedHeader') },
    errors: ['UNKNOWN_BLOCK']
  },
  chain_getBlock: {
    summary: 'A block: header, transactions and certificate.',
    description: 'The full block at a height. A user node fetches it from a manager and checks it against its certified header.',
    params: [param('height', ref('Height'), 'The block height.')],
    result: { name: 'block', schema: ref('Block') },
    errors: ['UNKNOWN_BLOCK', ...readErrors]
  },
  chain_getHeaders: {
    summary: 'Consecutive headers in one call.',
    description: 'The headers from height `from` upwards, at most `count` (1 to 100, default 20), oldest first, ending at this node\'s head: fewer than `count` near the head. From a manager\'s store or a user node\'s certified header chain.',
    params: [
      param('from', ref('Height'), 'The first height.'),
      param('count', { type: 'integer', minimum: 1, maximum: MAX_HEADERS_PER_CALL, default: 20 }, `How many headers, 1 to ${MAX_HEADERS_PER_CALL} (default 20); fewer near the head.`, false)
    ],
    result: { name: 'headers', schema: arrayOf(ref('Header')) },
    errors: ['UNKNOWN_BLOCK']
  },
  chain_getBlockSummary: {
    summary: 'A block\'s header, size, certificate signers and tx summaries.',
    description: 'What a block explorer lists: per tx its kind, id, tx hash, encoded size and signer id (never a ciphertext: no node holds a plaintext), and which managers signed the certificate. A user node fetches the block from a manager and checks it against its certified header.',
    params: [param('height', ref('Height'), 'The block height.')],
    result: { name: 'blockSummary', schema: ref('BlockSummary') },
    errors: ['UNKNOWN_BLOCK', ...readErrors]
  },
  chain_consortium: {
    summary: 'The genesis managers with their height, view and last commit; the registered doctors.',
    description: `Every genesis manager with the state it reports over the status protocol (height, newest header hash and time, PBFT view), asked at most ${CONSORTIUM_STATUS_TIMEOUT_MS} ms per manager; a manager this node is not connected to or that does not answer in time is listed with \`error\` instead. The registered doctors with their ids.`,
    params: [],
    result: { name: 'consortium', schema: ref('Consortium') },
    errors: []
  },
  chain_getConsortium: {
    summary: 'The consortium configuration at a height: managers, f, doctors and user nodes with status, and a configuration hash.',
    description: 'The managers, f, every doctor key (genesis or registered by a hospital) with its hospital, status (active, rotated, revoked) and since/until heights at `height`, the user nodes the managers admit, and `configHash`. A manager answers from its registry; a user node rebuilds the registry from the committed governance txs a manager lists, each checked against its certified headers and the hospital signature (docs/GOVERNANCE.md).',
    params: [param('height', ref('Height'), 'The height (default: the head).', false)],
    result: { name: 'consortium', schema: ref('ConsortiumState') },
    errors: ['UNKNOWN_BLOCK', ...readErrors]
  },
  chain_submitGovernance: {
    summary: 'Submit a hospital\'s doctor or user-node tx.',
    description: 'Submits a doctor (add, rotate, revoke) or user-node (add, remove) tx signed by a hospital manager\'s ML-DSA-65 key (`pqmed doctor ...`, `pqmed user-node ...`). Refused when not signed by a hospital of the consortium or about another hospital\'s doctor or user node (UNAUTHORIZED_HOSPITAL), or when the change does not apply (GOVERNANCE_CONFLICT), including an add over a cap: 400 active doctors and 256 user nodes per hospital, 1,600 active doctors in all.',
    params: submissionParams('doctor or user-node'),
    result: { name: 'submitResult', schema: ref('SubmitResult') },
    errors: [...submitErrors, 'UNAUTHORIZED_HOSPITAL', 'GOVERNANCE_CONFLICT']
  },
  ehr_submitRecord: {
    summary: 'Submit a signed, encrypted medical record.',
    description: 'Submits a record tx with its ciphertexts (cip1, cip2, cip3, attachments), built and signed by the doctor\'s client (the node never sees plaintext or keys). Managers check the signature, that the doctor is registered, that the ciphertexts hash to the committed hashes and that the record id is new. A user node forwards the submission to the managers.',
    params: submissionParams('record'),
    result: { name: 'submitResult', schema: ref('SubmitResult') },
    errors: [...submitErrors, 'UNREGISTERED_DOCTOR', 'INACTIVE_DOCTOR', 'BLOB_MISMATCH', 'DUPLICATE_LABEL']
  },
  ehr_registerPatient: {
    summary: 'Enroll a patient (publish their public keys).',
    description: 'Submits a patient tx carrying the patient\'s ML-DSA-65 and ML-KEM-768 public keys, self-signed (SVBE add patient).',
    params: submissionParams('patient'),
    result: { name: 'submitResult', schema: ref('SubmitResult') },
    errors: submitErrors
  },
  ehr_grantAccess: {
    summary: 'Grant a party access to fields of a record.',
    description: 'Submits a grant tx: field keys wrapped (ML-KEM-768 + AEAD) for the grantee, signed by the record\'s doctor or by the record\'s owner (the patient\'s per-record owner key); any other grantor is refused with UNAUTHORIZED_GRANTOR and nothing is stored. Grants are committed on chain and form the consent log.',
    params: submissionParams('grant'),
    result: { name: 'submitResult', schema: ref('SubmitResult') },
    errors: [...submitErrors, 'UNKNOWN_RECORD', 'UNAUTHORIZED_GRANTOR', 'INACTIVE_DOCTOR']
  },
  consortium_submitChange: {
    summary: 'Submit a change of the manager set (a hospital joins, leaves or rotates its manager key).',
    description: 'Submits a manager tx (`pqmed consortium submit`): the change, signed against the consortium configuration in effect by at least 2f + 1 of its managers (detached signatures, each made on the hospital\'s own machine). Refused with INVALID_TX if it is signed against another configuration (STALE_CONFIG), while another change is pending (CHANGE_PENDING), or if it does not apply or lacks the signatures (BAD_MANAGER_CHANGE), and with BAD_SIGNATURE if a signature does not verify. Committed at height c, it takes effect at c + configDelay (genesis params, default 2).',
    params: submissionParams('manager'),
    result: { name: 'submitResult', schema: ref('SubmitResult') },
    errors: submitErrors
  },
  ehr_getRecord: {
    summary: 'A record\'s ciphertexts with inclusion proof, header and certificate.',
    description: 'Everything a client needs to verify and decrypt a record: the record tx, its ciphertexts, the Merkle proof, the header and the commit certificate of the record\'s block (a user node, which keeps only its newest certificate, fetches that one from a manager and checks it; null only if no manager provided a valid one). A user node verifies all of it against its certified headers before replying.',
    params: [recordIdParam],
    result: { name: 'record', schema: ref('Record') },
    errors: ['UNKNOWN_RECORD', ...readErrors]
  },
  ehr_getRecords: {
    summary: 'Many records in one call, with only the ciphertexts asked for.',
    description: `Up to ${MAX_RECORDS_PER_CALL} distinct record ids in one round trip (more: INVALID_PARAMS). Each committed record comes with its record tx, Merkle proof and the ciphertexts of \`fields\` only (default: all of them), the headers of their heights once each, and with certificates=true the commit certificates of those heights. A user node sends one request to a manager for all of them and verifies every record as ehr_getRecord does; a record a manager leaves out, swaps or forges is asked of another manager. Ids that are not committed are listed in \`missing\`; the call still answers the others.`,
    params: [
      param('recordIds', { type: 'array', items: ref('Hex32'), minItems: 1, maxItems: MAX_RECORDS_PER_CALL, uniqueItems: true }, `The record ids, 1 to ${MAX_RECORDS_PER_CALL}, distinct.`),
      param('fields', { type: 'array', items: { type: 'integer', minimum: 0, maximum: MAX_FIELD_NUMBER }, minItems: 1, maxItems: MAX_FIELD_NUMBER + 1, uniqueItems: true }, 'The ciphertexts to return, by field number: 0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i. Default: all of them.', false),
      param('certificates', { type: 'boolean', default: false }, 'Also return the commit certificate of each height; a user node fetches from a manager those it does not hold. Default false.', false)
    ],
    result: { name: 'records', schema: ref('Records') },
    errors: readErrors
  },
  ehr_verifyRecord: {
    summary: 'Verify a record, reporting each check.',
    description: 'Checks the doctor\'s signature, each ciphertext hash, the Merkle inclusion, the certificate and the doctor\'s registration; reports each check and whether all passed.',
    params: [recordIdParam],
    result: { name: 'verification', schema: ref('RecordVerification') },
    errors: ['UNKNOWN_RECORD', ...readErrors]
  },
  ehr_verifyFile: {
    summary: 'Is this exact file (or this CID) a committed record field or attachment?',
    description: 'SVBE verify file: hashes the given bytes (a ciphertext as stored), or takes the SHA-256 digest of the given IPFS CID (CIDv1, raw codec, sha2-256), and reports whether a committed record commits to that hash, which record, which field and at which height. Give exactly one of file and cid (else INVALID_PARAMS).',
    params: [
      param('file', ref('Base64'), 'The file bytes.', false),
      param('cid', { type: 'string', minLength: 2, maxLength: 128, pattern: '^[A-Za-z0-9]+$' }, 'A ciphertext\'s IPFS CID (e.g. bafkrei…, as ehr_getRecord lists them), instead of the file.', false)
    ],
    result: { name: 'fileMatch', schema: ref('FileMatch') },
    errors: readErrors
  },
  ehr_getPatient: {
    summary: 'An enrolled patient\'s public keys.',
    description: 'SVBE verify patient: the public keys from the patient\'s committed enrollment and its height.',
    params: [param('patientId', ref('Hex32'), 'The patient id.')],
    result: { name: 'patient', schema: ref('Patient') },
    errors: ['UNKNOWN_PATIENT', ...readErrors]
  },
  ehr_listGrants: {
    summary: 'The committed grants of a record (consent log).',
    description: 'Every committed grant for a record, oldest first.',
    params: [recordIdParam],
    result: { name: 'grants', schema: arrayOf(ref('Grant')) },
    errors: ['UNKNOWN_RECORD', ...readErrors]
  },
  sse_search: {
    summary: 'Searchable-encryption query: token in, index entries out.',
    description: `Runs a search token (derived on the client from a keyword, type or birth-year range) against the encrypted index and returns the matching entries with their positions, and the index range of each height's header; a user node verifies every entry against the certified index roots before replying. The node learns nothing about the keyword. Answers are paged: up to \`limit\` entries (default ${SEARCH_PAGE_DEFAULT}, maximum ${SEARCH_PAGE_MAX}); \`next\`, when present, is the cursor of the following page.`,
    params: [
      param('token', ref('Base64'), 'The encoded search token.'),
      param('cursor', ref('Uint'), 'Where to continue: the `next` of the previous page, with the same token. Default 0, the first page.', false),
      param('limit', { type: 'integer', minimum: 1, maximum: SEARCH_PAGE_MAX, default: SEARCH_PAGE_DEFAULT }, `Entries per page, 1 to ${SEARCH_PAGE_MAX} (default ${SEARCH_PAGE_DEFAULT}).`, false)
    ],
    result: { name: 'page', schema: ref('SearchPage') },
    errors: ['MALFORMED_TOKEN', 'LIMIT_EXCEEDED', ...readErrors]
  },
  chain_getKeyEpochs: {
    summary: 'Key epochs of the consortium search key (index 2), to fetch the ones wrapped to a doctor.',
    description: 'The committed key-epoch txs above `since` (default 1: every on-chain epoch; epoch 1 is the genesis key of consortium-key.json), each with the index key wrapped to every doctor active when it was issued; a doctor opens its entry with its ML-KEM-768 secret key. Also the active doctors a next epoch must be wrapped to. A user node verifies each epoch\'s inclusion against its certified headers. An answer holds at most 8 MiB of epochs (at least one; an epoch wrapped to 1,600 doctors is about 2 MB): while the last epoch returned is below `latest`, ask again with it as `since`.',
    params: [param('since', { type: 'integer', minimum: 1, maximum: 4294967295, default: 1 }, 'Return the epochs numbered above this one.', false)],
    result: { name: 'keyEpochs', schema: ref('KeyEpochs') },
    errors: readErrors
  },
  chain_submitKeyEpoch: {
    summary: 'Submit a key epoch (a new consortium search key wrapped to the active doctors), signed by a manager.',
    description: 'Validates and gossips a key-epoch tx: the next epoch number, signed by a current manager (hospital), wrapped to exactly the active doctors. `pqmed consortium-key rotate` builds one.',
    params: submissionParams('key-epoch'),
    result: { name: 'result', schema: ref('SubmitResult') },
    errors: submitErrors
  },
  'rpc.discover': {
    summary: 'This OpenRPC document.',
    description: 'Returns the OpenRPC document describing this API, with `servers` set to this endpoint.',
    params: [],
    result: { name: 'openrpcDocument', schema: ref('OpenRpcDocument') },
    errors: []
  }
}

const DESCRIPTION = [
  'JSON-RPC 2.0 over HTTP POST (Content-Type: application/json) for pqmed, a post-quantum peer-to-peer network for medical records.',
  'Encoding: bytes travel as standard padded base64; hashes and ids as 64 lowercase hex digits; heights, counts and times (ms since the epoch) as JSON integers.',
  'Params may be given by name (an object) or by position (an array in the documented order); unknown params are rejected.',
  'Batches (at most the server\'s batch limit, 100 by default) and notifications are supported.',
  'Standard errors: -32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid params (data lists each failing path), -32603 internal error.',
  'Server errors in -32000..-32099 have stable meanings (components.errors); any method may also return -32030 (request body too large, HTTP 413) or -32031 (rate limited, HTTP 429).'
].join(' ')

/** Builds the OpenRPC document. `url`: the endpoint to list under `servers` (default: a template). */
export function openRpcDocument (url?: string): OpenRpcDocument {
  const errors: Record<string, ErrorObject> = {}
  for (const [name, e] of Object.entries(RPC_ERRORS)) errors[name] = { code: e.code, message: e.message }
  return {
    openrpc: '1.2.6',
    info: { title: 'pqmed JSON-RPC API', version: RPC_API_VERSION, description: DESCRIPTION, license: { name: 'Apache-2.0' } },
    servers: url === undefined
      ? [{ name: 'pqmed node', url: 'http://127.0.0.1:8645/', description: 'A node on this machine; the port is the node\'s --rpc-port (`rpc.discover` lists the actual endpoint).' }]
      : [{ name: 'this node', url }],
    methods: RPC_METHOD_NAMES.map((name) => {
      const m = METHODS[name]
      return {
        name,
        summary: m.summary,
        description: m.description,
        paramStructure: 'either',
        params: m.params,
        result: m.result,
        errors: m.errors.map((e) => ({ $ref: `#/components/errors/${e}` })),
        tags: [{ name: name.split(/[_.]/)[0] as string }]
      }
    }),
    components: { schemas: SCHEMAS, errors },
    'x-encoding': { bytes: 'base64', hashes: 'lowercase hex', ids: 'lowercase hex', integers: 'heights, counts and times (ms since the epoch) as JSON integers' }
  }
}
