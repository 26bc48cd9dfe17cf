import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' }
import { parse } from 'yaml'
import { composeFor, composeYaml, main, nodeFiles, type ComposeFile } from '../../src/cli/sim-compose.js'
import { parseTopology, topologyFromFlags } from '../../src/cli/topology.js'
import { genesisToJson, parseGenesis } from '../../src/node/genesis.js'
import { createDevnet } from '../../src/node/devnet.js'
import { loadIdentity, readIdentityFile } from '../../src/node/identity.js'
import { parsePeerList } from '../../src/node/peer-allow.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { freePorts } from '../../src/cli/procs.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

async function validator (): Promise<(doc: unknown) => string[]> {
  const schema = JSON.parse(await readFile(join(ROOT, 'test/fixtures/compose/compose-spec.json'), 'utf8')) as Record<string, unknown>
  // the schema is draft-07 with non-standard keywords ("deprecated"), union types and an $id that is not a URL
  const ajv = new Ajv({ strict: false, allowUnionTypes: true, allErrors: true })
  // its "$schema" is https://json-schema.org/draft-07/schema (https, no "#"): the draft-07 meta-schema Ajv ships, under that id
  ajv.addMetaSchema({ ...draft07, $id: 'https://json-schema.org/draft-07/schema' })
  const validate = ajv.compile(schema)
  return (doc) => validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`)
}

/** Runs the init service's script on this machine, with its volumes at `net` (/network) and `nodes` (/nodes). */
async function runInit (doc: ComposeFile, net: string, nodes: string): Promise<string> {
  const script = doc.services.init?.command[0] ?? ''
  const local = script.replaceAll('/network', net).replaceAll('/nodes', nodes).replaceAll('node /app/bin/pqmed.js', `node ${join(ROOT, 'bin/pqmed.js')}`)
  return (await promisify(execFile)('/bin/sh', ['-c', local])).stdout
}

/** Every file under `dir`, as paths relative to it. */
async function filesUnder (dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort()
}

describe('cli: sim:compose', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pqmed-compose-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes a file that is valid against the Compose specification schema and describes the asked topology', async () => {
    const out = join(dir, 'compose.generated.yml')
    await main(['--managers', '4', '--users', '3', '--latency', '40', '--out', out])
    const doc = parse(await readFile(out, 'utf8')) as ComposeFile
    const check = await validator()
    assert.deepEqual(check(doc), [])
    const names = Object.keys(doc.services).sort()
    assert.deepEqual(names, ['init', 'manager-0', 'manager-1', 'manager-2', 'manager-3', 'user-0', 'user-1', 'user-2'])
    assert.deepEqual(Object.keys(doc.networks), ['pqmed'])
    const nodes = names.filter((n) => n !== 'init')
    assert.deepEqual(Object.keys(doc.volumes).sort(), ['network', ...nodes.flatMap((n) => [`${n}-data`, `${n}-network`])].sort())
    for (const [name, s] of Object.entries(doc.services)) {
      assert.deepEqual(s.networks, ['pqmed'])
      if (name === 'init') {
        assert.equal(s.depends_on, undefined)
        // (issue 11) init alone mounts the shared volume, and every node's own volume to fill it
        assert.deepEqual(s.volumes, ['network:/network', ...nodes.map((n) => `${n}-network:/nodes/${n}`)])
        continue
      }
      // (issue 15) user nodes also wait for every manager to serve (its /healthz health check)
      const managersHealthy = name.startsWith('user') ? Object.fromEntries([0, 1, 2, 3].map((i) => [`manager-${i}`, { condition: 'service_healthy' }])) : {}
      assert.deepEqual(s.depends_on, { init: { condition: 'service_completed_successfully' }, ...managersHealthy })
      assert.deepEqual(s.healthcheck?.test.slice(0, 3), ['CMD', 'node', '-e'])
      assert.match(s.healthcheck?.test[3] ?? '', /fetch\('http:\/\/127\.0\.0\.1:9100\/healthz'/)
      assert.deepEqual(s.command.slice(s.command.indexOf('--ops-port'), s.command.indexOf('--ops-port') + 4), ['--ops-port', '9100', '--ops-host', '0.0.0.0'])
      assert.deepEqual(s.volumes, [`${name}-network:/network:ro`, `${name}-data:/data`])
      assert.deepEqual(s.deploy?.resources.limits, name.startsWith('manager') ? { cpus: '1.0', memory: '512M' } : { cpus: '0.5', memory: '256M' })
      assert.deepEqual(s.cap_add, ['NET_ADMIN'])
      assert.deepEqual(s.environment, { PQMED_NETEM_DELAY_MS: '40' })
      assert.deepEqual(s.entrypoint, ['/app/docker/netem-entrypoint.sh'])
      assert.equal(s.command[0], 'node')
      assert.equal(s.command[s.command.indexOf('--role') + 1], name.split('-')[0])
      assert.equal(s.command[s.command.indexOf('--identity') + 1], `/network/identities/${name}.json`)
      assert.equal(s.command.includes('--allow-peers-file'), name.startsWith('manager'))
    }
    assert.deepEqual(doc.services['user-2']?.ports, ['127.0.0.1:8647:8645'])
    assert.equal(doc.services['manager-0']?.ports, undefined)
  })

  it('without latency has no privileges; per-node latency and resource limits come from a topology file', async () => {
    const t = parseTopology('managers: 4\nusers: 1\nnodes: { manager-2: { latencyMs: 90 } }\nports: { rpcBase: 9100 }\nresources: { user: { cpus: 2, memory: 1G } }')
    const doc = composeFor(t)
    assert.deepEqual((await validator())(doc), [])
    assert.equal(doc.services['manager-0']?.cap_add, undefined)
    assert.equal(doc.services['manager-0']?.user, undefined)
    assert.deepEqual(doc.services['manager-2']?.environment, { PQMED_NETEM_DELAY_MS: '90' })
    assert.deepEqual(doc.services['user-0']?.ports, ['127.0.0.1:9100:8645'])
    assert.deepEqual(doc.services['user-0']?.deploy?.resources.limits, { cpus: '2', memory: '1G' })
    assert.match(composeYaml(doc, t), /^# Generated by `npm run sim:compose`/)
  })

  it('--monitoring adds Prometheus scraping every node\'s :9100/metrics and Grafana with the dashboard of docker/grafana/ (issue 15)', async () => {
    const out = join(dir, 'monitored', 'compose.generated.yml')
    await main(['--managers', '4', '--users', '2', '--monitoring', '--out', out])
    const doc = parse(await readFile(out, 'utf8')) as ComposeFile
    assert.deepEqual((await validator())(doc), [])
    const nodes = ['manager-0', 'manager-1', 'manager-2', 'manager-3', 'user-0', 'user-1']
    assert.deepEqual(Object.keys(doc.services).sort(), ['grafana', 'init', ...nodes, 'prometheus'].sort())
    const prom = doc.services.prometheus
    const grafana = doc.services.grafana
    assert.ok(prom !== undefined && grafana !== undefined)
    assert.deepEqual(prom.ports, ['127.0.0.1:9090:9090'])
    assert.deepEqual(grafana.ports, ['127.0.0.1:3000:3000'])
    assert.deepEqual(grafana.depends_on, { prometheus: { condition: 'service_healthy' } })
    assert.ok(prom.healthcheck !== undefined)
    // the scrape config names every node service on the ops port, and nothing else
    const configs = doc.configs as Record<string, { content?: string, file?: string }>
    const scrape = parse(configs[prom.configs?.[0]?.source ?? '']?.content ?? '') as { scrape_configs: Array<{ metrics_path: string, static_configs: Array<{ targets: string[] }> }> }
    assert.deepEqual(scrape.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets)).sort(), nodes.map((n) => `${n}:9100`).sort())
    assert.ok(scrape.scrape_configs.every((c) => c.metrics_path === '/metrics'))
    for (const n of nodes) assert.deepEqual(doc.services[n]?.command.slice(doc.services[n]?.command.indexOf('--ops-port')), ['--ops-port', '9100', '--ops-host', '0.0.0.0'])
    // Grafana: the provisioned datasource is the uid the dashboard's panels use; the dashboard is the repository's file, found from the compose file's directory
    const mounts = new Map((grafana.configs ?? []).map((c) => [c.target, configs[c.source]]))
    const ds = parse(mounts.get('/etc/grafana/provisioning/datasources/pqmed.yml')?.content ?? '') as { datasources: Array<{ uid: string, url: string, type: string }> }
    assert.deepEqual(ds.datasources.map((d) => [d.type, d.uid, d.url]), [['prometheus', 'pqmed-prometheus', 'http://prometheus:9090']])
    const provider = parse(mounts.get('/etc/grafana/provisioning/dashboards/pqmed.yml')?.content ?? '') as { providers: Array<{ options: { path: string } }> }
    assert.equal(provider.providers[0]?.options.path, '/etc/grafana/dashboards')
    const dashFile = mounts.get('/etc/grafana/dashboards/pqmed.json')?.file ?? ''
    assert.equal(join(dirname(out), dashFile), join(ROOT, 'docker/grafana/pqmed-dashboard.json'))
    const dash = JSON.parse(await readFile(join(dirname(out), dashFile), 'utf8')) as { panels: Array<{ datasource?: { uid: string } }> }
    assert.ok(dash.panels.every((p) => p.datasource === undefined || p.datasource.uid === 'pqmed-prometheus'))
    // the default output, in docker/, refers to it as ./grafana/...
    assert.deepEqual(composeFor(topologyFromFlags({ managers: 4, users: 0 }), { monitoring: true }).configs?.['grafana-dashboard-pqmed'], { file: './grafana/pqmed-dashboard.json' })
    // without --monitoring: no monitoring services, but the health checks are there
    const plain = composeFor(topologyFromFlags({ managers: 4, users: 1 }))
    assert.equal(plain.services.prometheus, undefined)
    assert.equal(plain.configs, undefined)
    assert.ok(plain.services['manager-0']?.healthcheck !== undefined)
  })

  it('the schema check can fail (a broken file is rejected)', async () => {
    const doc = composeFor(topologyFromFlags({ managers: 4, users: 1 })) as unknown as { services: Record<string, Record<string, unknown>> }
    const check = await validator()
    const m0 = doc.services['manager-0'] as Record<string, unknown>
    m0.depends_on = { init: { condition: 'when_ready' } }
    assert.notDeepEqual(check(doc), [])
    m0.depends_on = { init: { condition: 'service_completed_successfully' } }
    m0.restart_policy = 'always'
    assert.notDeepEqual(check(doc), [])
  })

  it("the init service's script writes a genesis that lists managers by service DNS name and keeps it on restart", async () => {
    const t = topologyFromFlags({ managers: 4, users: 1, doctors: 1 })
    const net = join(dir, 'network')
    const runFor = async (topology: typeof t): Promise<string> => await runInit(composeFor(topology), net, join(dir, 'nodes'))
    const run = async (): Promise<string> => await runFor(t)
    assert.match(await run(), /genesis: managers at \/dns4\/manager-0\/tcp\/4001 \/dns4\/manager-1\/tcp\/4001/)
    const g = parseGenesis(await readFile(join(net, 'genesis.json'), 'utf8'))
    assert.deepEqual(g.managers.map((m) => m.addrs), [0, 1, 2, 3].map((i) => [`/dns4/manager-${i}/tcp/4001`]))
    assert.deepEqual(g.params, t.consensus)
    // user-0's identity is listed in genesis, so the managers admit it
    assert.deepEqual(g.userNodes, [(await loadIdentity(await readIdentityFile(join(net, 'identities', 'user-0.json')))).peerId])
    assert.match(await run(), /exists, keeping it/)
    assert.equal(parseGenesis(await readFile(join(net, 'genesis.json'), 'utf8')).time, g.time)
    // a second user node on the same genesis: a new identity, its peer id in the allow file
    await runFor(topologyFromFlags({ managers: 4, users: 2, doctors: 1 }))
    const u1 = (await loadIdentity(await readIdentityFile(join(net, 'identities', 'user-1.json')))).peerId
    assert.deepEqual(parsePeerList(await readFile(join(net, 'allow-peers.txt'), 'utf8'), 'allow-peers.txt'), [u1])
    await runFor(topologyFromFlags({ managers: 4, users: 2, doctors: 1 }))
    assert.deepEqual(parsePeerList(await readFile(join(net, 'allow-peers.txt'), 'utf8'), 'allow-peers.txt'), [u1], 'not added twice')
    // every manager's own copy of the allow file follows the shared one
    assert.deepEqual(parsePeerList(await readFile(join(dir, 'nodes', 'manager-3', 'allow-peers.txt'), 'utf8'), 'allow-peers.txt'), [u1])
  })

  it('no container can see another\'s identity: each node mounts only its own volume, holding the genesis and its own identity (issue 11)', async () => {
    const t = topologyFromFlags({ managers: 4, users: 3, doctors: 2 })
    const doc = composeFor(t)
    assert.deepEqual((await validator())(doc), [])
    const root = await mkdtemp(join(tmpdir(), 'pqmed-compose-vol-'))
    try {
      const net = join(root, 'network')
      const out = await runInit(doc, net, join(root, 'nodes'))
      assert.match(out, /each node volume holds genesis\.json and its own identity/)
      // where init mounts each volume: volume name → local directory
      const volumeDir = new Map((doc.services.init?.volumes ?? []).map((v) => {
        const [vol, path] = v.split(':') as [string, string]
        return [vol, path === '/network' ? net : join(root, 'nodes', path.replace(/^\/nodes\//, ''))]
      }))
      const shared = await filesUnder(net)
      // the shared volume holds every identity (doctors' too) and the consortium key: only init mounts it
      assert.ok(shared.includes('identities/doctor-0.json') && shared.includes('identities/manager-1.json') && shared.includes('consortium-key.json'))
      const seeds = new Map<string, string>()
      for (const f of shared.filter((f) => f.startsWith('identities/'))) seeds.set(f, (JSON.parse(await readFile(join(net, f), 'utf8')) as { deviceSeed: string }).deviceSeed)
      const genesis = await readFile(join(net, 'genesis.json'), 'utf8')
      for (const [name, s] of Object.entries(doc.services)) {
        if (name === 'init') continue
        const mounts = (s.volumes ?? []).map((v) => v.split(':')[0] as string)
        assert.ok(!mounts.includes('network'), `${name} mounts the shared network volume`)
        assert.deepEqual(mounts.filter((m) => m.endsWith('-network')), [`${name}-network`], `${name} mounts another node's volume`)
        const own = volumeDir.get(`${name}-network`)
        assert.ok(own !== undefined, `init fills ${name}-network`)
        const files = await filesUnder(own)
        assert.deepEqual(files, [...nodeFiles(name)].sort(), `${name}'s /network`)
        assert.equal(await readFile(join(own, 'genesis.json'), 'utf8'), genesis)
        assert.equal(await readFile(join(own, 'identities', `${name}.json`), 'utf8'), await readFile(join(net, 'identities', `${name}.json`), 'utf8'))
        // no other node's or doctor's device seed anywhere in what this container sees
        const seen = (await Promise.all(files.map(async (f) => await readFile(join(own, f), 'utf8')))).join('\n')
        for (const [f, seed] of seeds) if (f !== `identities/${name}.json`) assert.ok(!seen.includes(seed), `${name} can read the seed of ${f}`)
        // every /network path the node's command uses is one of its files
        for (const arg of s.command.filter((a) => a.startsWith('/network/'))) assert.ok(files.includes(arg.slice('/network/'.length)), `${name}: ${arg} is not in its volume`)
      }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('cli: /dns4/ manager addresses (as in the Compose genesis)', () => {
  it('managers listed in genesis as /dns4/<name>/tcp/<port> find each other over TCP', async () => {
    const ports = await freePorts(4)
    const files = await createDevnet({ chainId: 'pqmed-dns4', managers: 4, doctors: 0, managerAddr: (i) => `/dns4/localhost/tcp/${ports[i] as number}` })
    const root = await mkdtemp(join(tmpdir(), 'pqmed-dns4-'))
    const nodes: RunningNode[] = []
    try {
      for (let i = 0; i < 4; i++) nodes.push(await startNode({ role: 'manager', genesis: parseGenesis(genesisToJson(files.genesis)), dataDir: join(root, `m${i}`), identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i] as number}`], loopback: true }))
      const deadline = Date.now() + 15_000
      for (;;) {
        const counts = nodes.map((n) => new Set(n.host.getConnections().map((c) => c.remotePeer.toString())).size)
        if (counts.every((c) => c === 3)) break
        if (Date.now() > deadline) throw new Error(`managers not fully connected: ${JSON.stringify(counts)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      assert.ok(nodes.some((n) => n.host.getConnections().some((c) => c.remoteAddr.toString().startsWith('/dns4/localhost/'))), 'some connection was dialed by DNS name')
    } finally {
      await Promise.all(nodes.map(async (n) => { await n.stop() }))
      await rm(root, { recursive: true, force: true })
    }
  })
})

/**
 * The metric names of the operations contract (README, "Metrics"): the dashboard may use only
 * these (histograms with their _bucket/_sum/_count series), so a renamed metric breaks this test
 * rather than a panel.
 */
const CONTRACT_METRICS = new Set([
  'pqmed_consensus_height', 'pqmed_consensus_view', 'pqmed_consensus_view_changes_total', 'pqmed_consensus_rounds',
  'pqmed_consensus_block_interval_seconds', 'pqmed_consensus_commit_latency_seconds', 'pqmed_consensus_block_txs', 'pqmed_consensus_txs_total',
  'pqmed_mempool_size', 'pqmed_mempool_bytes', 'pqmed_gossip_validation_total', 'pqmed_reqresp_requests_total', 'pqmed_reqresp_request_duration_seconds',
  'pqmed_rpc_requests_total', 'pqmed_rpc_request_duration_seconds', 'pqmed_light_header_lag_seconds', 'pqmed_light_header_lag_heights',
  'pqmed_store_bytes', 'pqmed_store_records', 'pqmed_peers'
])
const HISTOGRAMS = ['pqmed_consensus_block_interval_seconds', 'pqmed_consensus_commit_latency_seconds', 'pqmed_consensus_block_txs', 'pqmed_reqresp_request_duration_seconds', 'pqmed_rpc_request_duration_seconds']

interface Panel { id: number, type: string, title: string, gridPos: { x: number, y: number, w: number, h: number }, datasource?: { type: string, uid: string }, targets?: Array<{ refId: string, expr: string }> }

/** The metric names a PromQL expression reads (identifiers outside label matchers that are not functions, keywords or grouping labels). */
function metricsOf (expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '').replace(/\b(by|without)\s*\([^)]*\)/g, '').replace(/\[[^\]]*\]/g, '')
  return [...bare.matchAll(/[a-zA-Z_][a-zA-Z0-9_]*\b(?!\s*\()/g)].map((m) => m[0]).filter((w) => !/^(sum|max|min|avg|count|rate|increase|irate|histogram_quantile|by|without|on|ignoring|and|or|unless|bool|le)$/.test(w))
}

