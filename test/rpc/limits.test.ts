/**
 * The HTTP server's explicit limits (src/rpc/server.ts): header and request timeouts against
 * slow clients, the idle keep-alive timeout, the connection cap and the in-flight request cap,
 * with small values set through the server options.
 */
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import {
  createRpcServer, DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, type RpcServer
} from '../../src/rpc/index.js'
import { fakeBackend } from './fake.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

/** A raw TCP connection that records what it receives and when it is closed. */
interface Conn { socket: Socket, data: () => string, closed: Promise<number>, isClosed: () => boolean }
async function open (server: RpcServer): Promise<Conn> {
  const socket = connect(server.address.port, '127.0.0.1')
  let text = ''
  let closedAt: number | undefined
  socket.on('data', (d: Buffer) => { text += d.toString('latin1') })
  socket.on('error', () => {}) // a reset by the server counts as closed
  const closed = new Promise<number>((resolve) => { socket.once('close', () => { closedAt = performance.now(); resolve(closedAt) }) })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('close', () => { reject(new Error('closed before connecting')) }) })
  return { socket, data: () => text, closed, isClosed: () => closedAt !== undefined }
}

const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status' })
const REQUEST = `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`

/** Sends one keep-alive request on `c` and waits for its full response. */
async function roundTrip (c: Conn): Promise<string> {
  const before = c.data().length
  c.socket.write(REQUEST)
  const deadline = performance.now() + 10_000
  for (;;) {
    const got = c.data().slice(before)
    const m = /content-length: (\d+)\r\n/i.exec(got)
    const end = got.indexOf('\r\n\r\n')
    if (m !== null && end >= 0 && got.length >= end + 4 + Number(m[1])) return got
    if (c.isClosed() || performance.now() > deadline) throw new Error(`no full response (closed: ${String(c.isClosed())}): ${got}`)
    await sleep(10)
  }
}

