/**
 * The node's implementation of the RPC backend (`src/rpc/backend.ts`). A manager answers from its
 * own store; a user node asks managers and verifies every answer against its certified headers
 * before replying. Bytes become base64, hashes and ids lowercase hex.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import {
  encodeBlock, encodeTx, headerHash, isGovernanceTx, indexUpdatesHash, verifyCertificate, verifyRecordInclusion,
  configHash, configKeys, type Block, type CommitCertificate, type ConsortiumConfig, type Header, type Tx
} from '../blocks/index.js'
import { equalBytes, sha256, toHex, type PqBackend } from '../crypto/index.js'
import { blobCidString, verifyRecordTx } from '../records/index.js'
import {
  RpcDomainError, type ConsortiumDoctorJson, type ConsortiumStateJson, type BlockJson, type BlockSummaryJson, type ChainStatus, type ConsortiumJson, type FileMatchJson, type HeaderJson, type ManagerStateJson, type TxSummaryJson, type GrantJson, type NodeInfo,
  type KeyEpochsJson, type PatientJson, type PeerInfo, type RecordJson, type RecordVerificationJson, type RpcBackend, type RpcErrorName, type IndexRangeJson, type RecordFieldsJson, type RecordsJson, type SearchPageJson,
  type SubmitResultJson
} from '../rpc/backend.js'
import * as dagCbor from '@ipld/dag-cbor'
import { CONSORTIUM_STATUS_TIMEOUT_MS, SEARCH_PAGE_DEFAULT } from '../rpc/openrpc.js'
import { b64, certJson, headerJson, txJson } from '../rpc/codec.js'
import { keyEpochsRaw, MAX_KEY_EPOCHS_ANSWER_BYTES } from './app/key-epochs.js'
import { decodeStoredRecord, type StoredRecord } from './chain-store.js'
import { NodeError, type NodeErrorCode } from './errors.js'
import { faultTolerance, genesisHash, protocols, type Genesis } from './genesis.js'
import type { RunningNode } from './node.js'
import { ReqResp } from './reqresp.js'
import { decodeSubmission } from './validation/tx.js'
import type { Registry } from './app/governance.js'

export const VERSION = '0.1.0'

export { headerJson, certJson, txJson } from '../rpc/codec.js'

/** The node error codes that are JSON-RPC domain errors of the same name. */
const SAME_NAME = new Set<NodeErrorCode & RpcErrorName>(['INACTIVE_DOCTOR', 'UNAUTHORIZED_HOSPITAL', 'GOVERNANCE_CONFLICT', 'BAD_SIGNATURE', 'UNREGISTERED_DOCTOR', 'INVALID_TX', 'DUPLICATE', 'DUPLICATE_LABEL', 'BLOB_MISMATCH', 'UNAUTHORIZED_GRANTOR', 'MALFORMED_TOKEN', 'NOT_COMMITTED', 'NO_MANAGER', 'UNVERIFIABLE', 'UNKNOWN_RECORD'])
/** Node error codes mapped to another JSON-RPC domain error. */
const RENAMED: Partial<Record<NodeErrorCode, RpcErrorName>> = { MALFORMED: 'INVALID_TX', STALE_CONFIG: 'INVALID_TX', CHANGE_PENDING: 'INVALID_TX', BAD_MANAGER_CHANGE: 'INVALID_TX', TOO_LARGE: 'LIMIT_EXCEEDED', TOKEN_LIMIT: 'LIMIT_EXCEEDED', MEMPOOL_FULL: 'LIMIT_EXCEEDED', BUSY: 'LIMIT_EXCEEDED' }

/** Maps node errors to stable RPC domain errors; anything else stays an internal error. */
function domain (err: unknown): never {
  if (err instanceof RpcDomainError) throw err
  if (!(err instanceof NodeError)) throw err
  const code: NodeErrorCode = (err as NodeError).code
  if ((SAME_NAME as ReadonlySet<string>).has(code)) throw new RpcDomainError(code as RpcErrorName, err.message, code === 'UNKNOWN_RECORD' ? undefined : err.data)
  const renamed = RENAMED[code]
  if (renamed !== undefined) throw new RpcDomainError(renamed, err.message)
  throw err
}

