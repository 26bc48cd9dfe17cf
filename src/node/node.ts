/**
 * Composition root: builds a manager or user node from a config — libp2p host, stores, role — and
 * keeps connections to every genesis manager (re-dialing lost ones). This is the only place that
 * wires libp2p, LevelDB and the roles together.
 *
 * @example
 * ```ts
 * const node = await startNode({ role: 'manager', genesis, dataDir: './data/m0', identity, listen: ['/ip4/127.0.0.1/tcp/4001'] })
 * // ...
 * await node.stop()
 * ```
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { equalBytes, fromHex, loadPqBackend, type PqBackendName } from '../crypto/index.js'
import { startAdminServer } from './backup.js'
import { BlobStore } from './blob-store.js'
import { ChainStore } from './chain-store.js'
import { genesisHeaderOf, type Genesis } from './genesis.js'
import { loadIdentity, writeFileAtomic, type IdentityFile } from './identity.js'
import { Kv, MemKv, type KvStore } from './kv.js'
import { createHost, MANAGER_MAX_CONNECTIONS, type PqmedHost } from './libp2p.js'
import { LightNode } from './light.js'
import { faultHooks, type Byzantine } from './faults.js'
import { quietLog, type Logger } from './log.js'
import { ManagerNode } from './manager.js'
import { startHeliaBitswap, type HeliaServer } from './helia.js'
import { observeTopicValidators } from './ops/gossip.js'
import { noopMetrics, type NodeMetrics } from './ops/node-metrics.js'
import { chainPeerSource, filePeerSource, genesisPeerSource, PeerAllowList, staticPeerSource, type ChainPeerSource, type PeerListSource } from './peer-allow.js'
import { MAX_BLOCK_BYTES } from '../blocks/index.js'

export interface NodeConfig {
  role: 'manager' | 'user'
  genesis: Genesis
  dataDir: string
  /**
   * Required for managers: the identity whose ML-DSA key is listed in genesis. Optional for a user
   * node: a `user` identity (`pqmed genesis --users N`) whose peer id can be listed in advance;
   * without it the user node keeps a random key in `<dataDir>/peer-key`.
   */
  identity?: IdentityFile
  listen: string[]
  /** Extra peers to dial at start (multiaddrs with /p2p/ ids). */
  bootstrap?: string[]
  /** Tune libp2p for many nodes on 127.0.0.0/8 (devnets, tests, benchmarks). */
  loopback?: boolean
  /**
   * Connections kept before libp2p prunes some: default `MANAGER_MAX_CONNECTIONS` (4096) for a
   * manager, which every user node stays connected to; libp2p's default (300) for a user node.
   */
  maxConnections?: number
  /**
   * Files each LevelDB store of the node keeps open (`KvOptions.maxOpenFiles`; default
   * `KV_MAX_OPEN_FILES`, 74: a table cache of 64 tables of at most 2 MiB, mapped into memory). More
   * keeps more of a large store's tables open: fewer table opens on random reads (searches), more
   * mapped pages in the RSS (README "Scale").
   */
  storeOpenFiles?: number
  /**
   * Managers are permissioned: only the genesis managers, the genesis `userNodes`, these peer ids
   * and those of `allowPeersFile` may connect. On a user node (open by default) setting either
   * list restricts it the same way.
   */
  allowPeers?: string[]
  /** An allow file (one peer id per line, `#` comments), re-read when it changes and on `reloadAllowList`. */
  allowPeersFile?: string
  /**
   * A manager that admits any libp2p peer (benchmarks, labs): logged as a warning at start.
   * Cannot be combined with `allowPeers` / `allowPeersFile`.
   */
  open?: boolean
  pqBackend?: PqBackendName
  log?: Logger
  commitTimeoutMs?: number
  /**
   * User nodes: where headers are kept. `'level'` (default) is a LevelDB under `dataDir`;
   * `'memory'` keeps them in a Map (lost on stop) — for many light nodes in one process.
   */
  headerStore?: 'level' | 'memory'
  /** Fault injection (tests, research): a Byzantine manager (src/node/faults.ts). */
  byzantine?: Byzantine
  /** Metrics hooks (src/node/ops, `pqmed node --ops-port`); none by default. */
  metrics?: NodeMetrics
  /** libp2p's own metrics go into this prom-client registry (one node per process; libp2p.ts). */
  metricsRegistry?: Registry
}

