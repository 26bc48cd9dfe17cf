/**
 * The operations server of `pqmed node --ops-port` on a real devnet of processes (4 managers, 1
 * user node, loopback, free ports): /metrics shows the README's metrics with live values once
 * records are committed, /healthz answers, /readyz is 200 on every node and 503 with a reason on
 * a manager whose peers stopped answering (SIGSTOP), and 200 again when they come back.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rpc } from '../../src/cli/procs.js'
import { startNetwork, type NodeEndpoint, type RunningNetwork } from '../../src/cli/network.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import { submitRecords } from '../cli/helpers.js'

interface Sample { name: string, labels: Record<string, string>, value: number }

/** Prometheus text exposition → samples (enough of the format for these tests). */
export function parseProm (text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string
    out.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return out
}

/** The samples named `name` whose labels include `labels`. */
const find = (s: Sample[], name: string, labels: Record<string, string> = {}): Sample[] =>
  s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
const sum = (s: Sample[], name: string, labels: Record<string, string> = {}): number => find(s, name, labels).reduce((a, x) => a + x.value, 0)
const one = (s: Sample[], name: string, labels: Record<string, string> = {}): number => {
  const f = find(s, name, labels)
  assert.equal(f.length, 1, `${name} ${JSON.stringify(labels)}: ${f.length} samples`)
  return (f[0] as Sample).value
}

