import assert from 'node:assert/strict'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { equalBytes, loadPqBackend, sha256, toHex } from '../../src/crypto/index.js'
import { BlobStore } from '../../src/node/blob-store.js'
import { createDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { protocols } from '../../src/node/genesis.js'
import { MAX_FRAME_BYTES } from '../../src/node/messages.js'
import { ReqResp } from '../../src/node/reqresp.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { corruptBlob, freePorts, tempDir, TestDoctor } from './helpers.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

/**
 * Issue 10: a manager whose own copy of a ciphertext is corrupted on disk never serves it: the
 * read checks the hash, deletes the bad copy, logs it and repairs it from the other managers.
 */
describe('node: a corrupted ciphertext on one manager is detected on read and repaired', function () {
  this.timeout(180_000)
  let files: DevnetFiles
  let ports: number[]
  const nodes: RunningNode[] = []
  const dirs: Array<{ path: string, remove: () => Promise<void> }> = []

  before(async () => {
    ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-blobs', managers: 4, doctors: 1, users: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    for (let i = 0; i < 5; i++) dirs.push(await tempDir(i < 4 ? `m${i}` : 'u0'))
  })

  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await d.remove()
  })

  const startManager = async (i: number, log?: { info: (m: string) => void, warn: (m: string) => void }): Promise<RunningNode> =>
    await startNode({ role: 'manager', genesis: files.genesis, dataDir: dirs[i]?.path as string, identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`], loopback: true, log })

  it('the corrupt copy is never returned (record read and /query/1 blobs), is logged, and the read answers with the good bytes', async () => {
    for (let i = 0; i < 4; i++) nodes.push(await startManager(i))
    const user = await startNode({ role: 'user', genesis: files.genesis, dataDir: dirs[4]?.path as string, identity: files.users?.[0], listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true })
    nodes.push(user)
    for (let t = 0; t < 100 && (user.light?.managers().length ?? 0) < 4; t++) await sleep(100)
    const doctor = await TestDoctor.create(files, 0, await loadPqBackend())
    const s = doctor.record(1)
    assert.equal(s.tx.type, 'record')
    if (s.tx.type !== 'record') return
    const [h0, h1] = s.tx.fields
    assert.ok(h0 !== undefined && h1 !== undefined)
    const good = new Map(s.blobs.map((b) => [toHex(sha256(b)), b]))
    assert.equal((await user.light?.submit(s.bytes, true))?.status, 'committed')
    for (let t = 0; t < 100 && (nodes[1]?.manager?.status().height ?? 0) < 1; t++) await sleep(50)
    assert.equal((await nodes[1]?.manager?.getRecord(s.tx.recordId))?.blobs.length, 3)

    // stop manager 1, overwrite two ciphertexts in its LevelDB blockstore, restart it
    await nodes[1]?.stop()
    const junk0 = new Uint8Array(64).fill(0xaa)
    const junk1 = new Uint8Array(64).fill(0xbb)
    const store = await BlobStore.open(join(dirs[1]?.path as string, 'blobs'))
    await corruptBlob(store, h0, junk0)
    await corruptBlob(store, h1, junk1)
    await store.close()
    const log: string[] = []
    const m1 = await startManager(1, { info: (m) => { log.push(m) }, warn: (m) => { log.push(`WARN ${m}`) } })
    nodes[1] = m1
    const manager = m1.manager
    assert.ok(manager)

    // another node asks manager 1 for the first ciphertext over /query/1 blobs: nothing corrupt comes back
    const query = new ReqResp(user.host, { protocol: protocols(files.genesis.chainId).query, maxBytes: MAX_FRAME_BYTES, timeoutMs: 10_000 })
    await query.start()
    try {
      for (let t = 0; t < 50 && !user.host.getConnections().some((c) => c.remotePeer.toString() === m1.peerId); t++) await sleep(100)
      const served = await query.request(peerIdFromString(m1.peerId), 'blobs', { hashes: [h0] }) as Uint8Array[]
      for (const b of served) {
        assert.ok(!equalBytes(b, junk0), 'the corrupt bytes were served')
        assert.ok(equalBytes(sha256(b), h0))
      }
    } finally {
      await query.stop()
    }

    // the record read on manager 1 waits for the repair and answers with the good bytes
    const got = await manager.getRecord(s.tx.recordId)
    assert.ok(got)
    assert.deepEqual(got.blobs.map((b) => toHex(b)), [...s.tx.fields, ...s.tx.attachments].map((h) => toHex(good.get(toHex(h)) as Uint8Array)))
    // both copies are good again on disk (the one found by the blobs server was repaired in the background)
    for (let t = 0; t < 50 && !(await Promise.all([h0, h1].map(async (h) => await manager.blobs.get(h) !== undefined))).every(Boolean); t++) await sleep(100)
    for (const h of [h0, h1]) assert.equal(toHex(await manager.blobs.get(h) ?? new Uint8Array()), toHex(good.get(toHex(h)) as Uint8Array))

    // the log says which ciphertext of which record was corrupt, and that it was repaired
    const rid = toHex(s.tx.recordId)
    for (const [h, junk] of [[h0, junk0], [h1, junk1]] as const) {
      assert.ok(log.some((l) => l.startsWith(`WARN corrupt ciphertext ${toHex(h)} of record ${rid}: the stored copy hashes to ${toHex(sha256(junk))}`)), log.join('\n'))
      for (let t = 0; t < 50 && !log.includes(`repaired ciphertext ${toHex(h)} of record ${rid} from another manager`); t++) await sleep(100)
      assert.ok(log.includes(`repaired ciphertext ${toHex(h)} of record ${rid} from another manager`), log.join('\n'))
    }

    // and the user node reads the record, verified, from manager 1 as from any other
    const rec = await user.light?.getRecord(s.tx.recordId)
    assert.deepEqual(rec?.checks, { inclusion: true, ciphertexts: true, signature: true, certificate: true })
  })
})
