/**
 * `npm run sim:local -- --managers 4 --users N [--latency MS] [--netns] [--topology FILE] [--data-dir DIR]`:
 * a topology as local processes (see network.ts), printing every node's JSON-RPC endpoint and
 * running until Ctrl-C, which stops every node cleanly.
 *
 * Without `--netns` every node shares 127.0.0.1: there is no per-link delay on plain loopback, so a
 * latency is refused there. With `--netns` (root, `ip netns` and veth/bridge support) each node runs
 * in its own network namespace with its own address on a bridge (a 10.2xx.0.0/16 per run), and a latency is
 * applied with `tc qdisc ... netem delay` on the node's interface (needs the kernel's sch_netem).
 *
 * The data dir defaults to a fresh temporary directory, removed on exit; with `--data-dir` it is
 * kept, and a later run with the same dir continues the chain. Once the nodes are up it writes the
 * CLI's config (`--config FILE`, else `$PQMED_CONFIG`, else ./.pqmed.json; node-url.ts): user-0's
 * URL, the consortium key and a client state dir in the data dir, so `pqmed` commands need no
 * `--rpc`; with a temporary data dir the file is removed again on exit.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { existsSync } from 'node:fs'
import { CONSORTIUM_KEY_FILE, startNetwork, stopOnSignal, type Placement, type RunningNetwork, type StartOptions } from './network.js'
import { configWritePath, removeConfigIfOurs, writeConfig, type ConfigToWrite } from './node-url.js'
import { simLocalCommand } from './commands.js'
import { parseEntryArgs } from './usage.js'
import { nodeLatency, nodeNames, topologyFromArgs, type Topology } from './topology.js'

const run = promisify(execFile)

async function sh (cmd: string, args: string[]): Promise<void> {
  try { await run(cmd, args) } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`, { cause: err })
  }
}

export interface NetnsSupport {
  /** Network namespaces, veth pairs and a bridge can be created. */
  ok: boolean
  /** `tc qdisc add ... netem` works (per-node latency). */
  netem: boolean
  /** Why `ok` or `netem` is false. */
  reason?: string
}