/**
 * `chain_getConsortium` at `height` from a registry covering it: the managers of `config` (the
 * manager set certifying `height`), f, the doctor keys and user nodes with status and heights,
 * `configHash` (the config's hash, as headers commit to it) and `stateHash`, SHA-256 of the
 * dag-cbor encoding of `{ managers, faultTolerance, doctors, userNodes }` as returned.
 */
export function consortiumState (genesis: Genesis, reg: Registry, height: number, config: ConsortiumConfig, verifiedBy: ConsortiumStateJson['verifiedBy']): ConsortiumStateJson {
  const managers = config.managers.map((mg, index) => ({ index, name: mg.name, hospital: toHex(mg.hospitalId), peerId: mg.peerId, sigPublicKey: b64(mg.sigPublicKey) }))
  const doctors = reg.doctorsAt(height).map((d): ConsortiumDoctorJson => ({
    id: d.id,
    name: d.name,
    hospital: d.hospital,
    status: d.status,
    since: d.since,
    ...(d.until !== undefined ? { until: d.until } : {}),
    ...(d.previous !== undefined ? { previous: d.previous } : {}),
    ...(d.next !== undefined ? { next: d.next } : {}),
    sigPublicKey: b64(d.sigPublicKey),
    kemPublicKey: b64(d.kemPublicKey)
  }))
  const userNodes: ConsortiumStateJson['userNodes'] = [
    ...(genesis.userNodes ?? []).map((peerId) => ({ peerId, hospital: null, status: 'active' as const, since: 0 })),
    ...reg.userNodesAt(height)
  ]
  const f = faultTolerance(managers.length)
  const stateHash = toHex(sha256(dagCbor.encode(JSON.parse(JSON.stringify({ managers, faultTolerance: f, doctors, userNodes })))))
  return { chainId: genesis.chainId, height, managers, faultTolerance: f, doctors, userNodes, configHash: toHex(configHash(config)), stateHash, verifiedBy }
}

/** A tx as the explorer lists it: ids, kind, size, signer; no ciphertext. */
function txSummary (tx: Tx, index: number): TxSummaryJson {
  const bytes = encodeTx(tx)
  const base = { index, type: tx.type, txHash: toHex(sha256(bytes)), size: bytes.length, time: tx.time }
  switch (tx.type) {
    case 'record': return { ...base, id: toHex(tx.recordId), signer: toHex(tx.doctor), attachments: tx.attachments.length, indexUpdates: tx.indexUpdates.length }
    case 'grant': return { ...base, id: toHex(tx.recordId), signer: toHex(tx.grantor), grantee: toHex(tx.grantee), grantedFields: [...tx.fields] }
    case 'patient': return { ...base, id: toHex(tx.patientId), signer: toHex(tx.patientId) }
    case 'doctor': return { ...base, id: toHex(tx.doctor), signer: toHex(tx.hospital) }
    case 'user-node': return { ...base, id: toHex(sha256(new TextEncoder().encode(tx.peerId))), signer: toHex(tx.hospital) }
    case 'key-epoch': return { ...base, id: toHex(tx.keyId), signer: toHex(tx.hospital) }
    case 'manager': return { ...base, id: toHex(tx.change.action === 'add' ? tx.change.manager.hospitalId : tx.change.hospitalId), signer: toHex(tx.signatures[0]?.hospitalId ?? new Uint8Array(32)) }
  }
}

