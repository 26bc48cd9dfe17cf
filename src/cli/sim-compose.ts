/**
 * `npm run sim:compose -- --managers 4 --users N [--latency MS] [--topology FILE] [--out FILE]`:
 * writes a Docker Compose file (default `docker/compose.generated.yml`) for a topology:
 *
 * - `init`: a one-shot service running `pqmed genesis --users N` into the `network` volume, which
 *   only init mounts (skipped when a genesis is already there; the genesis also writes
 *   `consortium-key.json`), then setting each manager's address to its service DNS name
 *   (`/dns4/manager-<i>/tcp/4001`) and the topology's consensus parameters; user nodes beyond
 *   those of an existing genesis get a new identity (`pqmed peer-id --new-identity`) whose peer id
 *   is appended to `/network/allow-peers.txt`; finally it copies into each node's own volume
 *   `<name>-network` only what that node needs (`nodeFiles`: genesis.json, its own identity, a
 *   manager's allow file). It runs as root (new volumes belong to root) and hands the files to uid 1000;
 * - `manager-<i>` and `user-<j>`: `pqmed node` on the private `pqmed` network, each with its own
 *   data volume and its own `<name>-network` volume read-only at /network (so no container sees
 *   another's identity or device seed), starting once `init` completed successfully, with
 *   `deploy.resources.limits`; managers are permissioned (genesis `userNodes` and
 *   `--allow-peers-file /network/allow-peers.txt`), every node runs with `--identity
 *   /network/identities/<name>.json`;
 *   user nodes publish their JSON-RPC port on 127.0.0.1 (`ports.rpcBase + j`, default 8645 + j);
 * - with a latency, every delayed service gets `cap_add: [NET_ADMIN]` and runs
 *   `/app/docker/netem-entrypoint.sh`, which adds `tc qdisc ... netem delay` on eth0 and then drops
 *   to the unprivileged `node` user (the image ships iproute2 for this).
 *
 * @example
 * ```ts
 * const doc = composeFor(topologyFromFlags({ managers: 4, users: 3, latencyMs: 50 }))
 * await writeFile('docker/compose.generated.yml', composeYaml(doc))
 * ```
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { simComposeCommand } from './commands.js'
import { parseEntryArgs } from './usage.js'
import { nodeLatency, topologyFromArgs, type Topology } from './topology.js'

/** Ports inside every container (the Dockerfile EXPOSEs these). */
export const CONTAINER_RPC_PORT = 8645
export const CONTAINER_P2P_PORT = 4001
/** Operations port of every node in a container (`--ops-port 9100 --ops-host 0.0.0.0`): /metrics, /healthz, /readyz. */
export const CONTAINER_OPS_PORT = 9100
export const DEFAULT_IMAGE = 'pqmed:local'
/** Images of the monitoring services (`--monitoring`), pinned. */
export const PROMETHEUS_IMAGE = 'prom/prometheus:v2.53.2'
export const GRAFANA_IMAGE = 'grafana/grafana:11.2.0'
/** The Grafana datasource uid the dashboard's panels name (docker/grafana/pqmed-dashboard.json). */
export const GRAFANA_DATASOURCE_UID = 'pqmed-prometheus'
/** The dashboard kept in the repository, relative to the repository root. */
export const DASHBOARD_FILE = 'docker/grafana/pqmed-dashboard.json'

/** The arguments that give a node its operations server in a container. */
export const OPS_ARGS = ['--ops-port', String(CONTAINER_OPS_PORT), '--ops-host', '0.0.0.0']

/**
 * A health check on the node's own `/healthz` (Node's fetch: the image has no curl). No `$`
 * (Compose would interpolate it).
 */
export const NODE_HEALTHCHECK: ComposeHealthcheck = {
  test: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${CONTAINER_OPS_PORT}/healthz',{signal:AbortSignal.timeout(4000)}).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`],
  interval: '10s',
  timeout: '5s',
  retries: 3,
  start_period: '30s'
}

/** The Prometheus configuration that scrapes every node's /metrics (compose: by service name). */
export function prometheusConfig (targets: { managers: string[], users: string[] }, interval = '5s'): Record<string, unknown> {
  return {
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: [
      // every pqmed metric already carries `role` and `node` labels (the nodes' default labels)
      { job_name: 'pqmed-managers', metrics_path: '/metrics', static_configs: [{ targets: targets.managers }] },
      ...(targets.users.length > 0 ? [{ job_name: 'pqmed-users', metrics_path: '/metrics', static_configs: [{ targets: targets.users }] }] : [])
    ]
  }
}
/** The managers' allow file in the init service's shared volume (user nodes added after genesis). */
const SHARED_ALLOW_FILE = '/network/allow-peers.txt'
/** The allow file as a manager sees it, in its own volume. */
export const ALLOW_FILE = '/network/allow-peers.txt'

