/**
 * A seeded JSON-RPC fuzz run against a manager and a user node started as real processes
 * (bench/lib/fuzz-net.ts: 1 manager + 1 user node, RPC rate limit off so that the requests reach
 * dispatch). The generator is bench/lib/rpc-fuzz.ts (also used by `npm run bench:fuzz`).
 *
 * The seed is printed; `PQMED_FUZZ_SEED=<seed> npx mocha test/rpc/fuzz.test.ts` reproduces a run.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { alive, commitAndVerify, startFuzzNetwork, type FuzzNetwork } from '../../bench/lib/fuzz-net.js'
import { checkAnswer, FUZZ_KINDS, fuzzSeed, generateCases, mutateSubmission, paramCases, runFuzz, seededRng, type FuzzCase, type FuzzContext, type FuzzReport } from '../../bench/lib/rpc-fuzz.js'
import { openRpcDocument } from '../../src/rpc/index.js'

const REQUESTS = 2000
/** Node log lines that mean an answer hid an internal failure. */
const INTERNAL = /rpc: internal error|rpc: request failed|rpc: unserializable|unhandled rejection|uncaught/i

const show = (r: FuzzReport): string => r.problems.slice(0, 10).map((p) => `#${p.index} ${p.kind}: ${p.problem}\n    request ${p.request.slice(0, 200)}\n    answer  ${p.answer.slice(0, 300)}`).join('\n')