export interface RunningNode {
  role: 'manager' | 'user'
  host: PqmedHost
  peerId: string
  addrs: string[]
  manager?: ManagerNode
  light?: LightNode
  /** A manager's Helia bitswap server (committed ciphertexts as IPFS blocks, src/node/helia.ts). */
  helia?: HeliaServer
  /** Who may connect (undefined: anyone). */
  allowList?: PeerAllowList
  /** Re-reads the allow lists (SIGHUP in `pqmed node`); no-op on an open node. */
  reloadAllowList: () => Promise<void>
  stop: () => Promise<void>
}

/** A user node's random libp2p key in `<dataDir>/peer-key`, created on first use. */
export async function userPeerKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, 'peer-key')
  try {
    return privateKeyFromProtobuf(new Uint8Array(await readFile(path)))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const key = await generateKeyPair('Ed25519')
    await writeFileAtomic(path, privateKeyToProtobuf(key))
    return key
  }
}

/**
 * The allow list of a node, or undefined for an open one. A manager is permissioned unless
 * `open`; a user node only when given a list.
 */
async function allowListFor (cfg: NodeConfig, log: Logger, chainSource: ChainPeerSource, extra: PeerListSource[] = []): Promise<PeerAllowList | undefined> {
  const lists = cfg.allowPeers !== undefined || cfg.allowPeersFile !== undefined
  if (cfg.open === true) {
    if (lists) throw new Error('open admits every peer: it cannot be combined with an allow list (allowPeers / allowPeersFile)')
    if (cfg.role === 'manager') log.warn('OPEN MANAGER (--open): any libp2p peer may connect, sync the whole chain and query it; use this only for benchmarks and labs')
    return undefined
  }
  if (cfg.role === 'user' && !lists) return undefined
  const sources = [
    // a manager admits the managers of the chain's manager sets (`extra`), not every genesis manager:
    // a hospital that left is refused once its removal takes effect
    genesisPeerSource(cfg.genesis, { managers: cfg.role !== 'manager' }),
    ...(cfg.role === 'manager' ? [chainSource] : []), // user nodes admitted on chain (fed once the registry is loaded)
    ...(cfg.allowPeers !== undefined ? [staticPeerSource('--allow-peer', cfg.allowPeers)] : []),
    ...(cfg.allowPeersFile !== undefined ? [filePeerSource(cfg.allowPeersFile)] : []),
    ...extra
  ]
  const list = new PeerAllowList(sources, log)
  await list.start()
  log.info(`permissioned: ${list.size} peers admitted (${sources.map((s) => s.name).join(', ')})`)
  return list
}