export interface ComposeHealthcheck {
  test: string[]
  interval: string
  timeout: string
  retries: number
  start_period: string
}

export interface ComposeService {
  image: string
  build?: { context: string, dockerfile: string }
  pull_policy?: string
  entrypoint?: string[]
  command: string[]
  user?: string
  cap_add?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  networks: string[]
  ports?: string[]
  depends_on?: Record<string, { condition: 'service_completed_successfully' | 'service_started' | 'service_healthy' }>
  healthcheck?: ComposeHealthcheck
  configs?: Array<{ source: string, target: string }>
  restart?: string
  stop_grace_period?: string
  deploy?: { resources: { limits: { cpus: string, memory: string } } }
}

export interface ComposeFile {
  name: string
  services: Record<string, ComposeService>
  networks: Record<string, { driver: string }>
  volumes: Record<string, Record<string, never>>
  configs?: Record<string, { content: string } | { file: string }>
}

export interface ComposeOptions {
  image?: string
  /** Add Prometheus and Grafana (with the dashboard of docker/grafana/). */
  monitoring?: boolean
  /** The repository's `docker/` directory relative to the compose file's directory (default `.`: the file is in docker/). */
  dockerDir?: string
}

/** Where the init service mounts node `name`'s own volume (`<name>-network`, mounted as /network in that node). */
const nodeDir = (name: string): string => `/nodes/${name}`

/**
 * Files node `name` gets in its own volume (paths relative to /network): the public genesis, its
 * own identity, and for a manager the allow file. Nothing else: no other identity, no device seed
 * of another node, no doctor identity, no consortium key.
 */
export function nodeFiles (name: string): string[] {
  return ['genesis.json', `identities/${name}.json`, ...(name.startsWith('manager-') ? ['allow-peers.txt'] : [])]
}

/** The script the init service runs (POSIX sh; no `$`, which Compose would interpolate). */
function initScript (t: Topology, names: string[]): string {
  const rewrite = [
    'const fs=require("fs");const f="/network/genesis.json";',
    'const g=JSON.parse(fs.readFileSync(f,"utf8"));',
    `g.managers.forEach((m,i)=>{m.addrs=["/dns4/manager-"+i+"/tcp/${CONTAINER_P2P_PORT}"]});`,
    `g.params=${JSON.stringify(t.consensus)};`,
    'fs.writeFileSync(f,JSON.stringify(g,null,2)+"\\n");',
    'console.log("genesis: managers at "+g.managers.map((m)=>m.addrs[0]).join(" "))'
  ].join('')
  const ensureUsers = Array.from({ length: t.users }, (_, j) => `/network/identities/user-${j}.json`)
    .map((f) => `[ -f ${f} ] || node /app/bin/pqmed.js peer-id --new-identity ${f} >> ${SHARED_ALLOW_FILE}`)
  // each node's volume gets copies of its own files only (temp file + rename: a manager watching
  // its allow file never reads half of one)
  const copies = names.flatMap((name) => [
    `mkdir -p ${nodeDir(name)}/identities`,
    ...nodeFiles(name).map((f) => `cp /network/${f} ${nodeDir(name)}/${f}.tmp && mv ${nodeDir(name)}/${f}.tmp ${nodeDir(name)}/${f}`)
  ])
  return [
    'set -e',
    'if [ -f /network/genesis.json ]; then echo "init: /network/genesis.json exists, keeping it"; else',
    `node /app/bin/pqmed.js genesis --dir /network --managers ${t.managers} --doctors ${t.doctors} --users ${t.users} --chain-id ${t.chainId}`,
    `node -e '${rewrite}'`,
    'fi',
    // a genesis made before `pqmed genesis` wrote the consortium key gets one now
    ...(t.doctors > 0 ? ['[ -f /network/consortium-key.json ] || node /app/bin/pqmed.js consortium-key create --genesis /network/genesis.json --out /network/consortium-key.json'] : []),
    `[ -f ${SHARED_ALLOW_FILE} ] || echo "# user nodes admitted besides genesis userNodes: one libp2p peer id per line (re-read by the managers)" > ${SHARED_ALLOW_FILE}`,
    ...ensureUsers,
    ...copies,
    // init runs as root (a new volume's top directory belongs to root); the nodes run as `node` (uid 1000)
    'if id -u | grep -qx 0; then chown -R 1000:1000 /network /nodes; fi',
    'echo "init: each node volume holds genesis.json and its own identity (managers: allow-peers.txt too)"'
  ].join('\n')
}