/** Probes whether this machine can run nodes in network namespaces (and add netem delay). */
export async function netnsSupport (): Promise<NetnsSupport> {
  if (process.platform !== 'linux') return { ok: false, netem: false, reason: 'network namespaces need Linux' }
  if (process.getuid?.() !== 0) return { ok: false, netem: false, reason: `needs root (uid is ${String(process.getuid?.())}): ip netns add and veth/bridge creation require CAP_NET_ADMIN` }
  const ns = `pqmed-probe-${process.pid}`
  const veth = `pqp${process.pid % 100_000}`
  try {
    await sh('ip', ['netns', 'add', ns])
  } catch (err) {
    return { ok: false, netem: false, reason: `ip netns add failed: ${(err as Error).message}` }
  }
  try {
    await sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}b`])
    await sh('ip', ['link', 'set', `${veth}b`, 'netns', ns])
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    try {
      await sh('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'])
      return { ok: true, netem: true }
    } catch (err) {
      return { ok: true, netem: false, reason: `tc netem is not available (${(err as Error).message}); the kernel module sch_netem is missing or tc is not installed` }
    }
  } catch (err) {
    return { ok: false, netem: false, reason: `veth pairs cannot be created: ${(err as Error).message}` }
  } finally {
    await sh('ip', ['link', 'del', veth]).catch(() => {})
    await sh('ip', ['netns', 'del', ns]).catch(() => {})
  }
}

/** Per-node namespaces on one bridge; `teardown` removes every namespace and the bridge. */
export interface NetnsLab {
  placement: Placement
  addressOf: (name: string) => string
  /**
   * Cuts the network between groups of nodes: in each node's namespace, a blackhole route to the
   * address of every node of another group (packets are dropped, new connections fail). Nodes in
   * no group, and the host (the bridge address), still reach everyone. Replaces any earlier partition.
   */
  partition: (groups: string[][]) => Promise<void>
  /** Removes every partition route. */
  heal: () => Promise<void>
  teardown: () => Promise<void>
}

/** Creates a namespace per node of `t`, each with an address on a new bridge and its netem delay. */
export async function createNetnsLab (t: Topology, support: NetnsSupport): Promise<NetnsLab> {
  const tag = String(process.pid % 100_000)
  const bridge = `pqb${tag}`
  const names = nodeNames(t)
  const nsOf = (name: string): string => `pqmed-${tag}-${name}`
  // a /16 per run (10.200.0.0 … 10.249.0.0, by process id), so concurrent runs rarely share a subnet
  const net16 = `10.${200 + (process.pid % 50)}`
  const addr = (k: number): string => `${net16}.${1 + Math.floor(k / 250)}.${2 + (k % 250)}`
  const index = new Map(names.map((n, k) => [n, k]))
  const addressOf = (name: string): string => {
    const k = index.get(name)
    if (k === undefined) throw new Error(`no node ${name}`)
    return addr(k)
  }
  const created: string[] = []
  const teardown = async (): Promise<void> => {
    for (const ns of created) await sh('ip', ['netns', 'del', ns]).catch(() => {})
    await sh('ip', ['link', 'del', bridge]).catch(() => {})
  }
  try {
    await sh('ip', ['link', 'add', bridge, 'type', 'bridge'])
    await sh('ip', ['addr', 'add', `${net16}.0.1/16`, 'dev', bridge])
    await sh('ip', ['link', 'set', bridge, 'up'])
    for (const [k, name] of names.entries()) {
      const ns = nsOf(name)
      const veth = `pqv${tag}n${k}`
      await sh('ip', ['netns', 'add', ns])
      created.push(ns)
      await sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await sh('ip', ['link', 'set', veth, 'master', bridge])
      await sh('ip', ['link', 'set', veth, 'up'])
      await sh('ip', ['-n', ns, 'addr', 'add', `${addr(k)}/16`, 'dev', 'eth0'])
      await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
      const delay = nodeLatency(t, name)
      if (delay > 0) {
        if (!support.netem) throw new Error(`${name}: latency ${delay} ms asked, but ${support.reason ?? 'netem is not available'}`)
        await sh('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${delay}ms`])
      }
    }
  } catch (err) {
    await teardown()
    throw err
  }
  let routes: Array<[string, string]> = []  // [node, address blackholed in its namespace]
  const heal = async (): Promise<void> => {
    const rs = routes
    routes = []
    for (const [name, a] of rs) await sh('ip', ['-n', nsOf(name), 'route', 'del', 'blackhole', `${a}/32`]).catch(() => {})
  }
  const partition = async (groups: string[][]): Promise<void> => {
    await heal()
    for (const [gi, g] of groups.entries()) {
      for (const name of g) {
        for (const [gj, other] of groups.entries()) {
          if (gi === gj) continue
          for (const o of other) {
            await sh('ip', ['-n', nsOf(name), 'route', 'add', 'blackhole', `${addressOf(o)}/32`])
            routes.push([name, addressOf(o)])
          }
        }
      }
    }
  }
  return { placement: { host: addressOf, wrap: (name) => ['ip', 'netns', 'exec', nsOf(name)] }, addressOf, partition, heal, teardown }
}

export interface SimLocal {
  net: RunningNetwork
  /** The namespaces (with `netns`), for partitions. */
  lab?: NetnsLab
  /** Stops every node, then removes the namespaces and (if temporary) the data dir. */
  stop: () => Promise<Record<string, number | null>>
}

