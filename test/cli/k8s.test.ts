/**
 * `npm run sim:k8s` (issue 15, item 6). No Kubernetes cluster runs on the build machines, so this
 * checks what can be checked without one: every generated object against the Kubernetes schemas
 * (kubernetes-models), and what the objects must agree on for the network to come up (DNS names in
 * genesis, ports, probes, volumes, identities, the disruption budget).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parse, parseAllDocuments } from 'yaml'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret'
import { Service, type IService } from 'kubernetes-models/v1/Service'
import { k8sObjects, main, managerDns, type K8sObject } from '../../src/cli/sim-k8s.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import type { DevnetFiles } from '../../src/node/devnet.js'
import { parseGenesis } from '../../src/node/genesis.js'
import { loadIdentity } from '../../src/node/identity.js'

type Validatable = { validate: () => void }
const MODELS: Record<string, new (data: never) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget
}

/** Schema errors of one object ('' when valid); an object of a kind not listed is an error too. */
function schemaErrors (o: { apiVersion?: unknown, kind?: unknown }): string {
  const M = MODELS[`${String(o.apiVersion)}/${String(o.kind)}`]
  if (M === undefined) return `no schema for ${String(o.apiVersion)} ${String(o.kind)}`
  try { new M(o as never).validate(); return '' } catch (err) { return (err as Error).message }
}

