/**
 * Every method over HTTP with the third-party `json-rpc-2.0` client against a fake backend: the
 * decoded arguments the backend receives, the results (validated against the OpenRPC result
 * schemas), domain and internal error mapping, and `rpc.discover` against the OpenRPC meta-schema.
 */
import assert from 'node:assert/strict'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import * as openRpcMeta from '@open-rpc/meta-schema'
import { JSONRPCErrorException } from 'json-rpc-2.0'
import {
  RPC_ERRORS, RPC_METHOD_NAMES, RpcDomainError, compileResultValidators, createRpcServer, openRpcDocument,
  type OpenRpcDocument, type RpcErrorName, type RpcServer
} from '../../src/rpc/index.js'
import { b64, cid32, fakeBackend, hex32, post, request, type Call, type FakeBackend } from './fake.js'

const results = compileResultValidators(openRpcDocument())

function assertValidResult (method: string, value: unknown): void {
  const v = results.get(method)
  assert.ok(v !== undefined, `no result schema for ${method}`)
  assert.ok(v(value), `${method} result does not match its schema: ${JSON.stringify(v.errors)}`)
}

/** The OpenRPC meta-schema with its JSON Schema meta-schema (`https://meta.json-schema.tools`, a draft-07 meta-schema not shipped in the package) resolved to draft-07. */
function openRpcMetaValidator (): ValidateFunction {
  const id = 'https://meta.json-schema.tools'
  const meta = JSON.parse(JSON.stringify((openRpcMeta as unknown as { openrpcDocument: object }).openrpcDocument).replaceAll(`"${id}"`, `"${id}/"`)) as Record<string, unknown>
  delete meta.$schema
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false })
  addFormats.default(ajv)
  ajv.addSchema({ $id: `${id}/`, allOf: [{ $ref: 'http://json-schema.org/draft-07/schema#' }], definitions: { JSONSchemaObject: { properties: { $ref: { type: 'string', format: 'uri-reference' } } } } })
  return ajv.compile(meta)
}

const bytesOf = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'))
const lastCall = (b: FakeBackend): Call => { const c = b.calls.at(-1); assert.ok(c !== undefined); return c }

interface Case { method: string, params: unknown, backend: Call }

