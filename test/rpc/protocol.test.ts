/**
 * JSON-RPC 2.0 protocol edge cases with raw fetch: batches, notifications, every standard error,
 * HTTP methods and content types, the body limit (413), the rate limit (429) and the bind address.
 */
import assert from 'node:assert/strict'
import { networkInterfaces } from 'node:os'
import { createRpcServer, DEFAULT_MAX_BATCH, type RpcServer } from '../../src/rpc/index.js'
import { b64, fakeBackend, hex32, post, request, rpcClient, type FakeBackend } from './fake.js'

const req = (id: unknown, method: string, params?: unknown): Record<string, unknown> =>
  params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params }
const note = (method: string, params?: unknown): Record<string, unknown> =>
  params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params }
const errCode = (r: unknown): number => (r as { error: { code: number } }).error.code

describe('rpc protocol (raw HTTP)', () => {
  let backend: FakeBackend
  let server: RpcServer
  const logged: string[] = []
  const call = async (body: unknown): Promise<Awaited<ReturnType<typeof post>>> => await post(server.url, JSON.stringify(body))

  before(async () => {
    backend = fakeBackend()
    server = await createRpcServer(backend, { port: 0, rateLimit: false, log: { warn: (m) => { logged.push(m) } } })
  })
  after(async () => { await server.close() })
  beforeEach(() => { backend.fail = undefined; backend.calls.length = 0; logged.length = 0 })

  it('binds 127.0.0.1 by default and reports its URL', async () => {
    assert.equal(server.address.address, '127.0.0.1')
    assert.equal(server.url, `http://127.0.0.1:${server.address.port}/`)
    const external = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)
    if (external !== undefined) {
      await assert.rejects(fetch(`http://${external.address}:${server.address.port}/`), 'not reachable on a non-loopback interface')
    }
  })

  it('single requests echo string, number and null ids', async () => {
    for (const id of ['abc', 42, 1.5, null]) {
      const r = await call(req(id, 'chain_status'))
      assert.equal(r.status, 200)
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/)
      assert.equal((r.json as { id: unknown }).id, id)
      assert.ok('result' in (r.json as object))
    }
  })

  it('a mixed batch answers each request in order and skips notifications', async () => {
    const r = await call([
      req(1, 'node_info'),
      note('chain_status'),
      req(2, 'ehr_nope'),
      { jsonrpc: '2.0', id: 3 },
      req(4, 'ehr_getRecord', { recordId: 'zz' }),
      7,
      req('five', 'chain_getHeader', ['latest'])
    ])
    assert.equal(r.status, 200)
    const out = r.json as Array<{ id: unknown, result?: unknown, error?: { code: number } }>
    assert.deepEqual(out.map((x) => [x.id, x.error?.code ?? 'ok']), [[1, 'ok'], [2, -32601], [3, -32600], [4, -32602], [null, -32600], ['five', 'ok']])
    assert.ok(backend.calls.some((c) => c.method === 'chainStatus'), 'the notification was executed')
  })

  it('notifications get no response: a single one and an all-notification batch → HTTP 204, empty body', async () => {
    const one = await call(note('ehr_submitRecord', { submission: b64([1, 2]) }))
    assert.equal(one.status, 204)
    assert.equal(one.text, '')
    const batch = await call([note('node_info'), note('no_such_method'), note('ehr_getRecord', { recordId: 'bad' })])
    assert.equal(batch.status, 204)
    assert.equal(batch.text, '')
    assert.deepEqual(backend.calls.map((c) => c.method), ['submit', 'nodeInfo'])
  })

  it('a failing notification is logged, not answered', async () => {
    backend.fail = () => new Error('boom')
    const r = await call(note('node_info'))
    assert.equal(r.status, 204)
    assert.equal(logged.length, 1)
  })

  it('json-rpc-2.0 client: batch via requestAdvanced and notify', async () => {
    const client = rpcClient(server.url)
    const responses = await client.requestAdvanced([
      { jsonrpc: '2.0', id: 10, method: 'chain_getBlock', params: { height: 7 } },
      { jsonrpc: '2.0', id: 11, method: 'ehr_getPatient', params: { patientId: 'nope' } }
    ])
    assert.equal(responses.length, 2)
    const byId = new Map(responses.map((x) => [x.id, x]))
    assert.equal(byId.get(10)?.error, undefined)
    assert.equal(byId.get(11)?.error?.code, -32602)
    client.notify('net_peers', {})
    const deadline = Date.now() + 2000
    while (!backend.calls.some((c) => c.method === 'netPeers') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok(backend.calls.some((c) => c.method === 'netPeers'))
  })

  describe('-32700 parse error (id null)', () => {
    const bodies: Array<[string, string]> = [
      ['truncated JSON', '{"jsonrpc":"2.0","method":"node_info","id":1'],
      ['not JSON', 'hello'],
      ['a truncated batch', '[{"jsonrpc":"2.0","method":"node_info","id":1},'],
      ['an empty body', '']
    ]
    for (const [what, body] of bodies) {
      it(what, async () => {
        const r = await post(server.url, body)
        assert.equal(r.status, 200)
        assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } })
      })
    }
    it('invalid UTF-8', async () => {
      const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"node_info","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])
      const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      assert.equal(errCode(await res.json()), -32700)
    })
  })

  describe('-32600 invalid request', () => {
    const cases: Array<[string, unknown, unknown]> = [
      ['jsonrpc "1.0"', { jsonrpc: '1.0', id: 1, method: 'node_info' }, 1],
      ['jsonrpc 2 (a number)', { jsonrpc: 2, id: 1, method: 'node_info' }, 1],
      ['no jsonrpc', { id: 1, method: 'node_info' }, 1],
      ['no method', { jsonrpc: '2.0', id: 1 }, 1],
      ['a numeric method', { jsonrpc: '2.0', id: 1, method: 1 }, 1],
      ['string params', { jsonrpc: '2.0', id: 1, method: 'node_info', params: 'x' }, 1],
      ['null params', { jsonrpc: '2.0', id: 1, method: 'node_info', params: null }, 1],
      ['an object id (answered with id null)', { jsonrpc: '2.0', id: { a: 1 }, method: 'node_info' }, null],
      ['a bare number', 1, null],
      ['a bare string', 'node_info', null]
    ]
    for (const [what, body, id] of cases) {
      it(what, async () => {
        const r = await call(body)
        assert.equal(r.status, 200)
        const out = r.json as { id: unknown, error: { code: number, message: string } }
        assert.equal(out.id, id)
        assert.equal(out.error.code, -32600)
        assert.equal(out.error.message, 'Invalid Request')
      })
    }
    it('an empty batch → one error (not an array)', async () => {
      const r = await call([])
      assert.equal(errCode(r.json), -32600)
      assert.equal((r.json as { id: unknown }).id, null)
    })
    it(`a batch over the limit (${DEFAULT_MAX_BATCH + 1}) → one error, nothing executed`, async () => {
      const r = await call(Array.from({ length: DEFAULT_MAX_BATCH + 1 }, (_, i) => req(i, 'node_info')))
      assert.equal(errCode(r.json), -32600)
      assert.equal(backend.calls.length, 0)
      const full = await call(Array.from({ length: DEFAULT_MAX_BATCH }, (_, i) => req(i, 'node_info')))
      assert.equal((full.json as unknown[]).length, DEFAULT_MAX_BATCH)
    })
    it('a batch of non-objects → one error each', async () => {
      const r = await call([1, 'x', null])
      assert.deepEqual((r.json as unknown[]).map(errCode), [-32600, -32600, -32600])
    })
  })

  describe('-32601 method not found', () => {
    for (const method of ['ehr_nope', 'toString', '__proto__', 'constructor', 'rpc.other', 'NODE_INFO']) {
      it(method, async () => {
        const r = await call(req(1, method))
        assert.deepEqual(r.json, { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'Method not found', data: { method } } })
      })
    }
  })

  describe('-32602 invalid params (ajv paths in data)', () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['uppercase hex', 'ehr_getRecord', { recordId: 'AA'.repeat(32) }, '/recordId'],
      ['short hex', 'ehr_verifyRecord', { recordId: 'ab'.repeat(31) }, '/recordId'],
      ['non-hex', 'ehr_getPatient', { patientId: 'g'.repeat(64) }, '/patientId'],
      ['base64 of bad length', 'ehr_verifyFile', { file: 'abc' }, '/file'],
      ['base64 with a bad character', 'sse_search', { token: 'ab!d' }, '/token'],
      ['base64url alphabet', 'ehr_submitRecord', { submission: 'ab-_' }, '/submission'],
      ['a missing param', 'ehr_listGrants', {}, '/recordId'],
      ['an extra param', 'ehr_getRecord', { recordId: hex32(1), extra: true }, '/extra'],
      ['an extra param on a method without params', 'node_info', { verbose: true }, '/verbose'],
      ['a negative height', 'chain_getBlock', { height: -1 }, '/height'],
      ['a fractional height', 'chain_getBlock', { height: 1.5 }, '/height'],
      ['a string height other than "latest"', 'chain_getHeader', { height: 'now' }, '/height'],
      ['a non-boolean wait', 'ehr_grantAccess', { submission: b64([1]), wait: 'yes' }, '/wait'],
      ['too many positional params', 'ehr_getRecord', [hex32(1), 2], ''],
      ['a bad positional param', 'chain_getBlock', ['7'], '/height'],
      ['neither file nor cid', 'ehr_verifyFile', {}, ''],
      ['both file and cid', 'ehr_verifyFile', { file: b64([1]), cid: 'bafkreib' }, ''],
      ['a string that is not a CID', 'ehr_verifyFile', { cid: 'bafkreinotacid' }, '/cid'],
      ['a CID of another codec (dag-cbor)', 'ehr_verifyFile', { cid: 'bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' }, '/cid'],
      ['a CIDv0', 'ehr_verifyFile', { cid: 'QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR' }, '/cid']
    ]
    for (const [what, method, params, path] of cases) {
      it(`${what} (${method})`, async () => {
        const r = await call(req(9, method, params))
        const out = r.json as { id: number, error: { code: number, message: string, data: Array<{ path: string, message: string }> } }
        assert.equal(out.id, 9)
        assert.equal(out.error.code, -32602)
        assert.equal(out.error.message, 'Invalid params')
        assert.ok(out.error.data.some((d) => d.path === path && d.message.length > 0), JSON.stringify(out.error.data))
        assert.equal(backend.calls.length, 0, 'the backend is not called')
      })
    }
  })

  it('accepts a large submission (12 MiB of base64) under the default 16 MiB limit', async () => {
    const payload = new Uint8Array(9 * 1024 * 1024).map((_, i) => i * 7)
    const r = await call(req(1, 'ehr_submitRecord', { submission: Buffer.from(payload).toString('base64') }))
    assert.equal(r.status, 200)
    const args = backend.calls[0]?.args
    assert.deepEqual(args?.[0], payload)
  })

  it('HTTP: GET / points at rpc.discover; other methods 405; other paths 404; non-JSON content types 415', async () => {
    const get = await fetch(server.url)
    assert.equal(get.status, 200)
    assert.match(await get.text(), /rpc\.discover/)
    const put = await fetch(server.url, { method: 'PUT', body: '{}' })
    assert.equal(put.status, 405)
    assert.equal(put.headers.get('allow'), 'GET, HEAD, POST')
    assert.equal((await fetch(new URL('/other', server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 404)
    const body = JSON.stringify(req(1, 'node_info'))
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
      const r = await post(server.url, body, ct)
      assert.equal(r.status, 415, ct)
      assert.equal(errCode(r.json), -32600)
    }
    assert.equal((await post(server.url, body, 'application/json; charset=UTF-8')).status, 200)
    assert.equal(backend.calls.length, 1)
  })
})

