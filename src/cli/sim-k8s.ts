/**
 * `npm run sim:k8s -- --managers 4 --users 200 [--topology FILE] [--monitoring]`: writes Kubernetes
 * manifests (default `docker/k8s/pqmed.generated.yaml`) for a topology, from the same topology
 * files as `sim:compose`, for simulations larger than one machine.
 *
 * The genesis is made here (as `pqmed genesis` does), with every manager at its stable StatefulSet
 * DNS name `/dns4/pqmed-manager-<i>.pqmed-manager.<ns>.svc.cluster.local/tcp/4001`, and written
 * with the identities and the consortium key to a network dir (default `docker/k8s/net/`: the
 * doctors' files, for clients and `bench:table4 --attach`). The manifests hold:
 *
 * - a Namespace; the genesis in a ConfigMap;
 * - the identities in Secrets (managers in one, user nodes in Secrets of at most 300), which only an
 *   init container mounts: it copies the pod's own identity (by StatefulSet ordinal) into an
 *   in-memory volume, the only one the node container sees;
 * - managers: a headless Service (`publishNotReadyAddresses`, so managers find each other before
 *   they are ready, which needs the others) and a StatefulSet (`podManagementPolicy: Parallel`,
 *   for the same reason), user nodes: the same; each pod with a volume of its own
 *   (volumeClaimTemplates), resource requests and limits (the topology's limits), a readiness
 *   probe on `/readyz` and a liveness probe on `/healthz` (port 9100: `--ops-port 9100 --ops-host 0.0.0.0`),
 *   running as uid 1000 without privileges;
 * - a PodDisruptionBudget that lets at most f = ⌊(n-1)/3⌋ managers be down for voluntary disruptions;
 * - with `--monitoring`: a Prometheus Deployment, Service and ConfigMap scraping every node's
 *   :9100/metrics by its stable DNS name (pods are also annotated `prometheus.io/scrape`).
 *
 * No latency here (netem needs NET_ADMIN): a topology with one is refused.
 *
 * @example
 * ```ts
 * const objs = k8sObjects(topologyFromFlags({ managers: 4, users: 200 }), files, { namespace: 'pqmed' })
 * await writeFile('docker/k8s/pqmed.generated.yaml', k8sYaml(objs, t))
 * ```
 */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { stringify } from 'yaml'
import { loadPqBackend } from '../crypto/index.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../node/devnet.js'
import { faultTolerance, genesisToJson } from '../node/genesis.js'
import { simK8sCommand } from './commands.js'
import { writeConsortiumKey } from './consortium-key-cmd.js'
import { CONTAINER_OPS_PORT, CONTAINER_P2P_PORT, CONTAINER_RPC_PORT, DEFAULT_IMAGE, OPS_ARGS, PROMETHEUS_IMAGE, prometheusConfig } from './sim-compose.js'
import { topologyFromArgs, TopologyError, type ResourceLimits, type Topology } from './topology.js'
import { parseEntryArgs, UsageError } from './usage.js'
// types only (erased at run time; kubernetes-models is a devDependency): object literals are checked field by field
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { ISecret } from 'kubernetes-models/v1/Secret'
import type { IService } from 'kubernetes-models/v1/Service'

/**
 * A Kubernetes object as plain data, typed by kubernetes-models (so a misspelt field fails the
 * typecheck) and validated against the Kubernetes schemas in test/cli/k8s.test.ts.
 */
export type K8sObject = (INamespace | IConfigMap | ISecret | IService | IStatefulSet | IDeployment | IPodDisruptionBudget) & { metadata: { name: string } }

export interface K8sOptions {
  namespace?: string
  image?: string
  monitoring?: boolean
  /** Size of each manager's data volume (default 2Gi). */
  managerStorage?: string
  /** Size of each user node's data volume (default 256Mi). */
  userStorage?: string
}

export const DEFAULT_NAMESPACE = 'pqmed'
/** User-node identities per Secret (a Secret holds at most 1 MiB; an identity is ~2.4 KB in base64). */
const IDENTITIES_PER_SECRET = 300
const APP = 'pqmed'

