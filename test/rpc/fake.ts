/**
 * A fake `RpcBackend` for the RPC tests: returns fixed, well-formed answers, records the decoded
 * arguments of each call, and can be told to throw from any method.
 */
import { JSONRPCClient, type JSONRPCResponse } from 'json-rpc-2.0'
import type {
  BlockJson, CertificateJson, HeaderJson, RecordJson, RpcBackend, TxJson
} from '../../src/rpc/index.js'
import { blobCidString } from '../../src/records/index.js'

export const hex32 = (byte: number): string => byte.toString(16).padStart(2, '0').repeat(32)
export const b64 = (bytes: number[]): string => Buffer.from(bytes).toString('base64')
const unhexBytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
/** The CID of the ciphertext whose SHA-256 is hex32(byte). */
export const cid32 = (byte: number): string => blobCidString(unhexBytes(hex32(byte)))

const header: HeaderJson = {
  chainId: 'pqmed-test',
  height: 7,
  prevHash: hex32(1),
  time: 1_700_000_000_000,
  proposer: 2,
  view: 0,
  recordIds: [hex32(0xaa)],
  txRoot: hex32(2),
  txCount: 2,
  indexRoot: hex32(3),
  indexCount: 4,
  indexStart: 10,
  configHash: hex32(5),
  nextConfigHash: hex32(5),
  hash: hex32(4)
}
const certificate: CertificateJson = {
  chainId: 'pqmed-test',
  height: 7,
  view: 0,
  headerHash: hex32(4),
  signatures: [{ validator: 0, signature: b64([1, 2, 3]) }, { validator: 1, signature: b64([4, 5, 6, 7]) }, { validator: 3, signature: b64([8]) }]
}
const recordTx: Extract<TxJson, { type: 'record' }> = {
  type: 'record',
  recordId: hex32(0xaa),
  doctor: hex32(0xd0),
  owner: hex32(0xc0),
  fields: [hex32(0x11), hex32(0x12), hex32(0x13)],
  attachments: [hex32(0x14)],
  indexUpdates: [{ label: hex32(0x21), value: b64([9, 9, 9]) }],
  time: 1_699_999_999_000,
  signature: b64([0xde, 0xad])
}
const grantTx: Extract<TxJson, { type: 'grant' }> = {
  type: 'grant', recordId: hex32(0xaa), grantor: hex32(0xd0), grantorKey: b64([3, 3]), grantee: hex32(0xe0), fields: [1, 2], wrapped: b64([1, 1, 1, 1, 1]), time: 1_700_000_000_500, signature: b64([0xbe, 0xef])
}
const patientTx: Extract<TxJson, { type: 'patient' }> = {
  type: 'patient', patientId: hex32(0xb0), sigPublicKey: b64([5, 5]), kemPublicKey: b64([6, 6, 6]), time: 1_700_000_000_100, signature: b64([7])
}
const block: BlockJson = { header, txs: [recordTx, grantTx, patientTx], certificate }
const record: RecordJson = {
  tx: recordTx, height: 7, txIndex: 0, proof: [hex32(0x31)], ciphertexts: [b64([1]), b64([2, 2]), b64([3, 3, 3]), b64([4, 4, 4, 4])], cids: recordTx.fields.concat(recordTx.attachments).map((h) => blobCidString(unhexBytes(h))), header, certificate, verifiedBy: 'user-node'
}

/** One recorded backend call with its decoded arguments. */
export interface Call { method: keyof RpcBackend, args: unknown[] }

export interface FakeBackend extends RpcBackend {
  calls: Call[]
  /** When set, every method throws what this returns. */
  fail?: () => unknown
}

