import assert from 'node:assert/strict'
import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as dagCbor from '@ipld/dag-cbor'
import { loadPqBackend, sha256, toHex } from '../../src/crypto/index.js'
import { createDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { genesisHash, genesisToJson, parseGenesis, protocols } from '../../src/node/genesis.js'
import { loadIdentity } from '../../src/node/identity.js'
import { createHost, type PqmedHost } from '../../src/node/libp2p.js'
import { MAX_FRAME_BYTES } from '../../src/node/messages.js'
import { parsePeerList } from '../../src/node/peer-allow.js'
import { ReqResp } from '../../src/node/reqresp.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

/** A plain libp2p node (not a pqmed node) that tries the manager's protocols. */
async function stranger (): Promise<PqmedHost> {
  const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, maxGossipBytes: 1 << 20 })
  await h.start()
  return h
}

/** Dials the manager and asks `status`, then `headers`, over its request/response protocols. */
async function probe (h: PqmedHost, files: DevnetFiles, manager: RunningNode): Promise<{ height: number, headers: number }> {
  const protos = protocols(files.genesis.chainId)
  const a = manager.addrs[0] as string
  const addr = multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${manager.peerId}`)
  await h.dial(addr, { signal: AbortSignal.timeout(5000) })
  const status = new ReqResp(h, { protocol: protos.status, maxBytes: MAX_FRAME_BYTES, timeoutMs: 5000 })
  const sync = new ReqResp(h, { protocol: protos.sync, maxBytes: MAX_FRAME_BYTES, timeoutMs: 5000 })
  await status.start(); await sync.start()
  try {
    const peer = peerIdFromString(manager.peerId)
    const st = await status.request(peer, 'status', null) as { height: number }
    const hs = await sync.request(peer, 'headers', { from: 1, to: 100 }) as { headers: unknown[] }
    return { height: st.height, headers: hs.headers.length }
  } finally {
    await status.stop(); await sync.stop()
  }
}

const connected = (a: RunningNode, peerId: string): boolean => a.host.getConnections().some((c) => c.remotePeer.toString() === peerId)

describe('node: managers are permissioned by default', function () {
  this.timeout(180_000)
  let files: DevnetFiles
  let ports: number[]
  const nodes: RunningNode[] = []
  const hosts: PqmedHost[] = []
  const dirs: Array<{ path: string, remove: () => Promise<void> }> = []
  const dir = async (name: string): Promise<string> => { const d = await tempDir(name); dirs.push(d); return d.path }

  before(async () => {
    ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-access', managers: 4, doctors: 1, users: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
  })

  after(async () => {
    for (const h of hosts) await h.stop()
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await d.remove()
  })

  it('a listed user node connects, syncs and reads; a stranger and an unlisted user node cannot connect, sync or query', async () => {
    for (let i = 0; i < 4; i++) {
      nodes.push(await startNode({ role: 'manager', genesis: files.genesis, dataDir: await dir(`m${i}`), identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`], loopback: true }))
    }
    const u0 = files.users?.[0]
    assert.ok(u0)
    assert.deepEqual(files.genesis.userNodes, [(await loadIdentity(u0)).peerId])
    const listed = await startNode({ role: 'user', genesis: files.genesis, dataDir: await dir('u0'), identity: u0, listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true })
    nodes.push(listed)
    assert.equal(listed.peerId, files.genesis.userNodes?.[0], 'the user node runs under the peer id genesis lists')
    const doctor = await TestDoctor.create(files, 0, await loadPqBackend())
    const s = doctor.record(1)
    assert.equal((await listed.light?.submit(s.bytes, true))?.status, 'committed')
    for (let t = 0; t < 100 && (listed.light?.height ?? 0) < 1; t++) await sleep(100)
    const rec = await listed.light?.getRecord(s.tx.recordId)
    assert.equal(toHex(rec?.tx.recordId ?? new Uint8Array()), toHex(s.tx.recordId))
    assert.deepEqual(rec?.checks, { inclusion: true, ciphertexts: true, signature: true, certificate: true })

    // an unlisted user node (random key in its data dir): never connected to any manager, syncs nothing
    const unlisted = await startNode({ role: 'user', genesis: files.genesis, dataDir: await dir('u-stranger'), listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true })
    nodes.push(unlisted)
    await unlisted.light?.syncHeaders().catch(() => {})
    await sleep(2500) // one re-dial round
    assert.equal(unlisted.light?.managers().length, 0)
    assert.equal(unlisted.light?.height, 0)
    for (const m of nodes.slice(0, 4)) assert.equal(connected(m, unlisted.peerId), false)
    await assert.rejects(async () => await unlisted.light?.submit(doctor.record(2).bytes, false))

    // a plain libp2p node: the dial is refused after the handshake, no stream opens
    const h = await stranger(); hosts.push(h)
    await assert.rejects(async () => await probe(h, files, nodes[0] as RunningNode))
    assert.equal(connected(nodes[0] as RunningNode, h.peerId.toString()), false)
  })

  it('the allow file is re-read when it changes: a peer added gets in without a restart; a malformed edit keeps the old list', async () => {
    const allowPath = join(await dir('allow'), 'allow-peers.txt')
    await writeFile(allowPath, '# hospital A user nodes\n\n')
    const log: string[] = []
    // a second network's manager, alone (no consensus needed for status and headers)
    const p = await freePorts(1)
    const solo = await createDevnet({ chainId: 'pqmed-allow', managers: 1, doctors: 0, managerAddr: () => `/ip4/127.0.0.1/tcp/${p[0] as number}` })
    const m = await startNode({
      role: 'manager', genesis: solo.genesis, dataDir: await dir('solo'), identity: solo.managers[0], listen: [`/ip4/127.0.0.1/tcp/${p[0] as number}`], loopback: true,
      allowPeersFile: allowPath, log: { info: (l) => { log.push(l) }, warn: (l) => { log.push(`WARN ${l}`) } }
    })
    nodes.push(m)
    const h = await stranger(); hosts.push(h)
    await assert.rejects(async () => await probe(h, solo, m))
    await appendFile(allowPath, `${h.peerId.toString()}   # the new user node\n`)
    let got: { height: number } | undefined
    for (let t = 0; t < 40 && got === undefined; t++) {
      await sleep(250)
      got = await probe(h, solo, m).catch(() => undefined)
    }
    assert.deepEqual(got, { height: 0, headers: 0 }, 'admitted after the file changed')
    assert.ok(log.some((l) => /allow list reloaded: 2 peers \(1 added, 0 removed\)/.test(l)), log.join('\n'))

    // a malformed line: the previous list stays, the error names the line
    await appendFile(allowPath, 'not-a-peer-id\n')
    await m.reloadAllowList() // what SIGHUP does in `pqmed node`
    assert.ok(log.some((l) => l.startsWith('WARN allow list not reloaded') && l.includes(`${allowPath}:4`) && l.includes('"not-a-peer-id" is not a libp2p peer id')), log.join('\n'))
    assert.equal(m.allowList?.has(h.peerId.toString()), true)

    // taking the peer off the list closes its connection and refuses new ones
    await writeFile(allowPath, '# emptied\n')
    await m.reloadAllowList()
    for (let t = 0; t < 20 && connected(m, h.peerId.toString()); t++) await sleep(100)
    assert.equal(connected(m, h.peerId.toString()), false)
    await assert.rejects(async () => await probe(h, solo, m))
  })

  it('a malformed allow file at start is a clear error naming the line', async () => {
    const allowPath = join(await dir('bad-allow'), 'allow')
    await writeFile(allowPath, '# ok\n12D3KooW not one\n')
    const p = await freePorts(1)
    const solo = await createDevnet({ chainId: 'pqmed-allow', managers: 1, doctors: 0, managerAddr: () => `/ip4/127.0.0.1/tcp/${p[0] as number}` })
    await assert.rejects(
      startNode({ role: 'manager', genesis: solo.genesis, dataDir: await dir('bad'), identity: solo.managers[0], listen: [`/ip4/127.0.0.1/tcp/${p[0] as number}`], loopback: true, allowPeersFile: allowPath }),
      (err: Error) => err.message === `${allowPath}:2: one peer id per line, got "12D3KooW not one"`)
    assert.throws(() => parsePeerList('x\n', 'f'), /^PeerListError: f:1: "x" is not a libp2p peer id$/)
  })

  it('--open admits a stranger and says so in a warning at start', async () => {
    const p = await freePorts(1)
    const solo = await createDevnet({ chainId: 'pqmed-open', managers: 1, doctors: 0, managerAddr: () => `/ip4/127.0.0.1/tcp/${p[0] as number}` })
    const warns: string[] = []
    const m = await startNode({
      role: 'manager', genesis: solo.genesis, dataDir: await dir('open'), identity: solo.managers[0], listen: [`/ip4/127.0.0.1/tcp/${p[0] as number}`], loopback: true,
      open: true, log: { info: () => {}, warn: (l) => { warns.push(l) } }
    })
    nodes.push(m)
    assert.ok(warns.some((w) => w.startsWith('OPEN MANAGER (--open): any libp2p peer may connect')), warns.join('\n'))
    const h = await stranger(); hosts.push(h)
    assert.deepEqual(await probe(h, solo, m), { height: 0, headers: 0 })
    await assert.rejects(startNode({ role: 'manager', genesis: solo.genesis, dataDir: await dir('open2'), identity: solo.managers[0], listen: ['/ip4/127.0.0.1/tcp/0'], open: true, allowPeers: [] }), /cannot be combined/)
  })
})

