/**
 * The SDK's search over JSON-RPC (`runSearch`/`querySearch`) against a node (an RPC server over
 * a scripted backend holding a real index): it follows every page, checks each position against
 * the header ranges the answers carry, asks for no header, and refuses answers whose positions
 * or ranges are inconsistent.
 */
import assert from 'node:assert/strict'
import { ClientError, RpcClient, runSearch } from '../../src/client/index.js'
import { randomBytes, toHex } from '../../src/crypto/index.js'
import { createRpcServer, type IndexRangeJson, type RpcServer, type SearchPageJson } from '../../src/rpc/index.js'
import { SseClient, decodeSearchToken, keywordTerm, serverSearchPage, type QueryPlan } from '../../src/sse/index.js'
import { FakeChain } from '../sse/helpers.js'
import { fakeBackend, type FakeBackend } from '../rpc/fake.js'

describe('client: paged, position-checked search over JSON-RPC', () => {
  const consortiumKey = randomBytes(32)
  const writer = randomBytes(32)
  const chain = new FakeChain()
  const ranges = new Map<number, IndexRangeJson>()
  let plan: QueryPlan
  let backend: FakeBackend
  let server: RpcServer
  let rpc: RpcClient
  /** Rewrites each page the honest node would send. */
  let tamper: (page: SearchPageJson, n: number) => SearchPageJson = (p) => p

  before(async () => {
    const w = new SseClient()
    let next = 0
    for (let h = 1; h <= 12; h++) {
      const block = [0, 1, 2].map((k) => w.update(consortiumKey, writer, keywordTerm(k === 0 ? 'fever' : `x${h}`), { recordId: randomBytes(32), field: 1, ciphertextHash: randomBytes(32) }))
      chain.commit(block)
      ranges.set(chain.height, { height: chain.height, indexStart: next, indexCount: block.length })
      next += block.length
    }
    plan = w.planSearch([{ indexKey: consortiumKey, term: keywordTerm('fever') }], [writer])
    backend = fakeBackend()
    let served = 0
    backend.search = async (token, cursor, limit) => {
      backend.calls.push({ method: 'search', args: [token, cursor, limit] })
      const page = serverSearchPage(chain.store, decodeSearchToken(token), { cursor, limit: limit ?? 1000 })
      const entries = page.entries.map((e) => ({ label: toHex(e.label), value: Buffer.from(e.value).toString('base64'), height: e.position.height, position: e.position.index }))
      const headers = [...new Set(entries.map((e) => e.height))].sort((a, b) => a - b).map((h) => ranges.get(h) as IndexRangeJson)
      return tamper(page.next === undefined ? { entries, headers } : { entries, headers, next: page.next }, served++)
    }
    server = await createRpcServer(backend, { port: 0 })
    rpc = new RpcClient(server.url)
  })
  after(async () => { await server?.close() })
  beforeEach(() => { backend.calls.length = 0; tamper = (p) => p })

  const methods = (): string[] => backend.calls.map((c) => c.method)

  it('follows every page (cursor = the previous next) and verifies the union, with no chain_getHeader call', async () => {
    const v = await runSearch(rpc, plan, undefined, { pageSize: 5 })
    assert.deepEqual([v.locations.length, v.omitted.length, v.forged.length], [12, 0, 0])
    assert.equal(v.pages, 3)
    assert.deepEqual(methods(), ['search', 'search', 'search'], 'no getHeader round trips')
    assert.deepEqual(backend.calls.map((c) => [c.args[1], c.args[2]]), [[undefined, 5], [5, 5], [10, 5]])
    const one = await runSearch(rpc, plan)
    assert.deepEqual([one.locations.length, one.pages], [12, 1])
  })

  it('an entry outside its header\'s range, or at a height without a range, is refused (BAD_PROOF)', async () => {
    tamper = (p) => ({ ...p, headers: p.headers.map((r) => r.height === 4 ? { ...r, indexStart: r.indexStart + 1, indexCount: r.indexCount - 1 } : r) })
    let v = await runSearch(rpc, plan)
    assert.deepEqual(v.forged.map((f) => f.reason), ['BAD_PROOF'])
    assert.equal(v.omitted.length, 1)
    tamper = (p) => ({ ...p, headers: p.headers.filter((r) => r.height !== 6) })
    v = await runSearch(rpc, plan)
    assert.deepEqual(v.forged.map((f) => f.reason), ['BAD_PROOF'])
    tamper = (p) => ({ ...p, entries: p.entries.map((e) => e.height === 2 ? { ...e, position: e.position + 3 } : e) })
    v = await runSearch(rpc, plan)
    assert.deepEqual(v.forged.map((f) => f.reason), ['BAD_PROOF'])
  })

  it('ranges that cannot all be certified headers (overlapping, or two for one height across pages) fail every entry', async () => {
    // height 5's range stretched over height 6's: each entry is still inside its own range
    tamper = (p) => ({ ...p, headers: p.headers.map((r) => r.height === 5 ? { ...r, indexCount: r.indexCount + 3 } : r) })
    let v = await runSearch(rpc, plan)
    assert.equal(v.locations.length, 0)
    assert.equal(v.forged.length, 12)
    assert.ok(v.forged.every((f) => f.reason === 'BAD_PROOF'))
    // the second page repeats height 5 with another range
    tamper = (p, n) => n % 2 === 1 ? { ...p, headers: [...p.headers, { height: 5, indexStart: 99, indexCount: 3 }].sort((a, b) => a.height - b.height) } : p
    v = await runSearch(rpc, plan, undefined, { pageSize: 6 })
    assert.equal(v.locations.length, 0)
  })

  it('a cursor that does not advance (or runs past the token) is refused', async () => {
    tamper = (p) => ({ ...p, next: 0 })
    await assert.rejects(runSearch(rpc, plan, undefined, { pageSize: 5 }), (e: unknown) => e instanceof ClientError && e.code === 'VERIFY_FAILED' && /does not advance/.test(e.message))
    tamper = (p) => ({ ...p, next: 2 ** 40 })
    await assert.rejects(runSearch(rpc, plan, undefined, { pageSize: 5 }), (e: unknown) => e instanceof ClientError && e.code === 'VERIFY_FAILED')
  })

  it('a node that ends the pages early is caught as omissions', async () => {
    tamper = (p) => ({ entries: p.entries, headers: p.headers })
    const v = await runSearch(rpc, plan, undefined, { pageSize: 5 })
    assert.deepEqual([v.locations.length, v.omitted.length, v.pages], [5, 7, 1])
  })
})