export async function simLocal (t: Topology, opts: { netns?: boolean, dataDir?: string, log?: (l: string) => void, extraArgs?: StartOptions['extraArgs'] }): Promise<SimLocal> {
  const log = opts.log ?? (() => {})
  const hasLatency = nodeNames(t).some((n) => nodeLatency(t, n) > 0)
  let lab: NetnsLab | undefined
  if (opts.netns === true) {
    const support = await netnsSupport()
    if (!support.ok) throw new Error(`--netns is not possible here: ${support.reason ?? ''}`)
    if (hasLatency && !support.netem) throw new Error(`a latency needs tc netem, which is not possible here: ${support.reason ?? ''}`)
    lab = await createNetnsLab(t, support)
    log(`one network namespace per node, on a bridge${hasLatency ? ', netem delay applied' : ''}`)
  } else if (hasLatency) {
    throw new Error('a latency is not possible on plain loopback (all nodes share 127.0.0.1 and one interface, so there is no per-node link to delay); use --netns (root with ip netns and tc netem) or sim:compose')
  }
  const temp = opts.dataDir === undefined
  const dir = opts.dataDir ?? await mkdtemp(join(tmpdir(), 'pqmed-sim-'))
  let net: RunningNetwork
  try {
    net = await startNetwork(t, dir, { log, placement: lab?.placement, extraArgs: opts.extraArgs })
  } catch (err) {
    await lab?.teardown()
    if (temp) await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    net,
    lab,
    stop: async () => {
      const codes = await net.stop()
      await lab?.teardown()
      if (temp) await rm(dir, { recursive: true, force: true })
      return codes
    }
  }
}

export async function main (argv: string[]): Promise<void> {
  const values = parseEntryArgs(simLocalCommand(), argv) as { topology?: string, managers?: string, users?: string, doctors?: string, latency?: string, 'chain-id'?: string, netns?: boolean, 'data-dir'?: string, config?: string }
  const t = await topologyFromArgs(values)
  console.error(`starting ${t.managers} managers and ${t.users} user nodes${values.netns === true ? ' (one network namespace each)' : ' on 127.0.0.1'} ...`)
  const configPath = configWritePath({ flag: values.config, env: process.env, cwd: process.cwd() })
  const sim = await simLocal(t, { netns: values.netns, dataDir: values['data-dir'] === undefined ? undefined : resolve(values['data-dir']), log: (l) => { console.error(`  ${l}`) } })
  const { net } = sim
  const ck = join(net.dir, CONSORTIUM_KEY_FILE)
  const config: ConfigToWrite = { rpc: net.users[0]?.rpc ?? net.managers[0]?.rpc ?? '', ...(existsSync(ck) ? { consortiumKey: ck } : {}), state: join(net.dir, 'client-state'), genesis: join(net.dir, 'genesis.json'), writtenBy: `npm run sim:local (${net.dir})` }
  await writeConfig(configPath, config)
  stopOnSignal(async () => {
    const codes = await sim.stop()
    // a temporary data dir is gone: a config pointing into it would only mislead
    if (values['data-dir'] === undefined) await removeConfigIfOurs(configPath, config)
    return codes
  })
  console.log([
    '',
    `pqmed network "${net.genesis.chainId}" up in ${(net.startMs / 1000).toFixed(1)} s (data in ${net.dir}${values['data-dir'] === undefined ? ', removed on exit' : ''})`,
    'JSON-RPC endpoints:',
    ...net.nodes.map((n) => `  ${n.name.padEnd(12)} ${n.rpc}`),
    '',
    ...(net.portNotes.length > 0 ? ['NOTE: ports that were taken:', ...net.portNotes.map((n) => `  ${n}`)] : []),
    `e.g. curl -s -X POST -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"chain_status"}' ${net.users[0]?.rpc ?? net.managers[0]?.rpc ?? ''}`,
    `The pqmed CLI finds ${config.rpc} and the consortium key through ${configPath}${values['data-dir'] === undefined ? ' (removed on exit)' : ''}: e.g. node bin/pqmed.js enroll --name Ana --out ana.json`,
    'Ctrl-C stops every node.',
    ''
  ].join('\n'))
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`sim:local: ${err.message}`)
    process.exit(err.name === 'TopologyError' || err.name === 'UsageError' ? 2 : 1)
  })
}