async function scrape (n: NodeEndpoint): Promise<Sample[]> {
  const res = await fetch(`${n.ops ?? ''}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
  return parseProm(await res.text())
}

async function readyz (n: NodeEndpoint): Promise<{ status: number, body: { ready: boolean, reason?: string, height: number, managers: number } }> {
  const res = await fetch(`${n.ops ?? ''}/readyz`)
  return { status: res.status, body: await res.json() as { ready: boolean, reason?: string, height: number, managers: number } }
}

async function until<T> (what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await f()
      if (v !== undefined) return v
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`${what}: not in ${timeoutMs} ms${last !== undefined ? ` (${String(last)})` : ''}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('node ops server: /metrics, /healthz, /readyz on a devnet of processes', function () {
  this.timeout(300_000)
  let net: RunningNetwork | undefined
  let dir: string
  let stopped: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqmed-ops-'))
    const t = topologyFromFlags({ managers: 4, users: 1, doctors: 1, chainId: 'pqmed-ops-test' })
    t.consensus.blockInterval = 50
    net = await startNetwork(t, dir, { ops: true, readyTimeoutMs: 120_000 })
  })
  after(async () => {
    for (const name of stopped) net?.signal(name, 'SIGCONT')
    await net?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('every node serves /healthz, and only GET/HEAD on its three paths', async () => {
    assert.ok(net !== undefined)
    for (const n of net.nodes) {
      assert.match(n.ops ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, n.name)
      const h = await fetch(`${n.ops ?? ''}/healthz`)
      assert.equal(h.status, 200)
      assert.deepEqual(await h.json(), { status: 'ok' })
    }
    const m0 = net.managers[0] as NodeEndpoint
    assert.equal((await fetch(`${m0.ops ?? ''}/nope`)).status, 404)
    assert.equal((await fetch(`${m0.ops ?? ''}/metrics`, { method: 'POST', body: 'x' })).status, 405)
  })

  it('/metrics shows consensus, mempool, gossip, request/response, JSON-RPC, store, peer and light-lag metrics with live values', async () => {
    assert.ok(net !== undefined)
    const user = net.users[0] as NodeEndpoint
    await submitRecords(net.dir, user.rpc, 4)
    // an unknown method: counted under "unknown" with its JSON-RPC error code
    await rpc(user.rpc, 'no_such_method').catch(() => {})
    await rpc(user.rpc, 'chain_status')
    const height = (await rpc<{ height: number }>(net.managers[0]?.rpc ?? '', 'chain_status')).height
    assert.ok(height >= 1)

    for (const m of net.managers) {
      // every manager has committed the records (its metrics read the live chain)
      const s = await until(`${m.name} at height ${height}`, async () => { const s = await scrape(m); return one(s, 'pqmed_consensus_height') >= height ? s : undefined })
      const labels = { role: 'manager', node: m.name }
      assert.ok(one(s, 'pqmed_consensus_height', labels) >= height)
      assert.ok(one(s, 'pqmed_consensus_view', labels) >= 0)
      assert.ok(one(s, 'pqmed_consensus_rounds', labels) >= 1)
      assert.ok(one(s, 'pqmed_consensus_view_changes_total', labels) >= 0)
      assert.ok(one(s, 'pqmed_consensus_block_txs_count', labels) >= 1)
      assert.ok(one(s, 'pqmed_consensus_block_txs_sum', labels) >= 4)
      assert.ok(one(s, 'pqmed_consensus_txs_total', { kind: 'record' }) >= 4)
      assert.ok(one(s, 'pqmed_consensus_block_interval_seconds_count') >= 0)
      // every manager admitted the 4 records (from the submit or from gossip) and timed them to their commit
      assert.ok(one(s, 'pqmed_consensus_commit_latency_seconds_count') >= 4, m.name)
      assert.ok(one(s, 'pqmed_consensus_commit_latency_seconds_sum') > 0)
      assert.ok(one(s, 'pqmed_mempool_size') >= 0)
      assert.ok(one(s, 'pqmed_mempool_bytes') >= 0)
      assert.ok(sum(s, 'pqmed_gossip_validation_total', { verdict: 'accept' }) > 0, `${m.name}: accepted gossip`)
      assert.ok(find(s, 'pqmed_gossip_validation_total').every((x) => /\/(tx|consensus)\//.test(x.labels.topic ?? '')), 'a manager validates tx and consensus gossip')
      assert.ok(sum(s, 'pqmed_reqresp_requests_total', { direction: 'in', outcome: 'ok' }) > 0, `${m.name}: served requests`)
      assert.ok(sum(s, 'pqmed_reqresp_requests_total', { direction: 'out', method: 'status' }) > 0, `${m.name}: readiness polls`)
      assert.ok(sum(s, 'pqmed_reqresp_request_duration_seconds_count') > 0)
      assert.equal(one(s, 'pqmed_peers', { peer_role: 'manager' }), 3)
      assert.equal(one(s, 'pqmed_peers', { peer_role: 'user' }), 1)
      assert.ok(one(s, 'pqmed_store_bytes', { store: 'chain' }) > 0)
      assert.ok(one(s, 'pqmed_store_bytes', { store: 'blobs' }) > 0)
      assert.ok(one(s, 'pqmed_store_records') >= 4)
      // prom-client's default metrics and libp2p's own
      assert.ok(one(s, 'process_cpu_seconds_total') > 0)
      assert.ok(find(s, 'nodejs_heap_size_used_bytes').length === 1)
      assert.ok(s.some((x) => x.name.startsWith('libp2p_')), 'libp2p metrics')
      assert.ok(s.every((x) => x.labels.role === 'manager' && x.labels.node === m.name), 'role and node on every sample')
    }

    const s = await until('user node metrics', async () => {
      const s = await scrape(user)
      return one(s, 'pqmed_consensus_height') >= height && one(s, 'pqmed_store_records') >= 4 ? s : undefined
    })
    assert.ok(s.every((x) => x.labels.role === 'user' && x.labels.node === user.name))
    assert.ok(one(s, 'pqmed_rpc_requests_total', { method: 'ehr_submitRecord', code: '0' }) >= 4)
    assert.ok(one(s, 'pqmed_rpc_requests_total', { method: 'chain_status', code: '0' }) >= 1)
    assert.equal(one(s, 'pqmed_rpc_requests_total', { method: 'unknown', code: '-32601' }), 1)
    assert.ok(one(s, 'pqmed_rpc_request_duration_seconds_count', { method: 'ehr_submitRecord' }) >= 4)
    const lagH = one(s, 'pqmed_light_header_lag_heights')
    assert.ok(lagH >= 0 && lagH <= 3, `lag ${lagH}`)
    const lagS = one(s, 'pqmed_light_header_lag_seconds')
    assert.ok(lagS >= 0 && lagS < 600, `lag ${lagS} s`)
    assert.ok(sum(s, 'pqmed_reqresp_requests_total', { direction: 'out', method: 'submit', outcome: 'ok' }) >= 4)
    assert.ok(sum(s, 'pqmed_gossip_validation_total', { verdict: 'accept' }) > 0, 'accepted header gossip')
    assert.ok(find(s, 'pqmed_gossip_validation_total').every((x) => /\/headers\//.test(x.labels.topic ?? '')))
    assert.equal(one(s, 'pqmed_peers', { peer_role: 'manager' }), 4)
    assert.ok(one(s, 'pqmed_store_bytes', { store: 'headers' }) > 0)
    assert.equal(find(s, 'pqmed_mempool_size').length, 0, 'no mempool on a user node')
  })

  it('/readyz is 200 on every node; 503 with the reason on a manager whose peers stop answering; 200 when they are back', async () => {
    assert.ok(net !== undefined)
    for (const n of net.nodes) {
      const r = await until(`${n.name} ready`, async () => { const r = await readyz(n); return r.status === 200 ? r : undefined })
      assert.equal(r.body.ready, true)
    }
    const m0 = net.managers[0] as NodeEndpoint
    // 2 of the 3 others stopped: 1 answers, 2 (2f) needed
    stopped = ['manager-1', 'manager-2']
    for (const n of stopped) assert.ok(net.signal(n, 'SIGSTOP'))
    const down = await until('manager-0 not ready', async () => { const r = await readyz(m0); return r.status === 503 ? r : undefined })
    assert.equal(down.body.ready, false)
    assert.match(down.body.reason ?? '', /^1 of the 3 other managers answered in the last 6 s \(3 connected\); 2 \(2f\) needed$/)
    for (const n of stopped) net.signal(n, 'SIGCONT')
    stopped = []
    await until('manager-0 ready again', async () => { const r = await readyz(m0); return r.status === 200 ? r : undefined })
  })
})