/** The DNS name of manager `i` in namespace `ns` (a StatefulSet pod under its headless Service). */
export function managerDns (i: number, ns: string): string {
  return `pqmed-manager-${i}.pqmed-manager.${ns}.svc.cluster.local`
}

/** Kubernetes quantities from the topology's Compose-style limits: cpus "0.5" → "500m", memory "256M" → "256M". */
function quantities (l: ResourceLimits): { limits: { cpu: string, memory: string }, requests: { cpu: string, memory: string } } {
  const milli = Math.max(1, Math.round(Number(l.cpus) * 1000))
  const memory = /^\d+$/.test(l.memory) ? l.memory : l.memory.toUpperCase().replace(/B$/, '')
  // a quarter of the CPU limit is reserved (simulated nodes are idle most of the time); memory is reserved whole (no OOM eviction)
  return { limits: { cpu: `${milli}m`, memory }, requests: { cpu: `${Math.max(1, Math.round(milli / 4))}m`, memory } }
}

const labels = (component: string): Record<string, string> => ({ 'app.kubernetes.io/name': APP, 'app.kubernetes.io/component': component })

/** Secrets of identities, by name → { file name → JSON }. */
function identitySecrets (ns: string, files: DevnetFiles): Array<ISecret & { metadata: { name: string } }> {
  const secret = (name: string, component: string, ids: DevnetFiles['managers']): ISecret & { metadata: { name: string } } => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns, labels: labels(component) },
    type: 'Opaque',
    stringData: Object.fromEntries(ids.map((f) => [`${f.name}.json`, JSON.stringify(f)]))
  })
  const users = files.users ?? []
  const out = [secret('pqmed-manager-identities', 'manager', files.managers)]
  for (let k = 0; k * IDENTITIES_PER_SECRET < users.length; k++) out.push(secret(`pqmed-user-identities-${k}`, 'user', users.slice(k * IDENTITIES_PER_SECRET, (k + 1) * IDENTITIES_PER_SECRET)))
  return out
}

/** The StatefulSet and headless Service of one role. */
function nodeSet (t: Topology, role: 'manager' | 'user', replicas: number, secrets: string[], o: Required<K8sOptions>): K8sObject[] {
  const name = `pqmed-${role}`
  const ns = o.namespace
  const args = [
    'node', '--role', role, '--genesis', '/etc/pqmed/genesis.json', '--data-dir', '/data', '--identity', '/identity/identity.json',
    '--listen', `/ip4/0.0.0.0/tcp/${CONTAINER_P2P_PORT}`, '--rpc-host', '0.0.0.0', '--rpc-port', String(CONTAINER_RPC_PORT), ...OPS_ARGS
  ]
  const service: IService & { metadata: { name: string } } = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: labels(role) },
    spec: {
      clusterIP: 'None',
      // managers dial each other before any is ready (ready needs 2f connected managers)
      publishNotReadyAddresses: true,
      selector: labels(role),
      ports: [
        { name: 'p2p', port: CONTAINER_P2P_PORT, targetPort: 'p2p' },
        { name: 'rpc', port: CONTAINER_RPC_PORT, targetPort: 'rpc' },
        { name: 'ops', port: CONTAINER_OPS_PORT, targetPort: 'ops' }
      ]
    }
  }
  const statefulSet: IStatefulSet & { metadata: { name: string } } = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: ns, labels: labels(role) },
    spec: {
      serviceName: name,
      replicas,
      // all at once: a manager becomes ready only once 2f others run (OrderedReady would wait forever on pod 0)
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels(role) },
      template: {
        metadata: {
          labels: labels(role),
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(CONTAINER_OPS_PORT), 'prometheus.io/path': '/metrics' }
        },
        spec: {
          terminationGracePeriodSeconds: 20,
          enableServiceLinks: false,
          automountServiceAccountToken: false,
          securityContext: { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, fsGroup: 1000 },
          initContainers: [{
            name: 'own-identity',
            image: o.image,
            imagePullPolicy: 'IfNotPresent',
            // the pod's ordinal is the suffix of its name (pqmed-<role>-<i>); only that identity is copied
            command: ['/bin/sh', '-c', `i="\${HOSTNAME##*-}"; cp "/identities/${role}-\${i}.json" /identity/identity.json && chmod 0400 /identity/identity.json`],
            volumeMounts: [{ name: 'identities', mountPath: '/identities', readOnly: true }, { name: 'identity', mountPath: '/identity' }],
            resources: { limits: { cpu: '100m', memory: '64Mi' }, requests: { cpu: '10m', memory: '16Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }
          }],
          containers: [{
            name: 'pqmed',
            image: o.image,
            imagePullPolicy: 'IfNotPresent',
            args,
            ports: [
              { name: 'p2p', containerPort: CONTAINER_P2P_PORT, protocol: 'TCP' },
              { name: 'rpc', containerPort: CONTAINER_RPC_PORT, protocol: 'TCP' },
              { name: 'ops', containerPort: CONTAINER_OPS_PORT, protocol: 'TCP' }
            ],
            resources: quantities(role === 'manager' ? t.resources.manager : t.resources.user),
            readinessProbe: { httpGet: { path: '/readyz', port: 'ops' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
            livenessProbe: { httpGet: { path: '/healthz', port: 'ops' }, initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
            volumeMounts: [
              { name: 'data', mountPath: '/data' },
              { name: 'genesis', mountPath: '/etc/pqmed', readOnly: true },
              { name: 'identity', mountPath: '/identity', readOnly: true }
            ],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }
          }],
          volumes: [
            { name: 'genesis', configMap: { name: 'pqmed-genesis' } },
            { name: 'identities', projected: { sources: secrets.map((s) => ({ secret: { name: s } })) } },
            { name: 'identity', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }
          ]
        }
      },
      volumeClaimTemplates: [{
        metadata: { name: 'data', labels: labels(role) },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: role === 'manager' ? o.managerStorage : o.userStorage } } }
      }]
    }
  }
  return [service, statefulSet]
}