/** The Compose document for a topology (a plain object; see `composeYaml`). */
export function composeFor (t: Topology, opts: ComposeOptions = {}): ComposeFile {
  const image = opts.image ?? DEFAULT_IMAGE
  const rpcBase = t.ports.rpcBase === 0 ? CONTAINER_RPC_PORT : t.ports.rpcBase
  const services: Record<string, ComposeService> = {}
  const volumes: Record<string, Record<string, never>> = { network: {} }
  const names = [...Array.from({ length: t.managers }, (_, i) => `manager-${i}`), ...Array.from({ length: t.users }, (_, j) => `user-${j}`)]
  services.init = {
    image,
    build: { context: '..', dockerfile: 'docker/Dockerfile' },
    entrypoint: ['/bin/sh', '-c'],
    command: [initScript(t, names)],
    user: 'root',
    volumes: ['network:/network', ...names.map((n) => `${n}-network:${nodeDir(n)}`)],
    networks: ['pqmed']
  }
  const node = (name: string, role: 'manager' | 'user', limits: Topology['resources']['manager']): ComposeService => {
    const args = [
      'node', '--role', role, '--genesis', '/network/genesis.json', '--data-dir', '/data',
      '--identity', `/network/identities/${name}.json`,
      ...(role === 'manager' ? ['--allow-peers-file', ALLOW_FILE] : []),
      '--listen', `/ip4/0.0.0.0/tcp/${CONTAINER_P2P_PORT}`, '--rpc-host', '0.0.0.0', '--rpc-port', String(CONTAINER_RPC_PORT),
      ...OPS_ARGS
    ]
    volumes[`${name}-data`] = {}
    volumes[`${name}-network`] = {}
    const s: ComposeService = {
      image,
      pull_policy: 'never',
      command: args,
      // its own volume only (genesis, its identity, a manager's allow file), never the shared `network`
      volumes: [`${name}-network:/network:ro`, `${name}-data:/data`],
      networks: ['pqmed'],
      depends_on: { init: { condition: 'service_completed_successfully' } },
      healthcheck: NODE_HEALTHCHECK,
      restart: 'unless-stopped',
      stop_grace_period: '20s',
      deploy: { resources: { limits: { cpus: limits.cpus, memory: limits.memory } } }
    }
    const delay = nodeLatency(t, name)
    if (delay > 0) {
      s.entrypoint = ['/app/docker/netem-entrypoint.sh']
      s.user = 'root'
      s.cap_add = ['NET_ADMIN']
      s.environment = { PQMED_NETEM_DELAY_MS: String(delay) }
    }
    return s
  }
  for (let i = 0; i < t.managers; i++) services[`manager-${i}`] = node(`manager-${i}`, 'manager', t.resources.manager)
  const managerNames = names.filter((n) => n.startsWith('manager-'))
  for (let j = 0; j < t.users; j++) {
    const s = node(`user-${j}`, 'user', t.resources.user)
    s.ports = [`127.0.0.1:${rpcBase + j}:${CONTAINER_RPC_PORT}`]
    // a user node syncs from the managers: start it once they serve (their /healthz answers)
    s.depends_on = { ...s.depends_on, ...Object.fromEntries(managerNames.map((m) => [m, { condition: 'service_healthy' as const }])) }
    services[`user-${j}`] = s
  }
  const project = t.chainId.replace(/[^a-z0-9_-]/g, '-')
  const doc: ComposeFile = { name: project.startsWith('pqmed') ? project : `pqmed-${project}`, services, networks: { pqmed: { driver: 'bridge' } }, volumes }
  if (opts.monitoring === true) addMonitoring(doc, names, opts.dockerDir ?? '.')
  return doc
}

/**
 * `--monitoring`: Prometheus scraping every node's :9100/metrics (published on 127.0.0.1:9090) and
 * Grafana (127.0.0.1:3000, anonymous read-only access) with a provisioned datasource and the
 * dashboard kept in docker/grafana/. Configs are Compose `configs` (generated ones inline, the
 * dashboard from its file), so nothing else has to be generated.
 */
