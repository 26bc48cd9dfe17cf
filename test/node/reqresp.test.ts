import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost, type PqmedHost } from '../../src/node/libp2p.js'
import { ReqResp, ReqRespError } from '../../src/node/reqresp.js'

describe('node: request/response over one reused stream', function () {
  this.timeout(30_000)
  let a: PqmedHost, b: PqmedHost
  let ra: ReqResp, rb: ReqResp

  before(async () => {
    const opts = { listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, maxGossipBytes: 1 << 20 }
    a = await createHost({ ...opts, privateKey: await generateKeyPair('Ed25519') })
    b = await createHost({ ...opts, privateKey: await generateKeyPair('Ed25519') })
    await a.start(); await b.start()
    ra = new ReqResp(a, { protocol: '/test/q/1', maxBytes: 64 * 1024, timeoutMs: 2000 })
    rb = new ReqResp(b, {
      protocol: '/test/q/1',
      maxBytes: 64 * 1024,
      timeoutMs: 2000,
      handler: async (method, params) => {
        if (method === 'echo') return params
        if (method === 'slow') { await new Promise((r) => setTimeout(r, 500)); return 'late' }
        if (method === 'big') return new Uint8Array(100 * 1024)
        throw Object.assign(new Error('no such method'), { code: 'UNKNOWN_METHOD' })
      }
    })
    await ra.start(); await rb.start()
    await a.dial(b.getMultiaddrs()[0]!)
  })
  after(async () => {
    await ra.stop(); await rb.stop()
    await a.stop(); await b.stop()
  })

  it('answers many concurrent requests on one stream', async () => {
    const res = await Promise.all(Array.from({ length: 100 }, async (_, i) => await ra.request(b.peerId, 'echo', { i, bytes: new Uint8Array([i]) })))
    res.forEach((r, i) => { assert.deepEqual(r, { i, bytes: new Uint8Array([i]) }) })
    assert.equal(a.getConnections(b.peerId)[0]?.streams.filter((s) => s.protocol === '/test/q/1').length, 1)
  })

  it('reports remote errors with their code', async () => {
    await assert.rejects(ra.request(b.peerId, 'nope', null), (e: ReqRespError) => e.code === 'UNKNOWN_METHOD')
  })

  it('times out, and a late answer does not break the channel', async () => {
    await assert.rejects(ra.request(b.peerId, 'slow', null, 100), (e: ReqRespError) => e.code === 'TIMEOUT')
    await new Promise((r) => setTimeout(r, 600))
    assert.equal(await ra.request(b.peerId, 'echo', 7), 7)
  })

  it('refuses an oversized response with a typed error', async () => {
    await assert.rejects(ra.request(b.peerId, 'big', null), (e: ReqRespError) => e.code === 'TOO_LARGE')
  })

  it('refuses an oversized request before sending', async () => {
    await assert.rejects(ra.request(b.peerId, 'echo', new Uint8Array(70 * 1024)), (e: ReqRespError) => e.code === 'TOO_LARGE')
  })
})