const FILE = b64([1, 2, 3, 4, 5])
const SUBMISSION = b64([0xa2, 0x62, 0x74, 0x78])
const CASES: Case[] = [
  { method: 'node_info', params: {}, backend: { method: 'nodeInfo', args: [] } },
  { method: 'net_peers', params: [], backend: { method: 'netPeers', args: [] } },
  { method: 'chain_status', params: undefined, backend: { method: 'chainStatus', args: [] } },
  { method: 'chain_getHeader', params: { height: 'latest' }, backend: { method: 'getHeader', args: ['latest'] } },
  { method: 'chain_getHeader', params: { height: 3 }, backend: { method: 'getHeader', args: [3] } },
  { method: 'chain_getBlock', params: { height: 7 }, backend: { method: 'getBlock', args: [7] } },
  { method: 'chain_getHeaders', params: { from: 3 }, backend: { method: 'getHeaders', args: [3, 20] } },
  { method: 'chain_getHeaders', params: [5, 100], backend: { method: 'getHeaders', args: [5, 100] } },
  { method: 'chain_getBlockSummary', params: { height: 7 }, backend: { method: 'getBlockSummary', args: [7] } },
  { method: 'chain_consortium', params: {}, backend: { method: 'consortium', args: [] } },
  { method: 'chain_getConsortium', params: {}, backend: { method: 'getConsortium', args: [undefined] } },
  { method: 'chain_getConsortium', params: { height: 5 }, backend: { method: 'getConsortium', args: [5] } },
  { method: 'chain_submitGovernance', params: { submission: SUBMISSION, wait: true }, backend: { method: 'submit', args: [Uint8Array.from([0xa2, 0x62, 0x74, 0x78]), true, 'governance'] } },
  { method: 'ehr_submitRecord', params: { submission: SUBMISSION, wait: true }, backend: { method: 'submit', args: [Uint8Array.from([0xa2, 0x62, 0x74, 0x78]), true, 'record'] } },
  { method: 'ehr_submitRecord', params: { submission: SUBMISSION }, backend: { method: 'submit', args: [Uint8Array.from([0xa2, 0x62, 0x74, 0x78]), false, 'record'] } },
  { method: 'ehr_registerPatient', params: { submission: SUBMISSION, wait: false }, backend: { method: 'submit', args: [Uint8Array.from([0xa2, 0x62, 0x74, 0x78]), false, 'patient'] } },
  { method: 'ehr_grantAccess', params: [SUBMISSION, true], backend: { method: 'submit', args: [Uint8Array.from([0xa2, 0x62, 0x74, 0x78]), true, 'grant'] } },
  { method: 'consortium_submitChange', params: { submission: SUBMISSION, wait: true }, backend: { method: 'submit', args: [Uint8Array.from([0xa2, 0x62, 0x74, 0x78]), true, 'manager'] } },
  { method: 'ehr_getRecord', params: { recordId: hex32(0xaa) }, backend: { method: 'getRecord', args: [bytesOf(hex32(0xaa))] } },
  { method: 'ehr_verifyRecord', params: [hex32(0xaa)], backend: { method: 'verifyRecord', args: [bytesOf(hex32(0xaa))] } },
  { method: 'ehr_verifyFile', params: { file: FILE }, backend: { method: 'verifyFile', args: [Uint8Array.from([1, 2, 3, 4, 5])] } },
  { method: 'ehr_verifyFile', params: { file: '' }, backend: { method: 'verifyFile', args: [new Uint8Array(0)] } },
  { method: 'ehr_verifyFile', params: { cid: cid32(0x14) }, backend: { method: 'verifyHash', args: [bytesOf(hex32(0x14))] } },
  { method: 'ehr_getPatient', params: { patientId: hex32(0xb0) }, backend: { method: 'getPatient', args: [bytesOf(hex32(0xb0))] } },
  { method: 'ehr_listGrants', params: { recordId: hex32(0xaa) }, backend: { method: 'listGrants', args: [bytesOf(hex32(0xaa))] } },
  { method: 'ehr_getRecords', params: { recordIds: [hex32(0xaa), hex32(0xab)], fields: [1] }, backend: { method: 'getRecords', args: [[bytesOf(hex32(0xaa)), bytesOf(hex32(0xab))], [1], false] } },
  { method: 'ehr_getRecords', params: { recordIds: [hex32(0xaa)], certificates: true }, backend: { method: 'getRecords', args: [[bytesOf(hex32(0xaa))], undefined, true] } },
  { method: 'sse_search', params: { token: b64([1, 0, 0, 0, 9]) }, backend: { method: 'search', args: [Uint8Array.from([1, 0, 0, 0, 9]), undefined, 1000] } },
  { method: 'sse_search', params: { token: b64([1, 0, 0, 0, 9]), cursor: 5, limit: 10_000 }, backend: { method: 'search', args: [Uint8Array.from([1, 0, 0, 0, 9]), 5, 10_000] } },
  { method: 'chain_getKeyEpochs', params: {}, backend: { method: 'getKeyEpochs', args: [1] } },
  { method: 'chain_submitKeyEpoch', params: { submission: SUBMISSION, wait: true }, backend: { method: 'submit', args: [Uint8Array.from([0xa2, 0x62, 0x74, 0x78]), true, 'key-epoch'] } },
  { method: 'chain_getKeyEpochs', params: { since: 2 }, backend: { method: 'getKeyEpochs', args: [2] } }
]