describe('rpc server limits (raw TCP)', function () {
  this.timeout(60_000)
  const servers: RpcServer[] = []
  const conns: Conn[] = []
  const start = async (o: Parameters<typeof createRpcServer>[1]): Promise<RpcServer> => {
    const s = await createRpcServer(fakeBackend(), { rateLimit: false, ...o })
    servers.push(s)
    return s
  }
  const conn = async (s: RpcServer): Promise<Conn> => { const c = await open(s); conns.push(c); return c }
  afterEach(async () => {
    for (const c of conns.splice(0)) c.socket.destroy()
    await Promise.all(servers.splice(0).map(async (s) => { await s.close() }))
  })

  it('has explicit defaults: headers 10 s, request 30 s, keep-alive 5 s, 256 connections, 512 in flight, 64 MiB of bodies', () => {
    assert.deepEqual([DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_BUFFERED_BYTES],
      [10_000, 30_000, 5_000, 256, 512, 64 * 1024 * 1024])
  })

  it('refuses inconsistent limits', async () => {
    await assert.rejects(createRpcServer(fakeBackend(), { port: 0, headersTimeoutMs: 0 }), /headersTimeoutMs must be a positive integer/)
    await assert.rejects(createRpcServer(fakeBackend(), { port: 0, maxConnections: 1.5 }), /maxConnections must be a positive integer/)
    await assert.rejects(createRpcServer(fakeBackend(), { port: 0, headersTimeoutMs: 5000, requestTimeoutMs: 1000 }), /must not exceed requestTimeoutMs/)
    await assert.rejects(createRpcServer(fakeBackend(), { port: 0, maxBodyBytes: 2000, maxBufferedBytes: 1000 }), /maxBufferedBytes must be at least maxBodyBytes/)
  })

  it('disconnects a slowloris client (headers byte by byte, then a stall) after the headers timeout', async () => {
    const s = await start({ port: 0, headersTimeoutMs: 600, requestTimeoutMs: 5000 })
    const c = await conn(s)
    const t0 = performance.now()
    const head = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: '
    // one byte every 50 ms for the first 300 ms, then nothing (the headers never end)
    for (const ch of head.slice(0, 6)) { c.socket.write(ch); await sleep(50) }
    const t = await Promise.race([c.closed, sleep(10_000).then(() => -1)])
    assert.notEqual(t, -1, 'still connected 10 s later')
    const after = t - t0
    assert.ok(after >= 550, `closed after ${after.toFixed(0)} ms, before the 600 ms headers timeout`)
    assert.ok(after < 5000, `closed after ${after.toFixed(0)} ms, not by the headers timeout`)
    assert.match(c.data(), /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout')
  })

  it('disconnects a client that sends its body too slowly after the request timeout', async () => {
    const s = await start({ port: 0, headersTimeoutMs: 300, requestTimeoutMs: 800 })
    const c = await conn(s)
    const t0 = performance.now()
    c.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n`)
    const trickle = (async () => { for (const ch of BODY) { if (c.isClosed()) return; c.socket.write(ch); await sleep(100) } })()
    const t = await Promise.race([c.closed, sleep(10_000).then(() => -1)])
    await trickle
    assert.notEqual(t, -1, 'still connected 10 s later')
    assert.ok(t - t0 >= 750 && t - t0 < 5000, `closed after ${(t - t0).toFixed(0)} ms (request timeout 800 ms)`)
    assert.doesNotMatch(c.data(), /"result"/, 'the trickled request was not answered')
  })

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const s = await start({ port: 0, keepAliveTimeoutMs: 400 })
    const c = await conn(s)
    const r = await roundTrip(c)
    assert.match(r, /^HTTP\/1\.1 200 /)
    assert.match(r, /keep-alive: timeout=0?\b/i)
    const t0 = performance.now()
    const t = await Promise.race([c.closed, sleep(10_000).then(() => -1)])
    assert.notEqual(t, -1, 'idle connection still open 10 s later')
    assert.ok(t - t0 >= 300 && t - t0 < 5000, `closed ${(t - t0).toFixed(0)} ms after its last answer (keep-alive timeout 400 ms)`)
  })

  it('closes connections beyond the cap while the earlier ones keep working', async () => {
    const s = await start({ port: 0, maxConnections: 3, keepAliveTimeoutMs: 30_000 })
    const first = [await conn(s), await conn(s), await conn(s)]
    for (const c of first) assert.match(await roundTrip(c), /^HTTP\/1\.1 200 /)
    const extra = await conn(s)
    extra.socket.write(REQUEST)
    const t = await Promise.race([extra.closed, sleep(5000).then(() => -1)])
    assert.notEqual(t, -1, 'a 4th connection was kept open')
    assert.equal(extra.data(), '', 'the 4th connection got no answer')
    for (const c of first) assert.match(await roundTrip(c), /^HTTP\/1\.1 200 /, 'an earlier connection stopped working')
    // once one closes, a new connection is accepted again
    first[0]!.socket.destroy()
    await first[0]!.closed
    await sleep(100)
    assert.match(await roundTrip(await conn(s)), /^HTTP\/1\.1 200 /)
  })

  it('answers 503 / -32030 beyond the in-flight cap and serves again once requests finish', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const backend = fakeBackend()
    const slow = { ...backend, chainStatus: async () => { await gate; return await backend.chainStatus() } }
    const s = await createRpcServer(slow, { port: 0, rateLimit: false, maxInFlight: 2 })
    servers.push(s)
    const post = async (): Promise<Response> => await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })
    const held = [post(), post()]
    try {
      await sleep(200)
      const over = await post()
      assert.equal(over.status, 503)
      assert.deepEqual(((await over.json()) as { error: { code: number, data: unknown } }).error, { code: -32030, message: 'Limit exceeded', data: { limit: 'maxInFlight', max: 2 } })
    } finally {
      release()
    }
    for (const r of await Promise.all(held)) assert.equal(r.status, 200)
    assert.equal((await post()).status, 200)
  })
  it('answers 503 / -32030 when the bodies held at once would exceed maxBufferedBytes, declared or chunked', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const backend = fakeBackend()
    const slow = { ...backend, chainStatus: async () => { await gate; return await backend.chainStatus() } }
    const s = await createRpcServer(slow, { port: 0, rateLimit: false, maxBodyBytes: 1000, maxBufferedBytes: 1500 })
    servers.push(s)
    const padded = BODY.padEnd(800, ' ') // whitespace after the JSON value is still valid JSON
    const post = async (chunked = false): Promise<Response> => await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunked ? new Blob([padded]).stream() : padded,
      ...(chunked ? { duplex: 'half' } : {})
    } as RequestInit)
    const held = post() // holds 800 bytes until its (gated) answer
    try {
      await sleep(200)
      for (const chunked of [false, true]) {
        const over = await post(chunked)
        assert.equal(over.status, 503, chunked ? 'chunked' : 'declared length')
        assert.deepEqual(((await over.json()) as { error: unknown }).error, { code: -32030, message: 'Limit exceeded', data: { limit: 'maxBufferedBytes', max: 1500 } })
      }
    } finally {
      release()
    }
    assert.equal((await held).status, 200)
    assert.equal((await post()).status, 200, 'the budget is returned when a response ends')
    assert.equal((await post(true)).status, 200)
  })
})