describe('cli: sim:k8s (Kubernetes manifests, validated against the Kubernetes schemas)', function () {
  this.timeout(300_000)
  let dir: string
  let objs: K8sObject[]
  let out: string
  const find = <T>(kind: string, name: string): T => {
    const o = objs.find((x) => x.kind === kind && x.metadata.name === name)
    assert.ok(o !== undefined, `${kind} ${name}`)
    return o as unknown as T
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqmed-k8s-'))
    out = join(dir, 'k8s', 'pqmed.generated.yaml')
    await main(['--managers', '4', '--users', '200', '--doctors', '2', '--monitoring', '--out', out])
    objs = parseAllDocuments(await readFile(out, 'utf8')).map((d) => d.toJSON() as K8sObject)
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('every generated object is valid against the Kubernetes schemas', () => {
    assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`), [
      'Namespace/pqmed', 'ConfigMap/pqmed-genesis', 'Secret/pqmed-manager-identities', 'Secret/pqmed-user-identities-0',
      'Service/pqmed-manager', 'StatefulSet/pqmed-manager', 'PodDisruptionBudget/pqmed-manager', 'Service/pqmed-user', 'StatefulSet/pqmed-user',
      'ConfigMap/pqmed-prometheus', 'Deployment/pqmed-prometheus', 'Service/pqmed-prometheus'
    ])
    for (const o of objs) {
      assert.equal(schemaErrors(o), '', `${o.kind} ${o.metadata.name}`)
      if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'pqmed', `${o.kind} ${o.metadata.name} in the namespace`)
    }
  })

  it('the schema check can fail (a wrong type or value is rejected)', () => {
    const sts = structuredClone(find<IStatefulSet>('StatefulSet', 'pqmed-manager'))
    ;(sts.spec as unknown as { replicas: string }).replicas = 'four'
    assert.notEqual(schemaErrors(sts), '')
    const svc = structuredClone(find<IService>('Service', 'pqmed-manager'))
    ;(svc.spec?.ports?.[0] as unknown as { port: string }).port = 'p2p'
    assert.notEqual(schemaErrors(svc), '')
    assert.notEqual(schemaErrors({ apiVersion: 'v1', kind: 'Pod' }), '')
  })

  it('managers: a headless Service and a StatefulSet whose stable DNS names are the genesis addresses; probes, ports, volumes, limits', async () => {
    const svc = find<IService>('Service', 'pqmed-manager')
    assert.equal(svc.spec?.clusterIP, 'None')
    assert.equal(svc.spec?.publishNotReadyAddresses, true, 'managers resolve each other before they are ready')
    const sts = find<IStatefulSet>('StatefulSet', 'pqmed-manager')
    const spec = sts.spec
    assert.ok(spec !== undefined)
    assert.equal(spec.serviceName, 'pqmed-manager')
    assert.equal(spec.replicas, 4)
    assert.equal(spec.podManagementPolicy, 'Parallel')
    assert.deepEqual(svc.spec?.selector, spec.selector.matchLabels)
    assert.deepEqual(spec.template.metadata?.labels, spec.selector.matchLabels)
    // pod i of StatefulSet S under headless Service H in namespace N is S-i.H.N.svc.cluster.local
    const genesisCm = find<IConfigMap>('ConfigMap', 'pqmed-genesis')
    const genesis = parseGenesis(genesisCm.data?.['genesis.json'] ?? '')
    assert.deepEqual(genesis.managers.map((m) => m.addrs), [0, 1, 2, 3].map((i) => [`/dns4/${sts.metadata?.name ?? ''}-${i}.${spec.serviceName}.${sts.metadata?.namespace ?? ''}.svc.cluster.local/tcp/4001`]))
    assert.equal(managerDns(2, 'pqmed'), 'pqmed-manager-2.pqmed-manager.pqmed.svc.cluster.local')
    // the same genesis as the network files written for clients
    assert.equal(await readFile(join(dir, 'k8s', 'net', 'genesis.json'), 'utf8'), genesisCm.data?.['genesis.json'])
    const pod = spec.template.spec
    const c = pod?.containers[0]
    assert.ok(c !== undefined && pod !== undefined)
    const args = c.args ?? []
    assert.deepEqual(args.slice(0, 3), ['node', '--role', 'manager'])
    assert.equal(args[args.indexOf('--ops-port') + 1], '9100')
    assert.equal(args[args.indexOf('--ops-host') + 1], '0.0.0.0')
    assert.equal(args[args.indexOf('--listen') + 1], '/ip4/0.0.0.0/tcp/4001')
    assert.equal(args[args.indexOf('--genesis') + 1], '/etc/pqmed/genesis.json')
    const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]))
    assert.deepEqual(ports, { p2p: 4001, rpc: 8645, ops: 9100 })
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'ops' })
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'ops' })
    assert.deepEqual(c.resources, { limits: { cpu: '1000m', memory: '512M' }, requests: { cpu: '250m', memory: '512M' } })
    assert.deepEqual(spec.volumeClaimTemplates?.map((v) => [v.metadata?.name, v.spec?.resources?.requests?.storage]), [['data', '2Gi']])
    assert.ok(c.volumeMounts?.some((m) => m.name === 'data' && m.mountPath === args[args.indexOf('--data-dir') + 1]))
    assert.equal(pod.securityContext?.runAsNonRoot, true)
    assert.equal(spec.template.metadata?.annotations?.['prometheus.io/port'], '9100')
  })

  it('a PodDisruptionBudget keeps at most f managers down', () => {
    const pdb = find<IPodDisruptionBudget>('PodDisruptionBudget', 'pqmed-manager')
    assert.equal(pdb.spec?.maxUnavailable, 1)
    assert.deepEqual(pdb.spec?.selector?.matchLabels, find<IStatefulSet>('StatefulSet', 'pqmed-manager').spec?.selector.matchLabels)
    const files = { genesis: { chainId: 'x', time: 0, managers: [], doctors: [], params: { blockInterval: 100, maxBlockRecords: 1, viewChangeTimeout: 1000, heartbeatInterval: 100 } }, managers: [], doctors: [], users: [] } as unknown as DevnetFiles
    for (const [n, f] of [[1, 0], [3, 0], [4, 1], [7, 2], [10, 3]] as const) {
      const o = k8sObjects(topologyFromFlags({ managers: n, users: 0 }), files).find((x) => x.kind === 'PodDisruptionBudget') as IPodDisruptionBudget
      assert.equal(o.spec?.maxUnavailable, f, `${n} managers`)
    }
  })

  it('identities: each pod\'s node container sees only its own (copied by an init container from the Secrets), listed in genesis', async () => {
    const genesis = parseGenesis(find<IConfigMap>('ConfigMap', 'pqmed-genesis').data?.['genesis.json'] ?? '')
    const users = find<ISecret>('Secret', 'pqmed-user-identities-0')
    assert.equal(Object.keys(users.stringData ?? {}).length, 200)
    for (const s of objs.filter((o) => o.kind === 'Secret') as ISecret[]) assert.ok(Buffer.byteLength(JSON.stringify(s.stringData)) < 900 * 1024, `${s.metadata?.name ?? ''} under the 1 MiB Secret limit`)
    // user identities are those whose peer ids genesis lists (the permissioned managers admit them)
    for (const j of [0, 199]) {
      const id = await loadIdentity(JSON.parse(users.stringData?.[`user-${j}.json`] ?? '') as never)
      assert.equal(genesis.userNodes?.[j], id.peerId)
    }
    for (const role of ['manager', 'user']) {
      const pod = find<IStatefulSet>('StatefulSet', `pqmed-${role}`).spec?.template.spec
      assert.ok(pod !== undefined)
      assert.deepEqual(pod.containers[0]?.volumeMounts?.map((m) => m.name).sort(), ['data', 'genesis', 'identity'], `${role}: the node container does not mount the Secrets`)
      const init = pod.initContainers?.[0]
      assert.ok(init !== undefined)
      assert.ok(init.volumeMounts?.some((m) => m.name === 'identities'))
      // run the init container's script here: pod <role>-2 gets identity <role>-2 and nothing else
      const all = join(dir, `ids-${role}`)
      const own = join(dir, `own-${role}`)
      await mkdir(all, { recursive: true })
      await mkdir(own, { recursive: true })
      const secret = find<ISecret>('Secret', role === 'manager' ? 'pqmed-manager-identities' : 'pqmed-user-identities-0')
      for (const [f, v] of Object.entries(secret.stringData ?? {})) await writeFile(join(all, f), v)
      const script = (init.command?.[2] ?? '').replaceAll('/identities/', `${all}/`).replaceAll('/identity/', `${own}/`)
      await promisify(execFile)('/bin/sh', ['-c', script], { env: { ...process.env, HOSTNAME: `pqmed-${role}-2` } })
      assert.equal(await readFile(join(own, 'identity.json'), 'utf8'), secret.stringData?.[`${role}-2.json`])
      const args = pod.containers[0]?.args ?? []
      assert.equal(args[args.indexOf('--identity') + 1], '/identity/identity.json')
    }
  })

  it('user nodes: a StatefulSet of 200 with probes and their own volumes; --monitoring scrapes every node by DNS name', () => {
    const sts = find<IStatefulSet>('StatefulSet', 'pqmed-user')
    assert.equal(sts.spec?.replicas, 200)
    assert.equal(sts.spec?.serviceName, 'pqmed-user')
    const c = sts.spec?.template.spec?.containers[0]
    assert.deepEqual(c?.readinessProbe?.httpGet, { path: '/readyz', port: 'ops' })
    assert.deepEqual(c?.livenessProbe?.httpGet, { path: '/healthz', port: 'ops' })
    assert.deepEqual(c?.resources, { limits: { cpu: '500m', memory: '256M' }, requests: { cpu: '125m', memory: '256M' } })
    assert.equal(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage, '256Mi')
    const prom = parse(find<IConfigMap>('ConfigMap', 'pqmed-prometheus').data?.['prometheus.yml'] ?? '') as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> }
    const targets = prom.scrape_configs.flatMap((s) => s.static_configs.flatMap((t) => t.targets))
    assert.equal(targets.length, 204)
    assert.ok(targets.includes('pqmed-manager-3.pqmed-manager.pqmed.svc.cluster.local:9100'))
    assert.ok(targets.includes('pqmed-user-199.pqmed-user.pqmed.svc.cluster.local:9100'))
  })

  it('the file is private (it holds the identities); a latency, a used network dir and a bad namespace are refused', async () => {
    assert.equal((await stat(out)).mode & 0o777, 0o600)
    await assert.rejects(main(['--managers', '4', '--users', '1', '--latency', '20', '--out', join(dir, 'lat', 'x.yaml')]), /does not simulate latency/)
    await assert.rejects(main(['--managers', '4', '--users', '1', '--out', out]), /already holds a network/)
    await assert.rejects(main(['--managers', '4', '--users', '1', '--namespace', 'Bad_NS', '--out', join(dir, 'ns', 'x.yaml')]), /--namespace must be a DNS label/)
    await assert.rejects(stat(join(dir, 'lat', 'x.yaml')))
    await assert.rejects(stat(join(dir, 'ns')))
  })
})