describe('rpc limits', () => {
  const servers: RpcServer[] = []
  after(async () => { await Promise.all(servers.map(async (s) => { await s.close() })) })
  const start = async (opts: Parameters<typeof createRpcServer>[1]): Promise<RpcServer> => {
    const s = await createRpcServer(fakeBackend(), opts)
    servers.push(s)
    return s
  }

  it('a body over maxBodyBytes → HTTP 413 with -32030, declared or streamed; at the limit it passes', async () => {
    const s = await start({ port: 0, maxBodyBytes: 1024, rateLimit: false })
    const pad = (n: number): string => {
      const base = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node_info', x: '' })
      return base.replace('"x":""', `"x":"${'a'.repeat(n - base.length)}"`)
    }
    const exact = pad(1024)
    assert.equal(Buffer.byteLength(exact), 1024)
    // At the limit: read and answered (the extra member is ignored, as JSON-RPC allows).
    assert.equal((await post(s.url, exact)).status, 200)
    for (const size of [1025, 1_000_000]) {
      const r = await post(s.url, pad(size))
      assert.equal(r.status, 413)
      assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: -32030, message: 'Limit exceeded', data: { limit: 'maxBodyBytes', max: 1024 } } })
    }
    const chunks = [new TextEncoder().encode(pad(600)), new TextEncoder().encode(pad(600))]
    const stream = new ReadableStream<Uint8Array>({ pull (c) { const next = chunks.shift(); if (next === undefined) c.close(); else c.enqueue(next) } })
    const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit)
    assert.equal(res.status, 413)
    assert.equal(errCode(await res.json()), -32030)
  })

  it('rate limit per client: HTTP 429 with -32031 and Retry-After once the bucket is empty; a batch costs one token per call', async () => {
    const s = await start({ port: 0, rateLimit: { perSecond: 0.5, burst: 4 } })
    const batch = await post(s.url, JSON.stringify([req(1, 'node_info'), req(2, 'net_peers'), req(3, 'chain_status')]))
    assert.equal(batch.status, 200)
    assert.equal((batch.json as unknown[]).length, 3)
    assert.equal((await post(s.url, JSON.stringify(req(4, 'node_info')))).status, 200)
    const limited = await post(s.url, JSON.stringify(req(5, 'node_info')))
    assert.equal(limited.status, 429)
    assert.equal(errCode(limited.json), -32031)
    assert.equal((limited.json as { id: unknown }).id, null)
    const retry = Number(limited.headers.get('retry-after'))
    assert.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}`)
    // The json-rpc-2.0 client sees a failed HTTP exchange.
    await assert.rejects(request(s.url, 'node_info', {}), /HTTP 429/)
  })

  it('a batch larger than the remaining tokens is refused whole', async () => {
    const s = await start({ port: 0, rateLimit: { perSecond: 0.5, burst: 3 } })
    const r = await post(s.url, JSON.stringify([req(1, 'node_info'), req(2, 'node_info'), req(3, 'node_info'), req(4, 'node_info')]))
    assert.equal(r.status, 429)
    assert.equal(errCode(r.json), -32031)
  })

  it('close() is idempotent and drops keep-alive connections', async () => {
    const s = await start({ port: 0 })
    assert.equal((await post(s.url, JSON.stringify(req(1, 'node_info')))).status, 200)
    await Promise.all([s.close(), s.close()])
    await assert.rejects(fetch(s.url))
  })

  it('rejects bad options', async () => {
    await assert.rejects(createRpcServer(fakeBackend(), { port: -1 }), RangeError)
    await assert.rejects(createRpcServer(fakeBackend(), { port: 0, maxBodyBytes: 0 }), RangeError)
    await assert.rejects(createRpcServer(fakeBackend(), { port: 0, rateLimit: { perSecond: 0, burst: 1 } }), RangeError)
  })
})