describe('node: genesis userNodes', () => {
  it('round-trips, is validated (bad or repeated peer ids name the entry), and a genesis without it hashes as before', async () => {
    const files = await createDevnet({ chainId: 'pqmed-g', managers: 1, doctors: 1, users: 2, managerAddr: () => '/ip4/127.0.0.1/tcp/1' })
    const g = files.genesis
    assert.equal(g.userNodes?.length, 2)
    assert.deepEqual(parseGenesis(genesisToJson(g)), g)
    const raw = JSON.parse(genesisToJson(g)) as Record<string, unknown>
    assert.throws(() => parseGenesis(JSON.stringify({ ...raw, userNodes: [g.userNodes?.[0], 'nope'] })), /^GenesisError: genesis: userNodes\[1\] is not a libp2p peer id: "nope"$/)
    assert.throws(() => parseGenesis(JSON.stringify({ ...raw, userNodes: [g.userNodes?.[0], g.userNodes?.[0]] })), /userNodes lists a peer id twice/)
    // a genesis file written before userNodes existed keeps its hash (its chain stays valid)
    const { userNodes: _omit, ...old } = g
    const oldHash = sha256(dagCbor.encode({
      chainId: old.chainId,
      time: old.time,
      managers: old.managers.map((m) => ({ name: m.name, sigPublicKey: m.sigPublicKey, peerId: m.peerId, addrs: m.addrs })),
      doctors: old.doctors.map((d) => ({ name: d.name, sigPublicKey: d.sigPublicKey, kemPublicKey: d.kemPublicKey })),
      params: { ...old.params }
    }))
    assert.equal(toHex(genesisHash(old)), toHex(oldHash))
    assert.notEqual(toHex(genesisHash(g)), toHex(oldHash), 'the user-node list is part of the root of trust when present')
  })
})