/** A manager's answer to `/status/1 status`, read defensively (an older manager reports no view or time). */
function managerStatus (v: unknown): Pick<ManagerStateJson, 'height' | 'headerHash' | 'view' | 'lastCommitTime'> {
  const o = (v !== null && typeof v === 'object' ? v : {}) as Record<string, unknown>
  const uint = (x: unknown): number | undefined => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : undefined
  const height = uint(o.height)
  if (height === undefined || !(o.hash instanceof Uint8Array) || o.hash.length !== 32) throw new Error('malformed status answer')
  const out: Pick<ManagerStateJson, 'height' | 'headerHash' | 'view' | 'lastCommitTime'> = { height, headerHash: toHex(o.hash) }
  const view = uint(o.view)
  const time = uint(o.time)
  if (view !== undefined) out.view = view
  if (time !== undefined) out.lastCommitTime = time
  return out
}

export interface BackendOptions {
  node: RunningNode
  genesis: Genesis
  pq: PqBackend
}

export function createRpcBackend ({ node, genesis, pq }: BackendOptions): RpcBackend {
  const gHash = toHex(genesisHash(genesis))
  /** The governance registry covering at least `h`: the manager's own, or one a user node rebuilt from verified txs. */
  async function registry (h: number): Promise<Registry> {
    if (m !== undefined) return m.registry
    try { return await (l as NonNullable<typeof l>).registryAt(h) } catch (err) { return domain(err) }
  }
  const managerIds = new Set(genesis.managers.map((m) => m.peerId))
  const m = node.manager
  const l = node.light

  const height = (): number => m?.chain.head.height ?? l?.height ?? 0
  /** The manager set certifying block `h` (≥ 1): a manager's committed history, a user node's verified headers. */
  async function configAt (h: number): Promise<ConsortiumConfig> {
    if (m !== undefined) return m.consortium.at(Math.max(1, h))
    const c = await l?.configAt(h)
    if (c === undefined) throw new RpcDomainError('UNKNOWN_BLOCK', `the manager set of height ${h} is not known to this node (no header or configuration)`)
    return c
  }
  /** A client of the managers' status protocol (no handler: a manager's own service answers). */
  let statusClient: ReqResp | undefined
  const status = async (): Promise<ReqResp> => {
    if (statusClient === undefined) {
      statusClient = new ReqResp(node.host, { protocol: protocols(genesis.chainId).status, maxBytes: 64 * 1024, timeoutMs: CONSORTIUM_STATUS_TIMEOUT_MS })
      await statusClient.start()
    }
    return statusClient
  }

  async function block (h: number): Promise<Block> {
    let b: Block | undefined
    if (m !== undefined) b = await m.chain.block(h)
    else {
      try { b = await l?.getBlock(h) } catch (err) { domain(err) }
    }
    if (b === undefined) throw new RpcDomainError('UNKNOWN_BLOCK', `no block at height ${h} (head is ${height()})`)
    return b
  }

  async function header (h: number): Promise<Header> {
    const hd = m !== undefined ? await m.chain.header(h) : await l?.header(h)
    if (hd === undefined) throw new RpcDomainError('UNKNOWN_BLOCK', `no header at height ${h} (head is ${height()})`)
    return hd
  }

  async function certificate (h: number): Promise<CommitCertificate | null> {
    if (m !== undefined) return await m.chain.cert(h) ?? null
    const c = l?.certificate
    return c !== null && c !== undefined && c.height === h ? c : null
  }

  /** A committed record with proof: from the store (manager) or verified from a manager (user node). */
  async function record (recordId: Uint8Array): Promise<{ stored: StoredRecord, blobs: Uint8Array[], header: Header, verifiedBy: RecordJson['verifiedBy'] }> {
    if (m !== undefined) {
      let r
      try { r = await m.getRecord(recordId) } catch (err) { domain(err) }
      if (r === undefined) throw new RpcDomainError('UNKNOWN_RECORD', `record ${toHex(recordId)} is not committed`)
      const stored = decodeStoredRecord(r.stored)
      return { stored, blobs: r.blobs, header: await header(stored.height), verifiedBy: 'manager-store' }
    }
    let v
    try { v = await l?.getRecord(recordId) } catch (err) { domain(err) }
    if (v === undefined) throw new RpcDomainError('UNKNOWN_RECORD', `record ${toHex(recordId)} is not committed`)
    const stored: StoredRecord = { tx: v.tx, height: v.height, txIndex: v.txIndex, txCount: v.txCount, proof: v.proof }
    return { stored, blobs: v.blobs, header: v.header, verifiedBy: 'user-node' }
  }

  /** Which committed record field or attachment has a ciphertext with this SHA-256. */
  async function verifyHash (hash: Uint8Array): Promise<FileMatchJson> {
    const ids = { sha256: toHex(hash), cid: blobCidString(hash) }
    if (m !== undefined) {
      const owner = await m.chain.blobOwner(hash)
      if (owner === undefined) return { match: false, ...ids }
      const raw = await m.chain.recordRaw(owner.recordId)
      return { match: true, ...ids, recordId: toHex(owner.recordId), field: owner.field, height: raw === undefined ? undefined : decodeStoredRecord(raw).height }
    }
    let f
    try { f = await l?.findFile(hash) } catch (err) { domain(err) }
    if (f === undefined) return { match: false, ...ids }
    const tx = f.stored.tx
    return { match: true, ...ids, recordId: tx.type === 'record' ? toHex(tx.recordId) : undefined, field: f.field, height: f.stored.height }
  }

  return {
    async nodeInfo (): Promise<NodeInfo> {
      return { role: node.role, chainId: genesis.chainId, genesisHash: gHash, peerId: node.peerId, addrs: node.host.getMultiaddrs().map(String), version: VERSION, pqBackend: pq.name, height: height() }
    },

    async netPeers (): Promise<PeerInfo[]> {
      const seen = new Map<string, PeerInfo>()
      for (const c of node.host.getConnections()) {
        const id = c.remotePeer.toString()
        const p = seen.get(id) ?? { peerId: id, addrs: [], manager: managerIds.has(id) }
        p.addrs.push(c.remoteAddr.toString())
        seen.set(id, p)
      }
      return [...seen.values()]
    },

    async chainStatus (): Promise<ChainStatus> {
      const h = height()
      const hd = await header(h)
      const base: ChainStatus = { height: h, headerHash: toHex(headerHash(hd)), time: hd.time, managers: genesis.managers.length, faultTolerance: faultTolerance(genesis.managers.length) }
      if (m !== undefined) {
        const s = m.status()
        return { ...base, view: s.view, leader: s.leader, mempool: s.mempool }
      }
      return base
    },

    async getHeader (h) {
      const target = h === 'latest' ? height() : h
      const hd = await header(target)
      const c = await certificate(target)
      return { header: headerJson(hd), certificate: c === null ? null : certJson(c) }
    },

    async getBlock (h): Promise<BlockJson> {
      const b = await block(h)
      const c = await certificate(h)
      return { header: headerJson(b.header), txs: b.txs.map(txJson), certificate: c === null ? null : certJson(c) }
    },

    async getHeaders (from, count): Promise<HeaderJson[]> {
      const head = height()
      if (from > head) throw new RpcDomainError('UNKNOWN_BLOCK', `no header at height ${from} (head is ${head})`)
      const to = Math.min(head, from + count - 1)
      const out: HeaderJson[] = []
      for (let h = from; h <= to; h++) out.push(headerJson(await header(h)))
      return out
    },

    async getBlockSummary (h): Promise<BlockSummaryJson> {
      const b = await block(h)
      const c = await certificate(h)
      return {
        header: headerJson(b.header),
        size: encodeBlock(b).length,
        certificate: c === null ? null : { view: c.view, signers: c.signatures.map((s) => s.validator) },
        txs: b.txs.map(txSummary)
      }
    },

    async consortium (): Promise<ConsortiumJson> {
      const managers = await Promise.all(genesis.managers.map(async (g, index): Promise<ManagerStateJson> => {
        const base = { index, name: g.name, id: toHex(sha256(g.sigPublicKey)), peerId: g.peerId }
        if (m !== undefined && m.self === index) {
          const s = m.status()
          return { ...base, self: true, connected: true, height: s.height, headerHash: toHex(s.hash), lastCommitTime: m.chain.head.header.time, view: s.view }
        }
        let peer
        try { peer = peerIdFromString(g.peerId) } catch { return { ...base, self: false, connected: false, error: 'invalid peer id in genesis' } }
        const connected = node.host.getConnections(peer).length > 0
        if (!connected) return { ...base, self: false, connected, error: 'not connected to this node' }
        try {
          return { ...base, self: false, connected, ...managerStatus(await (await status()).request(peer, 'status', null)) }
        } catch (err) {
          return { ...base, self: false, connected, error: (err instanceof Error ? err.message : String(err)).slice(0, 512) }
        }
      }))
      return {
        chainId: genesis.chainId,
        genesisHash: gHash,
        faultTolerance: faultTolerance(genesis.managers.length),
        blockInterval: genesis.params.blockInterval,
        managers,
        doctors: await (async () => {
          // the genesis doctors, then the doctors added on chain, each with its status (when the registry is at hand)
          let reg: Registry | undefined
          try { reg = await registry(height()) } catch { reg = undefined }
          const list = reg?.doctorsAt(height()) ?? genesis.doctors.map((d) => ({ name: d.name, id: toHex(sha256(d.sigPublicKey)), status: undefined, since: 0, hospital: undefined }))
          return list.map((d, index) => ({ index, name: d.name, id: d.id, ...(d.status !== undefined ? { status: d.status, since: d.since, hospital: d.hospital } : {}) }))
        })()
      }
    },

    async getConsortium (at): Promise<ConsortiumStateJson> {
      const head = height()
      const h = at ?? head
      if (h > head) throw new RpcDomainError('UNKNOWN_BLOCK', `no header at height ${h} (head is ${head})`)
      const config = await configAt(h)
      return consortiumState(genesis, await registry(h), h, config, m !== undefined ? 'manager-store' : 'user-node')
    },

    async submit (submission, wait, kind): Promise<SubmitResultJson> {
      const d = decodeSubmission(submission)
      if (d.verdict !== 'ACCEPT') throw new RpcDomainError(d.code === 'TOO_LARGE' ? 'LIMIT_EXCEEDED' : 'INVALID_TX', d.reason)
      if (kind === 'governance' ? !isGovernanceTx(d.value.tx) : kind !== undefined && d.value.tx.type !== kind) throw new RpcDomainError('INVALID_TX', `expected a ${kind} tx, got a ${d.value.tx.type} tx`)
      try {
        if (m !== undefined) return await m.submit(submission, wait)
        if (l !== undefined) return await l.submit(submission, wait)
      } catch (err) { domain(err) }
      throw new Error('node has no role')
    },

    async getRecord (recordId): Promise<RecordJson> {
      const r = await record(recordId)
      // a user node keeps only its newest certificate: the record's own is fetched from a manager,
      // so that a client holding the genesis can check it
      const c = m !== undefined ? await certificate(r.stored.height) : await l?.certificateAt(r.stored.height) ?? null
      const tx = txJson(r.stored.tx)
      if (tx.type !== 'record' || r.stored.tx.type !== 'record') throw new RpcDomainError('UNKNOWN_RECORD', 'not a record')
      return {
        tx,
        height: r.stored.height,
        txIndex: r.stored.txIndex,
        proof: r.stored.proof.map(toHex),
        ciphertexts: r.blobs.map(b64),
        cids: [...r.stored.tx.fields, ...r.stored.tx.attachments].map((h) => blobCidString(h)),
        header: headerJson(r.header),
        certificate: c === null ? null : certJson(c),
        verifiedBy: r.verifiedBy
      }
    },

    async verifyRecord (recordId): Promise<RecordVerificationJson> {
      // Verification is done here from raw parts, reporting each check; on a user node the parts
      // come from a manager, on a manager from its own store.
      const r = await record(recordId)
      const tx = r.stored.tx
      if (tx.type !== 'record') throw new RpcDomainError('UNKNOWN_RECORD', 'not a record')
      const expected = [...tx.fields, ...tx.attachments]
      const ciphertextHashes = expected.map((h, i) => r.blobs[i] !== undefined && equalBytes(sha256(r.blobs[i] as Uint8Array), h))
      const gov = await registry(r.stored.height)
      const sig = verifyRecordTx(pq, (id) => gov.keyAt(id, r.stored.height), tx, indexUpdatesHash(tx.indexUpdates))
      const signature = sig.ok
      const doctorRegistered = sig.ok || sig.code !== 'UNREGISTERED_DOCTOR'
      const inclusion = verifyRecordInclusion(r.header, { tx, txIndex: r.stored.txIndex, txCount: r.stored.txCount, height: r.stored.height, proof: r.stored.proof })
      const cert = await certificate(r.stored.height)
      const certificateOk = r.verifiedBy === 'user-node'
        ? true // the user node's header chain is certified (hash links + certificate on its newest header)
        : cert !== null && verifyCertificate(cert, { chainId: genesis.chainId, managers: configKeys(await configAt(r.header.height)), verifier: pq }, { height: r.header.height, headerHash: headerHash(r.header) }).ok
      const checks = { signature, ciphertextHashes, inclusion, certificate: certificateOk, doctorRegistered }
      const doctor = (await registry(height())).doctor(tx.doctor) // its status now (a user node's registry as of its head)
      return {
        recordId: toHex(recordId),
        valid: signature && inclusion && certificateOk && ciphertextHashes.every(Boolean) && doctorRegistered,
        checks,
        height: r.stored.height,
        ...(doctor !== undefined ? { doctorStatus: doctor.status, ...(doctor.until !== undefined ? { doctorUntil: doctor.until } : {}) } : {})
      }
    },

    async verifyFile (file): Promise<FileMatchJson> { return await verifyHash(sha256(file)) },

    verifyHash,

    async getPatient (patientId): Promise<PatientJson> {
      let stored: StoredRecord | undefined
      if (m !== undefined) {
        const raw = await m.chain.patientRaw(patientId)
        stored = raw === undefined ? undefined : decodeStoredRecord(raw)
      } else {
        try { stored = await l?.getPatient(patientId) } catch (err) { domain(err) }
      }
      if (stored === undefined || stored.tx.type !== 'patient') throw new RpcDomainError('UNKNOWN_PATIENT', `patient ${toHex(patientId)} is not enrolled`)
      return { patientId: toHex(patientId), sigPublicKey: b64(stored.tx.sigPublicKey), kemPublicKey: b64(stored.tx.kemPublicKey), height: stored.height }
    },

    async listGrants (recordId): Promise<GrantJson[]> {
      let items: StoredRecord[]
      if (m !== undefined) items = (await m.chain.grantsRaw(recordId)).map(decodeStoredRecord)
      else {
        try { items = await l?.listGrants(recordId) ?? [] } catch (err) { domain(err) }
      }
      return items.flatMap((s) => {
        const tx = txJson(s.tx)
        return tx.type === 'grant' ? [{ tx, height: s.height }] : []
      })
    },

    async getKeyEpochs (since): Promise<KeyEpochsJson> {
      let epochs: StoredRecord[]
      let recipients: Array<{ id: Uint8Array, kemPublicKey: Uint8Array }>
      let latest: number
      if (m !== undefined) {
        epochs = (await keyEpochsRaw(m.chain.kv, since, MAX_KEY_EPOCHS_ANSWER_BYTES)).map(decodeStoredRecord) // (the client continues from the last)
        recipients = m.keyEpochRecipients()
        latest = m.keyEpochs.latest
      } else {
        try { ({ latest, epochs, recipients } = await (l as NonNullable<typeof l>).getKeyEpochs(since)) } catch (err) { domain(err) }
      }
      const out = epochs.flatMap((s) => {
        const tx = txJson(s.tx)
        return tx.type === 'key-epoch' ? [{ epoch: tx.epoch, tx, height: s.height }] : []
      })
      return { latest, epochs: out, recipients: recipients.map((d) => ({ id: toHex(d.id), kemPublicKey: b64(d.kemPublicKey) })), verifiedBy: m !== undefined ? 'manager-store' : 'user-node' }
    },

    async getRecords (recordIds, fields, withCertificates): Promise<RecordsJson> {
      const found: RecordFieldsJson[] = []
      const missing: string[] = []
      const headers = new Map<number, Header>()
      const add = (stored: StoredRecord, header: Header, blobs: Array<Uint8Array | null>): void => {
        const tx = stored.tx
        if (tx.type !== 'record') return
        const hashes = [...tx.fields, ...tx.attachments]
        const asked = fields ?? hashes.map((_, i) => i)
        const have = asked.map((f, i) => ({ f, b: blobs[i] })).filter((x): x is { f: number, b: Uint8Array } => x.f < hashes.length && x.b !== null && x.b !== undefined)
        const json = txJson(tx)
        if (json.type !== 'record') return
        found.push({
          recordId: toHex(tx.recordId),
          tx: json,
          height: stored.height,
          txIndex: stored.txIndex,
          proof: stored.proof.map(toHex),
          fields: have.map((x) => x.f),
          ciphertexts: have.map((x) => b64(x.b)),
          cids: have.map((x) => blobCidString(hashes[x.f] as Uint8Array))
        })
        headers.set(stored.height, header)
      }
      try {
        if (m !== undefined) {
          for (const id of recordIds) {
            const r = fields === undefined ? await m.getRecord(id) : await m.getRecord(id, fields)
            if (r === undefined) { missing.push(toHex(id)); continue }
            const stored = decodeStoredRecord(r.stored)
            add(stored, headers.get(stored.height) ?? await header(stored.height), r.blobs)
          }
        } else if (l !== undefined) {
          const r = await l.getRecords(recordIds, fields)
          r.records.forEach((v) => { if (v !== undefined) add(v, v.header, v.blobs) })
          missing.push(...r.missing.map(toHex))
        }
      } catch (err) { domain(err) }
      const heights = [...headers.keys()].sort((a, b) => a - b)
      const out: RecordsJson = { records: found, missing, headers: heights.map((h) => headerJson(headers.get(h) as Header)), verifiedBy: m !== undefined ? 'manager-store' : 'user-node' }
      if (withCertificates) {
        out.certificates = await Promise.all(heights.map(async (h) => {
          const c = m !== undefined ? await certificate(h) : await l?.certificateAt(h) ?? null
          return c === null ? null : certJson(c)
        }))
      }
      return out
    },

    async search (token, cursor, limit): Promise<SearchPageJson> {
      const page = { cursor, limit: limit ?? SEARCH_PAGE_DEFAULT }
      try {
        if (m !== undefined) {
          const res = await m.search(token, page)
          const entries = res.entries.map((x) => {
            const o = dagCbor.decode<{ label: Uint8Array, stored: Uint8Array }>(x)
            const s = dagCbor.decode<{ value: Uint8Array, height: number, position: number }>(o.stored)
            return { label: toHex(o.label), value: b64(s.value), height: s.height, position: s.position }
          })
          const headers: IndexRangeJson[] = []
          for (const h of [...new Set(entries.map((e) => e.height))].sort((a, b) => a - b)) {
            const hd = await header(h)
            headers.push({ height: h, indexStart: hd.indexStart, indexCount: hd.indexCount })
          }
          return res.next === undefined ? { entries, headers } : { entries, headers, next: res.next }
        }
        const res = await l?.search(token, page) ?? { entries: [], headers: [] }
        const entries = res.entries.map((e) => ({ label: toHex(e.label), value: b64(e.value), height: e.height, position: e.position }))
        return res.next === undefined ? { entries, headers: res.headers } : { entries, headers: res.headers, next: res.next }
      } catch (err) { return domain(err) }
    }
  }
}