export function fakeBackend (): FakeBackend {
  const calls: Call[] = []
  const self: FakeBackend = {
    calls,
    async nodeInfo () { return run('nodeInfo', [], { role: 'user', chainId: 'pqmed-test', genesisHash: hex32(9), peerId: '12D3KooWFake', addrs: ['/ip4/127.0.0.1/tcp/4100'], version: '0.1.0', pqBackend: 'liboqs', height: 7 }) },
    async netPeers () { return run('netPeers', [], [{ peerId: '12D3KooWPeer', addrs: ['/ip4/127.0.0.1/tcp/4101'], manager: true }]) },
    async chainStatus () { return run('chainStatus', [], { height: 7, headerHash: hex32(4), time: header.time, managers: 4, faultTolerance: 1, view: 0, leader: 1, mempool: 3 }) },
    async getHeader (h) { return run('getHeader', [h], { header, certificate: h === 'latest' ? certificate : null }) },
    async getBlock (h) { return run('getBlock', [h], block) },
    async getHeaders (from, count) { return run('getHeaders', [from, count], [header]) },
    async getBlockSummary (h) {
      return run('getBlockSummary', [h], {
        header,
        size: 5321,
        certificate: { view: 0, signers: [0, 1, 3] },
        txs: [
          { index: 0, type: 'record', txHash: hex32(0x61), size: 4012, id: hex32(0xaa), signer: hex32(0xd0), time: recordTx.time, attachments: 1, indexUpdates: 1 },
          { index: 1, type: 'grant', txHash: hex32(0x62), size: 900, id: hex32(0xaa), signer: hex32(0xd0), time: grantTx.time, grantee: hex32(0xe0), grantedFields: [1, 2] },
          { index: 2, type: 'patient', txHash: hex32(0x63), size: 3100, id: hex32(0xb0), signer: hex32(0xb0), time: patientTx.time }
        ]
      })
    },
    async consortium () {
      return run('consortium', [], {
        chainId: 'pqmed-test',
        genesisHash: hex32(9),
        faultTolerance: 1,
        blockInterval: 100,
        managers: [
          { index: 0, name: 'manager-0', id: hex32(0x40), peerId: '12D3KooWM0', self: false, connected: true, height: 7, headerHash: hex32(4), lastCommitTime: header.time, view: 0 },
          { index: 1, name: 'manager-1', id: hex32(0x41), peerId: '12D3KooWM1', self: false, connected: false, error: 'not connected to this node' }
        ],
        doctors: [{ index: 0, name: 'doctor-0', id: hex32(0xd0) }]
      })
    },
    async getConsortium (h) {
      return run('getConsortium', [h], {
        chainId: 'pqmed-test',
        height: h ?? 7,
        managers: [{ index: 0, name: 'manager-0', hospital: hex32(0x40), peerId: '12D3KooWM0', sigPublicKey: b64([1, 2]) }],
        faultTolerance: 0,
        doctors: [
          { id: hex32(0xd0), name: 'doctor-0', hospital: hex32(0x40), status: 'rotated', since: 0, until: 5, next: hex32(0xd1), sigPublicKey: b64([3]), kemPublicKey: b64([4]) },
          { id: hex32(0xd1), name: 'doctor-0', hospital: hex32(0x40), status: 'active', since: 5, previous: hex32(0xd0), sigPublicKey: b64([5]), kemPublicKey: b64([6]) }
        ],
        userNodes: [{ peerId: '12D3KooWU0', hospital: hex32(0x40), status: 'active', since: 3 }],
        configHash: hex32(0xcc),
        stateHash: hex32(0xcd),
        verifiedBy: 'manager-store'
      })
    },
    async submit (s, wait, kind) { return run('submit', [s, wait, kind], wait ? { status: 'committed', txHash: hex32(0x77), height: 8 } : { status: 'pending', txHash: hex32(0x77) }) },
    async getRecord (id) { return run('getRecord', [id], record) },
    async verifyRecord (id) { return run('verifyRecord', [id], { recordId: hex32(0xaa), valid: true, checks: { signature: true, ciphertextHashes: [true, true, true, true], inclusion: true, certificate: true, doctorRegistered: true }, height: 7 }) },
    async verifyFile (f) { return run('verifyFile', [f], f.length === 0 ? { match: false, sha256: hex32(0xe3), cid: cid32(0xe3) } : { match: true, sha256: hex32(0x55), cid: cid32(0x55), recordId: hex32(0xaa), field: 3, height: 7 }) },
    async verifyHash (h) { return run('verifyHash', [h], { match: true, sha256: hex32(0x14), cid: cid32(0x14), recordId: hex32(0xaa), field: 3, height: 7 }) },
    async getPatient (id) { return run('getPatient', [id], { patientId: hex32(0xb0), sigPublicKey: b64([5, 5]), kemPublicKey: b64([6, 6, 6]), height: 5 }) },
    async listGrants (id) { return run('listGrants', [id], [{ tx: grantTx, height: 7 }]) },
    async getRecords (ids, fields, certificates) {
      return run('getRecords', [ids, fields, certificates], {
        records: [{ recordId: hex32(0xaa), tx: recordTx, height: 7, txIndex: 0, proof: [hex32(0x31)], fields: [1], ciphertexts: [b64([2, 2])], cids: [blobCidString(unhexBytes(hex32(0x12)))] }],
        missing: [hex32(0xab)],
        headers: [header],
        ...(certificates ? { certificates: [certificate] } : {}),
        verifiedBy: 'user-node' as const
      })
    },
    async search (t, cursor, limit) { return run('search', [t, cursor, limit], { entries: [{ label: hex32(0x21), value: b64([9, 9, 9]), height: 7, position: 10 }], headers: [{ height: 7, indexStart: 10, indexCount: 4 }], next: 5 }) },
    async getKeyEpochs (since) {
      const tx = { type: 'key-epoch' as const, epoch: 2, keyId: hex32(0x2e), recipients: [{ doctor: hex32(0xd0), kemKeyId: hex32(0xd1), kemCiphertext: b64([1, 2, 3]), sealed: b64([4, 5, 6]) }], hospital: hex32(0x40), time: header.time, signature: b64([7, 7]) }
      return run('getKeyEpochs', [since], { latest: 2, epochs: since < 2 ? [{ epoch: 2, tx, height: 6 }] : [], recipients: [{ id: hex32(0xd0), kemPublicKey: b64([8, 8]) }], verifiedBy: 'user-node' as const })
    }
  }
  function run<T> (method: keyof RpcBackend, args: unknown[], result: T): T {
    calls.push({ method, args })
    if (self.fail !== undefined) throw self.fail()
    return result
  }
  return self
}

/** A `json-rpc-2.0` client posting to `url` with fetch (the package's documented HTTP pattern). */
export function rpcClient (url: string): JSONRPCClient {
  const client: JSONRPCClient = new JSONRPCClient(async (request) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })
    if (res.status === 200) client.receive(await res.json() as JSONRPCResponse | JSONRPCResponse[])
    else if (res.status !== 204) throw new Error(`HTTP ${res.status}`)
  })
  return client
}

/** One call through the `json-rpc-2.0` client (rejects with its `JSONRPCErrorException` on an error response). */
export async function request (url: string, method: string, params?: unknown): Promise<unknown> {
  return await rpcClient(url).request(method, params)
}

/** POSTs a raw body; returns status, headers and the parsed JSON (undefined when empty). */
export async function post (url: string, body: string, contentType = 'application/json'): Promise<{ status: number, headers: Headers, json: unknown, text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: text === '' ? undefined : JSON.parse(text), text }
}