export async function startNode (cfg: NodeConfig): Promise<RunningNode> {
  const log = cfg.log ?? quietLog
  const g = cfg.genesis
  await mkdir(cfg.dataDir, { recursive: true })
  const pq = await loadPqBackend({ backend: cfg.pqBackend, warn: (m) => { log.warn(m) } })
  const gHeader = genesisHeaderOf(g)

  let peerKey: PrivateKey
  let self = -1
  let sigSecretKey: Uint8Array | undefined
  let sigPublicKey: Uint8Array | undefined
  let hospitalId: Uint8Array | undefined
  if (cfg.role === 'manager') {
    if (cfg.identity === undefined) throw new Error('a manager needs --identity')
    const id = await loadIdentity(cfg.identity)
    self = g.managers.findIndex((m) => m.peerId === id.peerId)
    // not in genesis: a hospital that joins (or a rotated key); the chain says whether and from when it is a member
    if (self >= 0 && !equalBytes(g.managers[self]?.sigPublicKey ?? new Uint8Array(0), id.keys.sig.publicKey)) throw new Error(`identity ${id.name}: ML-DSA key differs from genesis`)
    if (self < 0) log.info(`identity ${id.name} (peer ${id.peerId}) is not a genesis manager: it syncs the chain and takes part in consensus from the height a manager change makes it a member`)
    if (cfg.identity.hospitalId !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(cfg.identity.hospitalId)) throw new Error(`identity ${id.name}: hospitalId must be 64 hex characters`)
      hospitalId = fromHex(cfg.identity.hospitalId)
    }
    peerKey = id.peerKey
    sigSecretKey = id.keys.sig.secretKey
    sigPublicKey = id.keys.sig.publicKey
  } else if (cfg.identity !== undefined) {
    if (cfg.identity.role !== 'user') throw new Error(`identity ${cfg.identity.name} is a ${String(cfg.identity.role)} identity; a user node needs a user identity (pqmed genesis --users N, or pqmed peer-id --new-identity FILE)`)
    peerKey = (await loadIdentity(cfg.identity)).peerKey
  } else {
    peerKey = await userPeerKey(cfg.dataDir)
  }

  // managers admit the managers of the chain's current and committed (pending) manager sets: a
  // hospital that joins is admitted once the change adding it is committed (filled in once the manager runs)
  // (the genesis managers until the manager's store is open)
  const consortiumPeers: { ids: string[], changed?: () => void } = { ids: g.managers.map((m) => m.peerId).sort() }
  const consortiumSource: PeerListSource = {
    name: 'consortium (manager changes on chain)',
    load: async () => consortiumPeers.ids,
    watch: (onChange) => { consortiumPeers.changed = onChange; return () => { consortiumPeers.changed = undefined } }
  }
  const chainPeers = chainPeerSource()
  const allow = await allowListFor(cfg, log, chainPeers, cfg.role === 'manager' ? [consortiumSource] : [])
  const host = await createHost({
    privateKey: peerKey,
    listen: cfg.listen,
    allowPeers: allow,
    loopback: cfg.loopback ?? false,
    maxGossipBytes: cfg.role === 'manager' ? 2 * MAX_BLOCK_BYTES : 1024 * 1024,
    meshDegree: cfg.role === 'manager' ? 6 : 4,
    headersOnly: cfg.role === 'user',
    maxConnections: cfg.maxConnections ?? (cfg.role === 'manager' ? MANAGER_MAX_CONNECTIONS : undefined),
    metricsRegistry: cfg.metricsRegistry
  })
  if (allow !== undefined) {
    // a peer taken off the list loses its connections (new ones are refused by the gater)
    allow.onRemoved = (ids) => {
      for (const c of host.getConnections()) if (ids.includes(c.remotePeer.toString())) void c.close().catch(() => {})
    }
  }
  await host.start()
  const metrics = cfg.metrics ?? noopMetrics
  if (cfg.metrics !== undefined) observeTopicValidators(host.services.pubsub.topicValidators, metrics)

  let manager: ManagerNode | undefined
  let light: LightNode | undefined
  let chain: ChainStore | undefined
  let blobs: BlobStore | undefined
  let kv: KvStore | undefined
  let helia: HeliaServer | undefined
  try {
    if (cfg.role === 'manager' && sigSecretKey !== undefined && sigPublicKey !== undefined) {
      const kvOptions = cfg.storeOpenFiles !== undefined ? { maxOpenFiles: cfg.storeOpenFiles } : {}
      chain = await ChainStore.open(join(cfg.dataDir, 'chain'), gHeader, kvOptions)
      blobs = await BlobStore.open(join(cfg.dataDir, 'blobs'), kvOptions)
      const hooks = cfg.byzantine === undefined ? undefined : faultHooks(cfg.byzantine, { genesis: g, self, pq, sigSecretKey, log })
      manager = new ManagerNode({ host, genesis: g, ...(hospitalId !== undefined ? { hospitalId } : {}), sigPublicKey, sigSecretKey, pq, chain, blobs, log, dataDir: cfg.dataDir, commitTimeoutMs: cfg.commitTimeoutMs, hooks, metrics })
      await manager.start()
      const reg = manager.registry
      reg.onUserNodesChanged = () => { chainPeers.changed() }
      chainPeers.attach(() => reg.admittedUserNodes())
      const m = manager; const c = chain; const b = blobs
      helia = await startHeliaBitswap(host, { committed: async (h) => (await c.blobOwner(h)) !== undefined, stored: async (h) => await b.has(h), read: async (h) => await m.readBlob(h) })
    } else {
      kv = cfg.headerStore === 'memory' ? new MemKv() : await Kv.open(join(cfg.dataDir, 'headers'), cfg.storeOpenFiles !== undefined ? { maxOpenFiles: cfg.storeOpenFiles } : {})
      light = new LightNode({ host, genesis: g, genesisHeader: gHeader, pq, kv, log, metrics })
      await light.start()
    }
  } catch (err) {
    allow?.stop()
    await helia?.stop()
    await host.stop()
    await chain?.close(); await blobs?.close(); await kv?.close()
    throw err
  }
  // `pqmed backup` of the running node: a snapshot of every store through DATA_DIR/admin.sock (./backup.ts)
  const admin = cfg.headerStore === 'memory' ? undefined : await startAdminServer(cfg.dataDir, log)

  // keep connected to every genesis manager, every manager of the chain's manager sets (and the bootstrap list)
  const selfId = host.peerId.toString()
  const dialable = (ms: ReadonlyArray<{ peerId: string, addrs: readonly string[] }>): string[] =>
    ms.filter((m) => m.peerId !== selfId).flatMap((m) => m.addrs.map((a) => a.includes('/p2p/') ? a : `${a}/p2p/${m.peerId}`))
  let targets = [...dialable(g.managers), ...(cfg.bootstrap ?? [])]
  let stopping = false
  const followConsortium = (): void => {
    if (manager === undefined) return
    const c = manager.consortium
    const sets = [c.at(manager.chain.head.height + 1), c.latest]
    const ids = [...new Set(sets.flatMap((s) => s.managers.map((m) => m.peerId)))].sort()
    if (ids.join() !== consortiumPeers.ids.join()) {
      consortiumPeers.ids = ids
      consortiumPeers.changed?.()
      targets = [...new Set([...sets.flatMap((s) => dialable(s.managers)), ...(cfg.bootstrap ?? [])])]
    }
  }
  followConsortium()
  const dialMissing = async (): Promise<void> => {
    followConsortium()
    const connected = new Set(host.getConnections().map((c) => c.remotePeer.toString()))
    await Promise.all(targets.map(async (a) => {
      const id = a.split('/p2p/')[1]
      if (id === undefined || connected.has(id) || stopping) return
      try { await host.dial(multiaddr(a), { signal: AbortSignal.timeout(3000) }) } catch { /* unreachable now; retried on the next round */ }
    }))
  }
  await dialMissing()
  const dialer = setInterval(() => { void dialMissing() }, 2000)
  if (light !== undefined) {
    void light.syncHeaders().catch(() => {})
  }
  const resync = light === undefined ? undefined : setInterval(() => { void light?.syncHeaders().catch(() => {}) }, 5000)

  return {
    role: cfg.role,
    host,
    peerId: selfId,
    addrs: host.getMultiaddrs().map((a) => a.toString()),
    manager,
    light,
    helia,
    allowList: allow,
    reloadAllowList: async () => { await allow?.reload() },
    stop: async () => {
      stopping = true
      await admin?.close()
      allow?.stop()
      clearInterval(dialer)
      if (resync !== undefined) clearInterval(resync)
      await helia?.stop()
      await manager?.stop()
      await light?.stop()
      await host.stop()
      await chain?.close()
      await blobs?.close()
      await kv?.close()
    }
  }
}