function addMonitoring (doc: ComposeFile, names: string[], dockerDir: string): void {
  const target = (n: string): string => `${n}:${CONTAINER_OPS_PORT}`
  const prom = prometheusConfig({ managers: names.filter((n) => n.startsWith('manager-')).map(target), users: names.filter((n) => n.startsWith('user-')).map(target) })
  const datasource = { apiVersion: 1, datasources: [{ name: 'Prometheus', type: 'prometheus', uid: GRAFANA_DATASOURCE_UID, access: 'proxy', url: 'http://prometheus:9090', isDefault: true, editable: false }] }
  const dashboards = { apiVersion: 1, providers: [{ name: 'pqmed', folder: 'pqmed', type: 'file', disableDeletion: true, allowUiUpdates: false, options: { path: '/etc/grafana/dashboards' } }] }
  doc.configs = {
    'prometheus-config': { content: stringify(prom, { lineWidth: 0 }) },
    'grafana-datasource': { content: stringify(datasource, { lineWidth: 0 }) },
    'grafana-dashboards': { content: stringify(dashboards, { lineWidth: 0 }) },
    'grafana-dashboard-pqmed': { file: `${dockerDir}/grafana/pqmed-dashboard.json` }
  }
  doc.volumes['prometheus-data'] = {}
  doc.volumes['grafana-data'] = {}
  doc.services.prometheus = {
    image: PROMETHEUS_IMAGE,
    command: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=7d'],
    configs: [{ source: 'prometheus-config', target: '/etc/prometheus/prometheus.yml' }],
    volumes: ['prometheus-data:/prometheus'],
    networks: ['pqmed'],
    ports: ['127.0.0.1:9090:9090'],
    // the image is busybox-based: wget, no curl
    healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:9090/-/ready'], interval: '10s', timeout: '5s', retries: 3, start_period: '10s' },
    restart: 'unless-stopped'
  }
  doc.services.grafana = {
    image: GRAFANA_IMAGE,
    // the image's entrypoint (/run.sh) takes no arguments here, and the image has no CMD
    command: [],
    environment: { GF_AUTH_ANONYMOUS_ENABLED: 'true', GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer', GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/etc/grafana/dashboards/pqmed.json' },
    configs: [
      { source: 'grafana-datasource', target: '/etc/grafana/provisioning/datasources/pqmed.yml' },
      { source: 'grafana-dashboards', target: '/etc/grafana/provisioning/dashboards/pqmed.yml' },
      { source: 'grafana-dashboard-pqmed', target: '/etc/grafana/dashboards/pqmed.json' }
    ],
    volumes: ['grafana-data:/var/lib/grafana'],
    networks: ['pqmed'],
    ports: ['127.0.0.1:3000:3000'],
    depends_on: { prometheus: { condition: 'service_healthy' } },
    restart: 'unless-stopped'
  }
}

export function composeYaml (doc: ComposeFile, t: Topology): string {
  const header = [
    `# Generated by \`npm run sim:compose\` for ${t.managers} managers, ${t.users} user nodes, ${t.doctors} doctors,`,
    ...(doc.services.prometheus !== undefined ? ['# with Prometheus (http://127.0.0.1:9090/) and Grafana (http://127.0.0.1:3000/, dashboard "pqmed"),'] : []),
    `# latency ${t.latencyMs} ms${Object.keys(t.nodes).length > 0 ? ' (with per-node overrides)' : ''}. Regenerate rather than edit. See docker/README.md.`,
    '#   docker build -t pqmed:local -f docker/Dockerfile .',
    '#   docker compose -f docker/compose.generated.yml up -d',
    ''
  ].join('\n')
  return header + stringify(doc, { lineWidth: 0 })
}

export async function main (argv: string[]): Promise<string> {
  const values = parseEntryArgs(simComposeCommand(), argv) as { topology?: string, managers?: string, users?: string, doctors?: string, latency?: string, 'chain-id'?: string, out?: string, image?: string, monitoring?: boolean }
  const t = await topologyFromArgs(values)
  const out = resolve(values.out ?? 'docker/compose.generated.yml')
  await mkdir(dirname(out), { recursive: true })
  // the dashboard file is referenced relative to the compose file
  const dockerDir = relative(dirname(out), fileURLToPath(new URL('../../docker', import.meta.url))) || '.'
  await writeFile(out, composeYaml(composeFor(t, { image: values.image, monitoring: values.monitoring === true, dockerDir }), t))
  return out
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).then((out) => { console.log(`wrote ${out}`) }, (err: Error) => {
    console.error(`sim:compose: ${err.message}`)
    process.exit(err.name === 'TopologyError' || err.name === 'UsageError' ? 2 : 1)
  })
}