describe('rpc fuzz: checks and generator (no network)', () => {
  const doc = openRpcDocument()
  const post: FuzzCase = { kind: 'x', method: 'POST', path: '/', headers: {}, body: Buffer.from('{}') }
  const answer = (body: string, status = 200, contentType = 'application/json; charset=utf-8') => ({ status, contentType, body: Buffer.from(body), ms: 1 })
  const allowed = new Set([-32700, -32600, -32601, -32602, -32603, ...Object.values(doc.components.errors).map((e) => e.code)])

  it('flags stack frames, paths, undocumented codes, malformed responses and 5xx', () => {
    const bad: Array<[string, RegExp]> = [
      ['{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"TypeError: x\\n    at f (/work/src/rpc/x.ts:3:4)"}}', /stack frame/],
      ['{"jsonrpc":"2.0","id":1,"error":{"code":-32012,"message":"cannot open /work/main/data"}}', /path \/work\//],
      ['{"jsonrpc":"2.0","id":1,"error":{"code":-32012,"message":"in manager.ts:120"}}', /\.ts:/],
      ['{"jsonrpc":"2.0","id":1,"error":{"code":-32012,"message":"node:internal/streams"}}', /node:internal/],
      ['{"jsonrpc":"2.0","id":1,"error":{"code":-32012,"message":"file:///srv/x.js"}}', /file:\/\//],
      ['{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}', /undocumented error code -1/],
      ['{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":-32600,"message":"x"}}', /members/],
      ['{"jsonrpc":"1.0","id":1,"result":1}', /jsonrpc/],
      ['{"jsonrpc":"2.0","id":{},"result":1}', /id/],
      ['[]', /empty batch/],
      ['not json', /not JSON/]
    ]
    for (const [body, re] of bad) {
      const problems = checkAnswer(post, answer(body), allowed, {})
      assert.ok(problems.some((p) => re.test(p)), `${body} → ${problems.join('; ')}`)
    }
    assert.match(checkAnswer(post, answer('<html>', 500, 'text/html'), allowed, {}).join(), /HTTP 500/)
    const codes: Record<string, number> = {}
    assert.deepEqual(checkAnswer(post, answer('[{"jsonrpc":"2.0","id":1,"result":null},{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}]'), allowed, codes), [])
    assert.deepEqual(codes, { result: 1, '-32600': 1 })
    // a marker the request itself carried may be echoed back (e.g. an unknown method name)
    const echo: FuzzCase = { ...post, body: Buffer.from('{"method":"a/work/b"}') }
    assert.deepEqual(checkAnswer(echo, answer('{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found","data":{"method":"a/work/b"}}}'), allowed, {}), [])
  })

  it('derives wrong-type and boundary values for every param of every method from the document', () => {
    const ctx: FuzzContext = { doc, submissions: [new Uint8Array([0xa1, 0x61, 0x61, 0x01])] }
    const cases = paramCases(ctx, seededRng(1))
    for (const m of doc.methods) {
      for (const p of m.params) {
        assert.ok(cases.some((c) => c.body?.toString().includes(`"method":"${m.name}","params":{"${p.name}":`)), `${m.name}.${p.name} not mutated`)
      }
    }
    assert.ok(cases.length < REQUESTS, `the ${cases.length} systematic cases fit in one run of ${REQUESTS}`)
  })

  it('is reproducible from its seed', () => {
    const ctx: FuzzContext = { doc, submissions: [new Uint8Array(200).fill(7)], scale: 0.01, maxBodyBytes: 4096 }
    const digest = (seed: number): string => [...generateCases(ctx, seed, 1200)].map((c) => `${c.kind} ${c.method} ${c.path} ${c.body?.length ?? -1} ${c.body?.subarray(0, 64).toString('hex') ?? ''}`).join('\n')
    assert.equal(digest(42), digest(42))
    assert.deepEqual(new Set([...generateCases(ctx, 42, 3000)].map((c) => c.kind)), new Set(FUZZ_KINDS), 'every class drawn, none unlisted')
    assert.deepEqual(new Set([...generateCases({ ...ctx, kinds: ['batch', 'oversized'] }, 42, 100)].map((c) => c.kind)), new Set(['batch', 'oversized']))
    assert.notEqual(digest(42), digest(43))
    const rng = seededRng(5)
    const orig = new Uint8Array(100).fill(1)
    assert.ok(Array.from({ length: 20 }, () => mutateSubmission(rng, orig)).every((m) => Buffer.compare(Buffer.from(m), Buffer.from(orig)) !== 0))
  })
})

describe('rpc fuzz: a manager and a user node as processes', function () {
  this.timeout(600_000)
  const seed = fuzzSeed()
  let f: FuzzNetwork
  const reports: Record<string, FuzzReport> = {}

  before(async function () {
    this.timeout(180_000)
    console.log(`      fuzz seed ${seed} (reproduce: PQMED_FUZZ_SEED=${seed} npx mocha test/rpc/fuzz.test.ts)`)
    f = await startFuzzNetwork({ seed })
  })
  after(async () => { await f?.stop() })

  it(`answers ${REQUESTS} fuzz requests on each node: no crash, hang, leaked internals or malformed answer`, async () => {
    const submissions = Array.from({ length: 4 }, (_, i) => f.doctor.record(f.rng, i).bytes)
    // huge bodies up to 1/4 of the 16 MiB limit here (oversized cases still send the limit + 1); bench:fuzz uses the full scale
    const ctx: FuzzContext = { doc: f.doc, submissions, scale: 0.25 }
    const [m, u] = await Promise.all([f.manager, f.user].map(async (e) => await runFuzz({ url: e.rpc, ctx, seed, requests: REQUESTS, timeoutMs: 60_000 })))
    reports.manager = m!
    reports.user = u!
    for (const [name, r] of Object.entries(reports)) {
      assert.equal(r.problems.length, 0, `${name}: ${r.problems.length} problems (seed ${seed}):\n${show(r)}`)
      assert.equal(r.answered, REQUESTS, `${name}: ${r.answered} of ${REQUESTS} answered`)
      assert.equal(r.codes['-32603'] ?? 0, 0, `${name}: ${r.codes['-32603']} internal errors (seed ${seed}); see its log`)
      assert.equal(r.codes['-32031'] ?? 0, 0, `${name}: rate limited although the fuzz network runs with --rpc-rate-limit off`)
      // most requests reach dispatch: param validation, the backend or a result
      const dispatched = Object.entries(r.codes).filter(([c]) => !['-32700', '-32600', '-32030'].includes(c)).reduce((s, [, n]) => s + n, 0)
      assert.ok(dispatched >= REQUESTS / 2, `${name}: only ${dispatched} answers came from dispatch`)
    }
    for (const e of [f.manager, f.user]) {
      assert.ok(alive(e.pid), `${e.name} (pid ${e.pid}) died`)
      const lines = (await readFile(e.log, 'utf8')).split('\n').filter((l) => INTERNAL.test(l))
      assert.deepEqual(lines.slice(0, 5), [], `${e.name} logged internal failures`)
    }
  })

  it('still commits and verifies a valid record afterwards, on both nodes', async () => {
    const { recordId, result, verification } = await commitAndVerify(f, f.user.rpc, f.user.rpc)
    assert.equal(result.status, 'committed')
    assert.equal(verification.valid, true)
    const onManager = await commitAndVerify(f, f.manager.rpc, f.manager.rpc)
    assert.equal(onManager.verification.valid, true)
    assert.notEqual(onManager.recordId, recordId)
  })

  it('both nodes stop cleanly (exit code 0)', async () => {
    assert.equal(f.net.nodes.every((n) => alive(n.pid)), true)
    assert.deepEqual(await f.stop(), { 'user-0': 0, 'manager-0': 0 })
  })
})