describe('rpc methods (json-rpc-2.0 client, fake backend)', () => {
  let backend: FakeBackend
  let server: RpcServer
  const logged: string[] = []

  before(async () => {
    backend = fakeBackend()
    server = await createRpcServer(backend, { port: 0, log: { warn: (m) => { logged.push(m) } } })
  })
  after(async () => { await server.close() })
  beforeEach(() => { backend.fail = undefined; backend.calls.length = 0; logged.length = 0 })

  it('covers every documented method except rpc.discover', () => {
    assert.deepEqual(new Set(CASES.map((c) => c.method)), new Set(RPC_METHOD_NAMES.filter((m) => m !== 'rpc.discover')))
  })

  for (const c of CASES) {
    it(`${c.method} ${JSON.stringify(c.params)} → backend.${c.backend.method}, result matches its schema`, async () => {
      const result: unknown = await request(server.url, c.method, c.params)
      assert.equal(backend.calls.length, 1)
      const call = lastCall(backend)
      assert.equal(call.method, c.backend.method)
      assert.deepEqual(call.args.map((a) => a instanceof Uint8Array ? Uint8Array.from(a) : a), c.backend.args)
      for (const a of call.args) if (a instanceof Uint8Array) assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype, 'bytes are plain Uint8Arrays')
      assertValidResult(c.method, result)
    })
  }

  it('chain_getHeaders: count outside 1..100, a negative or fractional from, an unknown param → -32602 naming the param; the backend is not called', async () => {
    for (const params of [{ from: 1, count: 0 }, { from: 1, count: 101 }, { from: -1 }, { from: 1.5 }, { from: 1, to: 9 }, {}]) {
      const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_getHeaders', params }))
      const err = (r.json as { error: { code: number, data: Array<{ path: string }> } }).error
      assert.equal(err.code, -32602, JSON.stringify(params))
      assert.ok(err.data.some((i) => /^\/(from|count|to)$/.test(i.path)), JSON.stringify(err.data))
    }
    for (const params of [{ height: -1 }, { height: 'latest' }, {}]) {
      const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'chain_getBlockSummary', params }))
      assert.equal((r.json as { error: { code: number } }).error.code, -32602, JSON.stringify(params))
    }
    const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'chain_consortium', params: { verbose: true } }))
    assert.equal((r.json as { error: { code: number } }).error.code, -32602)
    assert.deepEqual(backend.calls, [])
  })

  it('ehr_getRecords: more than 100 ids, repeated ids, no ids, a field out of 0..66 or repeated → -32602 naming the param; the backend is not called', async () => {
    const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => i.toString(16).padStart(64, '0'))
    for (const params of [{ recordIds: ids(101) }, { recordIds: [hex32(1), hex32(1)] }, { recordIds: [] }, { recordIds: ids(2), fields: [67] }, { recordIds: ids(2), fields: [1, 1] }, { recordIds: ids(2), fields: [] }, { recordIds: ids(2), certificates: 'yes' }]) {
      const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ehr_getRecords', params }))
      const err = (r.json as { error: { code: number, data: Array<{ path: string, message: string }> } }).error
      assert.equal(err.code, -32602, JSON.stringify(params).slice(0, 100))
      assert.ok(err.data.some((i) => /^\/(recordIds|fields|certificates)/.test(i.path)), JSON.stringify(err.data))
    }
    const over = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ehr_getRecords', params: { recordIds: ids(101) } }))
    assert.match(JSON.stringify(over.json), /more than 100 items/)
    assert.ok((await request(server.url, 'ehr_getRecords', { recordIds: ids(100) })) !== undefined, '100 ids are accepted')
    assert.equal(backend.calls.length, 1)
  })

  it('sse_search: a limit outside 1..10000 or a negative cursor → -32602; the backend is not called', async () => {
    for (const params of [{ token: b64([1]), limit: 0 }, { token: b64([1]), limit: 10_001 }, { token: b64([1]), cursor: -1 }, { token: b64([1]), cursor: 1.5 }]) {
      const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'sse_search', params }))
      assert.equal((r.json as { error: { code: number } }).error.code, -32602, JSON.stringify(params))
    }
    assert.deepEqual(backend.calls, [])
  })

  it('result validators reject drifted results (wrong case hex, missing or extra fields, wrong tx type)', async () => {
    const header = (await backend.getHeader('latest')).header
    assert.ok(results.get('chain_getHeader')?.({ header, certificate: null }))
    assert.equal(results.get('chain_getHeader')?.({ header: { ...header, hash: 'AB'.repeat(32) }, certificate: null }), false)
    assert.equal(results.get('chain_getHeader')?.({ header, certificate: null, extra: 1 }), false)
    const { txRoot: _dropped, ...partial } = header
    assert.equal(results.get('chain_getHeader')?.({ header: partial, certificate: null }), false)
    const rec = await backend.getRecord(new Uint8Array(32))
    assert.equal(results.get('ehr_getRecord')?.({ ...rec, tx: { ...rec.tx, type: 'grant' } }), false)
    assert.equal(results.get('ehr_getRecord')?.({ ...rec, ciphertexts: ['not base64!'] }), false)
    assert.equal(results.get('ehr_submitRecord')?.({ status: 'done', txHash: hex32(1) }), false)
    const recs = await backend.getRecords([], [1], false)
    assert.ok(results.get('ehr_getRecords')?.(recs))
    assert.equal(results.get('ehr_getRecords')?.({ ...recs, missing: ['XY'] }), false)
    assert.equal(results.get('ehr_getRecords')?.({ ...recs, records: [{ ...recs.records[0], ciphertexts: [1] }] }), false)
    const page = await backend.search(new Uint8Array(1))
    assert.ok(results.get('sse_search')?.(page))
    assert.equal(results.get('sse_search')?.({ ...page, headers: undefined }), false)
    assert.equal(results.get('sse_search')?.([...page.entries]), false, 'a bare array (the old answer) is not a page')
  })

  for (const name of Object.keys(RPC_ERRORS) as RpcErrorName[]) {
    it(`RpcDomainError ${name} → ${RPC_ERRORS[name].code} with message and data`, async () => {
      backend.fail = () => new RpcDomainError(name, `detail for ${name}`, { hint: name })
      await assert.rejects(request(server.url, 'ehr_getRecord', { recordId: hex32(1) }), (err: unknown) => {
        assert.ok(err instanceof JSONRPCErrorException)
        assert.equal(err.code, RPC_ERRORS[name].code)
        assert.equal(err.message, `detail for ${name}`)
        assert.deepEqual(err.data, { hint: name })
        return true
      })
      assert.deepEqual(logged, [])
    })
  }

  it('a domain error without a message or data gets the standard message and no data', async () => {
    backend.fail = () => new RpcDomainError('UNKNOWN_PATIENT', '')
    const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ehr_getPatient', params: { patientId: hex32(2) } }))
    assert.deepEqual(r.json, { jsonrpc: '2.0', id: 5, error: { code: -32002, message: 'Unknown patient' } })
  })

  it('a plain Error → -32603 "Internal error": no message or stack to the client, both logged', async () => {
    backend.fail = () => new Error('leveldb exploded at /var/lib/secret/path')
    const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'chain_status' }))
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, { jsonrpc: '2.0', id: 'x', error: { code: -32603, message: 'Internal error' } })
    assert.doesNotMatch(r.text, /leveldb|secret|at |\.ts/)
    assert.equal(logged.length, 1)
    assert.match(logged[0] as string, /chain_status.*leveldb exploded[\s\S]*at /)
  })

  it('a thrown non-Error and an unknown domain code are internal errors too', async () => {
    backend.fail = () => 'a string'
    await assert.rejects(request(server.url, 'node_info', {}), (e: unknown) => e instanceof JSONRPCErrorException && e.code === -32603 && e.message === 'Internal error')
    backend.fail = () => new RpcDomainError('NOPE' as RpcErrorName, 'x')
    await assert.rejects(request(server.url, 'node_info', {}), (e: unknown) => e instanceof JSONRPCErrorException && e.code === -32603)
    assert.equal(logged.length, 2)
  })

  it('an unserializable result (BigInt) is an internal error, not a crash', async () => {
    const orig = backend.nodeInfo
    backend.nodeInfo = async () => ({ ...(await orig()), height: 1n as unknown as number })
    try {
      await assert.rejects(request(server.url, 'node_info', {}), (e: unknown) => e instanceof JSONRPCErrorException && e.code === -32603)
    } finally { backend.nodeInfo = orig }
  })

  it('rpc.discover returns the document, valid against the OpenRPC meta-schema, listing this server', async () => {
    const doc = await request(server.url, 'rpc.discover', {}) as OpenRpcDocument
    const validate = openRpcMetaValidator()
    assert.ok(validate(doc), JSON.stringify(validate.errors))
    assert.deepEqual(doc.servers, [{ name: 'this node', url: server.url }])
    assert.equal(doc.openrpc, '1.2.6')
    assert.match(doc.info.description, /base64/)
    assert.match(doc.info.description, /lowercase hex/)
    assert.deepEqual(doc.methods.map((m) => m.name), [...RPC_METHOD_NAMES])
    assertValidResult('rpc.discover', doc)
    // The static document (server template) validates too, and the meta-schema can fail.
    assert.ok(validate(JSON.parse(JSON.stringify(openRpcDocument()))))
    assert.equal(validate({ ...doc, methods: [{ name: 'x' }] }), false)
    // Every error a method declares exists in components.errors with RPC_ERRORS' code.
    for (const m of doc.methods) {
      assert.ok(m.summary.length > 0 && m.description.length > 0, m.name)
      for (const e of m.errors) {
        const key = e.$ref.replace('#/components/errors/', '') as RpcErrorName
        assert.deepEqual(doc.components.errors[key], { code: RPC_ERRORS[key].code, message: RPC_ERRORS[key].message })
      }
    }
  })
})