describe('docker/grafana: the dashboard (issue 15)', () => {
  let dash: { uid: string, title: string, schemaVersion: number, panels: Panel[] }
  before(async () => { dash = JSON.parse(await readFile(join(ROOT, 'docker/grafana/pqmed-dashboard.json'), 'utf8')) as typeof dash })

  it('is a Grafana dashboard: uid, title, panels with unique ids, grid positions inside 24 columns, the provisioned datasource', () => {
    assert.equal(typeof dash.uid, 'string')
    assert.equal(typeof dash.title, 'string')
    assert.ok(Number.isInteger(dash.schemaVersion))
    assert.ok(dash.panels.length > 10)
    assert.equal(new Set(dash.panels.map((p) => p.id)).size, dash.panels.length, 'unique panel ids')
    for (const p of dash.panels) {
      assert.ok(['timeseries', 'stat', 'row'].includes(p.type), `${p.title}: type ${p.type}`)
      const g = p.gridPos
      assert.ok(Number.isInteger(g.x) && Number.isInteger(g.y) && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${p.title}: gridPos ${JSON.stringify(g)}`)
      if (p.type === 'row') continue
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: 'pqmed-prometheus' }, p.title)
      assert.ok((p.targets ?? []).length > 0, `${p.title} has queries`)
      assert.equal(new Set(p.targets?.map((t) => t.refId)).size, p.targets?.length, `${p.title}: unique refIds`)
    }
    // no two panels overlap
    const cells = new Set<string>()
    for (const p of dash.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`)
          cells.add(`${x},${y}`)
        }
      }
    }
  })

  it('every query reads metrics of the contract only, and the panels cover consensus, mempool, gossip, RPC, light-node lag and peers', () => {
    const used = new Set<string>()
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        const names = metricsOf(t.expr)
        assert.ok(names.length > 0, `${p.title}: ${t.expr} reads no metric`)
        for (const n of names) {
          const base = n.replace(/_(bucket|sum|count)$/, '')
          const ok = CONTRACT_METRICS.has(n) || (HISTOGRAMS.includes(base) && base !== n)
          assert.ok(ok, `${p.title}: ${n} (in ${t.expr}) is not a metric of the contract`)
          used.add(base)
        }
      }
    }
    for (const m of ['pqmed_consensus_height', 'pqmed_consensus_view_changes_total', 'pqmed_consensus_block_interval_seconds', 'pqmed_consensus_commit_latency_seconds',
      'pqmed_consensus_block_txs', 'pqmed_mempool_size', 'pqmed_gossip_validation_total', 'pqmed_rpc_requests_total', 'pqmed_rpc_request_duration_seconds',
      'pqmed_light_header_lag_seconds', 'pqmed_light_header_lag_heights', 'pqmed_peers']) assert.ok(used.has(m), `no panel shows ${m}`)
  })

  it('the metric check can fail (an unknown metric or a histogram suffix on a counter is caught)', () => {
    assert.deepEqual(metricsOf('sum by (method) (rate(pqmed_rpc_requests_total{code!="0"}[1m]))'), ['pqmed_rpc_requests_total'])
    assert.deepEqual(metricsOf('histogram_quantile(0.95, sum by (le) (rate(pqmed_rpc_request_duration_seconds_bucket[5m])))'), ['pqmed_rpc_request_duration_seconds_bucket'])
    assert.deepEqual(metricsOf('pqmed_consensus_heigth / pqmed_peers'), ['pqmed_consensus_heigth', 'pqmed_peers'])
    assert.ok(!CONTRACT_METRICS.has('pqmed_consensus_heigth'))
    assert.ok(!HISTOGRAMS.includes('pqmed_rpc_requests_total'), 'pqmed_rpc_requests_total_bucket would be refused')
  })
})