function monitoring (t: Topology, ns: string): K8sObject[] {
  const target = (role: string, n: number): string[] => Array.from({ length: n }, (_, i) => `pqmed-${role}-${i}.pqmed-${role}.${ns}.svc.cluster.local:${CONTAINER_OPS_PORT}`)
  const config = prometheusConfig({ managers: target('manager', t.managers), users: target('user', t.users) }, '15s')
  const l = labels('prometheus')
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pqmed-prometheus', namespace: ns, labels: l }, data: { 'prometheus.yml': stringify(config, { lineWidth: 0 }) } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'pqmed-prometheus', namespace: ns, labels: l },
      spec: {
        replicas: 1,
        selector: { matchLabels: l },
        template: {
          metadata: { labels: l },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsUser: 65534, runAsNonRoot: true, fsGroup: 65534 },
            containers: [{
              name: 'prometheus',
              image: PROMETHEUS_IMAGE,
              args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=7d'],
              ports: [{ name: 'http', containerPort: 9090 }],
              readinessProbe: { httpGet: { path: '/-/ready', port: 'http' }, periodSeconds: 10 },
              livenessProbe: { httpGet: { path: '/-/healthy', port: 'http' }, periodSeconds: 30 },
              resources: { limits: { cpu: '1000m', memory: '1Gi' }, requests: { cpu: '250m', memory: '512Mi' } },
              volumeMounts: [{ name: 'config', mountPath: '/etc/prometheus', readOnly: true }, { name: 'tsdb', mountPath: '/prometheus' }]
            }],
            volumes: [{ name: 'config', configMap: { name: 'pqmed-prometheus' } }, { name: 'tsdb', emptyDir: { sizeLimit: '4Gi' } }]
          }
        }
      }
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'pqmed-prometheus', namespace: ns, labels: l }, spec: { selector: l, ports: [{ name: 'http', port: 9090, targetPort: 'http' }] } }
  ]
}

