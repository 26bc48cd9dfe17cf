/**
 * The explorer over HTTP without a browser: the pages a node's JSON-RPC server serves under
 * /explorer/ (only the listed files, with a Content-Security-Policy, nothing from another origin),
 * and the `pqmed explorer` server that passes JSON-RPC calls on to a node (limits and errors).
 */
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { readFileSync } from 'node:fs'
import { createRpcServer, type RpcServer } from '../../src/rpc/index.js'
import { CONTENT_SECURITY_POLICY } from '../../src/explorer/assets.js'
import { MAX_PROXY_BODY_BYTES, parseRpcUrl, startExplorerServer, type ExplorerServer } from '../../src/explorer/server.js'
import { fakeBackend } from '../rpc/fake.js'
import { ensureBuilt, pqmed } from '../cli/helpers.js'

/** A raw GET/HEAD/POST with the path exactly as given (fetch would normalize `..`). */
async function raw (base: string, method: string, path: string, body?: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }> {
  const u = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('explorer pages on a node\'s JSON-RPC server', () => {
  let server: RpcServer
  const warnings: string[] = []
  before(async () => { server = await createRpcServer(fakeBackend(), { port: 0, log: { warn: (m) => { warnings.push(m) } } }) })
  after(async () => { await server.close() })

  it('serves the page, its script and stylesheet with their types, a CSP and nosniff; /explorer redirects to /explorer/', async () => {
    const page = await raw(server.url, 'GET', '/explorer/')
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    assert.equal(page.headers['x-content-type-options'], 'nosniff')
    assert.match(page.body, /<script type="module" src="app.js"><\/script>/)
    assert.match(String((await raw(server.url, 'GET', '/explorer/app.js')).headers['content-type']), /^text\/javascript/)
    assert.match(String((await raw(server.url, 'GET', '/explorer/style.css?v=1')).headers['content-type']), /^text\/css/)
    assert.equal((await raw(server.url, 'GET', '/explorer/index.html')).body, page.body)
    const head = await raw(server.url, 'HEAD', '/explorer/')
    assert.equal(head.status, 200)
    assert.equal(head.body, '')
    const moved = await raw(server.url, 'GET', '/explorer')
    assert.equal(moved.status, 301)
    assert.equal(moved.headers.location, '/explorer/')
    assert.match((await raw(server.url, 'GET', '/')).body, /explorer is at \/explorer\//)
  })

  it('serves nothing else: other files, path tricks and other methods are refused; JSON-RPC still works', async () => {
    for (const path of ['/explorer/../package.json', '/explorer/%2e%2e/package.json', '/explorer/assets.ts', '/explorer/static/app.js', '/explorer//etc/passwd', '/explorerx']) {
      const r = await raw(server.url, 'GET', path)
      assert.equal(r.status, 404, path)
      assert.doesNotMatch(r.body, /"name"|root:/)
    }
    const post = await raw(server.url, 'POST', '/explorer/', '{}')
    assert.equal(post.status, 405)
    assert.equal(post.headers.allow, 'GET, HEAD')
    const call = await raw(server.url, 'POST', '/', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status' }))
    assert.equal((JSON.parse(call.body) as { result: { height: number } }).result.height, 7)
    assert.deepEqual(warnings, [])
  })

  it('the pages load nothing from another origin (no CDN, no external font or script)', () => {
    for (const f of ['index.html', 'app.js', 'style.css']) {
      const text = readFileSync(new URL(`../../src/explorer/static/${f}`, import.meta.url), 'utf8')
      const urls = [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s'"`)]*/gi)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg')
      assert.deepEqual(urls, [], f)
      assert.doesNotMatch(text, /@import|<script[^>]+src="(?!app\.js)/, f)
    }
  })
})

describe('pqmed explorer: the standalone server', function () {
  this.timeout(120_000)
  let node: RpcServer
  let explorer: ExplorerServer
  const backend = fakeBackend()
  const logged: string[] = []
  before(async () => {
    node = await createRpcServer(backend, { port: 0, log: { warn: () => {} } })
    explorer = await startExplorerServer({ rpc: node.url, port: 0, log: (m) => { logged.push(m) } })
  })
  after(async () => { await explorer.close(); await node.close() })

  it('serves the pages at /explorer/, redirects / there, and passes POST / on to the node', async () => {
    assert.match(explorer.url, /^http:\/\/127\.0\.0\.1:\d+\/explorer\/$/)
    const page = await raw(explorer.url, 'GET', '/explorer/')
    assert.equal(page.status, 200)
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
    const root = await raw(explorer.url, 'GET', '/')
    assert.equal(root.status, 302)
    assert.equal(root.headers.location, '/explorer/')
    const call = await raw(explorer.url, 'POST', '/', JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'node_info' }, { jsonrpc: '2.0', id: 2, method: 'chain_getHeaders', params: { from: 1, count: 0 } }]))
    assert.equal(call.status, 200)
    const [a, b] = JSON.parse(call.body) as Array<{ result?: { peerId: string }, error?: { code: number } }>
    assert.equal(a?.result?.peerId, '12D3KooWFake')
    assert.equal(b?.error?.code, -32602, 'the node\'s own validation errors come back unchanged')
    assert.equal((await raw(explorer.url, 'GET', '/metrics')).status, 404)
    assert.equal((await raw(explorer.url, 'PUT', '/')).status, 404)
  })

  it('a body over the node\'s 16 MiB limit is refused (413, -32030) without reaching the node', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ehr_verifyFile', params: { file: 'A'.repeat(MAX_PROXY_BODY_BYTES) } })
    backend.calls.length = 0
    const r = await raw(explorer.url, 'POST', '/', big)
    assert.equal(r.status, 413)
    assert.deepEqual(backend.calls, [])
    assert.equal((JSON.parse(r.body) as { error: { code: number } }).error.code, -32030)
  })

  it('a node that does not answer: 502 with a JSON-RPC error naming it', async () => {
    const down = await createRpcServer(fakeBackend(), { port: 0 })
    const url = down.url
    await down.close()
    const ex = await startExplorerServer({ rpc: url, port: 0, log: (m) => { logged.push(m) } })
    try {
      const r = await raw(ex.url, 'POST', '/', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node_info' }))
      assert.equal(r.status, 502)
      const err = (JSON.parse(r.body) as { error: { code: number, data: { reason: string } } }).error
      assert.equal(err.code, -32603)
      assert.match(err.data.reason, new RegExp(`the node at ${url.replace(/[.]/g, '\\.')} did not answer`))
      assert.ok(logged.some((m) => m.includes('did not answer')))
    } finally { await ex.close() }
  })

  it('--rpc must be an http(s) URL without credentials', async () => {
    assert.throws(() => parseRpcUrl('127.0.0.1:8645'), /not a URL|http:\/\/ or https:\/\//)
    assert.throws(() => parseRpcUrl('ftp://127.0.0.1/'), /http:\/\/ or https:\/\//)
    assert.throws(() => parseRpcUrl('http://user:pw@127.0.0.1:8645/'), /credentials/)
    assert.equal(parseRpcUrl('http://127.0.0.1:8645').href, 'http://127.0.0.1:8645/')
    await ensureBuilt()
    const missing = await pqmed(['explorer'])
    assert.equal(missing.code, 2, missing.stderr)
    assert.match(missing.stderr, /--rpc/)
    const bad = await pqmed(['explorer', '--rpc', 'ftp://x/'])
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /must be an http:\/\/ or https:\/\/ URL/)
    const port = await pqmed(['explorer', '--rpc', 'http://127.0.0.1:1/', '--port', '70000'])
    assert.equal(port.code, 2, port.stderr)
    assert.match(port.stderr, /--port must be an integer/)
  })
})