/** Every object for topology `t` and network `files` (whose genesis names the managers by `managerDns`). */
export function k8sObjects (t: Topology, files: DevnetFiles, opts: K8sOptions = {}): K8sObject[] {
  if (t.latencyMs > 0 || Object.values(t.nodes).some((n) => (n.latencyMs ?? 0) > 0)) {
    throw new TopologyError('TOPOLOGY_INVALID', 'sim:k8s does not simulate latency (tc netem needs NET_ADMIN in every pod): use a topology with latencyMs 0')
  }
  const o: Required<K8sOptions> = { namespace: DEFAULT_NAMESPACE, image: DEFAULT_IMAGE, monitoring: false, managerStorage: '2Gi', userStorage: '256Mi', ...opts }
  const ns = o.namespace
  const secrets = identitySecrets(ns, files)
  const userSecrets = secrets.slice(1).map((s) => s.metadata.name)
  const objs: K8sObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'app.kubernetes.io/name': APP } } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pqmed-genesis', namespace: ns, labels: labels('genesis') }, data: { 'genesis.json': genesisToJson(files.genesis) } },
    ...secrets,
    ...nodeSet(t, 'manager', t.managers, ['pqmed-manager-identities'], o),
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'pqmed-manager', namespace: ns, labels: labels('manager') },
      // PBFT tolerates f faulty managers: drains and upgrades may take down at most f at a time
      spec: { maxUnavailable: faultTolerance(t.managers), selector: { matchLabels: labels('manager') } }
    },
    ...(t.users > 0 ? nodeSet(t, 'user', t.users, userSecrets, o) : []),
    ...(o.monitoring ? monitoring(t, ns) : [])
  ]
  return objs
}

/** The network for topology `t` in namespace `ns`: managers at their StatefulSet DNS names, user-node identities listed in genesis. */
export async function k8sNetwork (t: Topology, ns: string): Promise<DevnetFiles> {
  return await createDevnet({ chainId: t.chainId, managers: t.managers, doctors: t.doctors, users: t.users, managerAddr: (i) => `/dns4/${managerDns(i, ns)}/tcp/${CONTAINER_P2P_PORT}`, params: t.consensus })
}

export function k8sYaml (objs: K8sObject[], t: Topology, netDir: string): string {
  const header = [
    `# Generated by \`npm run sim:k8s\` for ${t.managers} managers, ${t.users} user nodes, ${t.doctors} doctors (network files: ${netDir}).`,
    '# It holds the nodes\' identities (simulated PUF seeds) in Secrets: keep it private. Regenerate rather than edit. See docker/README.md.',
    '#   kubectl apply -f docker/k8s/pqmed.generated.yaml',
    ''
  ].join('\n')
  return header + objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n')
}

const NS_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

export async function main (argv: string[]): Promise<{ out: string, netDir: string }> {
  const values = parseEntryArgs(simK8sCommand(), argv) as {
    topology?: string, managers?: string, users?: string, doctors?: string, latency?: string, 'chain-id'?: string,
    out?: string, 'net-dir'?: string, image?: string, namespace?: string, monitoring?: boolean
  }
  const t = await topologyFromArgs(values)
  const namespace = values.namespace ?? DEFAULT_NAMESPACE
  if (!NS_RE.test(namespace) || namespace.length > 63) throw new UsageError('--namespace must be a DNS label (a-z, 0-9, "-", at most 63 characters)')
  const out = resolve(values.out ?? 'docker/k8s/pqmed.generated.yaml')
  const netDir = resolve(values['net-dir'] ?? join(dirname(out), 'net'))
  if (existsSync(join(netDir, 'genesis.json'))) throw new UsageError(`${netDir} already holds a network (genesis.json): remove it or give --net-dir DIR (a new genesis is made every time)`)
  const files = await k8sNetwork(t, namespace)
  const objs = k8sObjects(t, files, { namespace, image: values.image, monitoring: values.monitoring === true })
  await writeDevnet(netDir, files)
  if (t.doctors > 0) await writeConsortiumKey(files.genesis, join(netDir, 'consortium-key.json'), await loadPqBackend())
  await mkdir(dirname(out), { recursive: true })
  // the file holds every node's identity: readable by its owner only
  await writeFile(out, k8sYaml(objs, t, netDir), { mode: 0o600 })
  return { out, netDir }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).then(({ out, netDir }) => { console.log(`wrote ${out} (network files in ${netDir})`) }, (err: Error) => {
    console.error(`sim:k8s: ${err.message}`)
    process.exit(err.name === 'TopologyError' || err.name === 'UsageError' ? 2 : 1)
  })
}
