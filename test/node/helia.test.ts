/**
 * Managers serve committed ciphertexts and attachments as IPFS blocks over bitswap (src/node/helia.ts).
 * The fetching side is a plain Helia node built only from Helia's and libp2p's packages
 * (`createHeliaLight` + `withLibp2pLight` + `withBitswap`, TCP, Noise, Yamux, identify): no pqmed
 * code. It is admitted the way a user node is (its peer id is a genesis `userNodes` entry, made by
 * `createDevnet({ users: 2 })` like `pqmed genesis --users 2`), fetches by CID and gets exactly the
 * bytes whose SHA-256 the committed record tx names; an unadmitted Helia node cannot connect or fetch.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CarReader } from '@ipld/car'
import * as dagCborCodec from '@ipld/dag-cbor'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { decodeTx, encodeSubmission, indexUpdatesHash, type RecordTx } from '../../src/blocks/index.js'
import { concatBytes, loadPqBackend, randomBytes, sha256, toHex } from '../../src/crypto/index.js'
import { CommittedBlockstore } from '../../src/node/helia.js'
import { loadIdentity } from '../../src/node/identity.js'
import { decodeStoredRecord } from '../../src/node/chain-store.js'
import type { RunningNode } from '../../src/node/node.js'
import { blobCid, encryptAttachment, signRecord } from '../../src/records/index.js'
import { readRecordCar } from '../../src/client/car.js'
import { startTestNetwork, type TestNetwork } from '../e2e/network.js'
import { TestDoctor } from './helpers.js'

/** A plain Helia node: Helia's light core, its libp2p mixin and its bitswap; memory block/datastore. */
async function plainHelia (privateKey: PrivateKey): Promise<ReturnType<typeof withBitswap>> {
  const helia = withBitswap(withLibp2pLight(createHeliaLight(), {
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  }))
  await helia.start()
  return helia
}

async function fetchBlock (helia: ReturnType<typeof withBitswap>, cid: CID, ms: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of helia.blockstore.get(cid, { signal: AbortSignal.timeout(ms) })) chunks.push(c)
  return concatBytes(...chunks)
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)

/** `node bin/pqmed.js ARGS`: exit code, output and (with --json) the last stdout line parsed. */
async function pqmed (...args: string[]): Promise<{ code: number, stdout: string, stderr: string, json: unknown }> {
  const parse = (s: string): unknown => { try { return JSON.parse(s.trim().split('\n').pop() as string) } catch { return undefined } }
  try {
    const r = await run(process.execPath, ['bin/pqmed.js', ...args], { cwd: ROOT, timeout: 120_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr, json: parse(e.stdout) }
  }
}

const addrOf = (n: RunningNode): ReturnType<typeof multiaddr> => {
  const a = n.addrs[0] as string
  return multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${n.peerId}`)
}

describe('node: Helia — committed ciphertexts are IPFS blocks served over bitswap to admitted peers', function () {
  this.timeout(300_000)
  let net: TestNetwork
  const helias: Array<ReturnType<typeof withBitswap>> = []
  let tx: RecordTx
  let blobs: Uint8Array[]

  before(async () => {
    net = await startTestNetwork(1, 2)
    // a record with one encrypted attachment, signed by the doctor, committed
    const pq = await loadPqBackend()
    const doctor = await TestDoctor.create(net.files, 0, pq)
    const s = doctor.record(1)
    const att = encryptAttachment(randomBytes(32), s.tx.recordId, 0, { name: 'scan.txt', mediaType: 'text/plain', data: new TextEncoder().encode('an attached scan') })
    const attachments = [sha256(att)]
    const signature = signRecord(pq, doctor.id.keys.sig.secretKey, { recordId: s.tx.recordId, owner: s.tx.owner, cipherHashes: s.tx.fields, attachmentHashes: attachments, indexUpdatesHash: indexUpdatesHash(s.tx.indexUpdates), time: s.tx.time })
    tx = { ...s.tx, attachments, signature }
    blobs = [...s.blobs, att]
    const r = await net.nodes[0]?.manager?.submit(encodeSubmission(tx, blobs), true)
    assert.equal(r?.status, 'committed')
  })

  after(async () => {
    for (const h of helias) await h.stop().catch(() => {})
    await net?.stop()
  })

  it('an admitted plain Helia node fetches every ciphertext and the attachment by CID: exactly the bytes whose hash is on chain', async () => {
    const user2 = net.files.users?.[1]
    assert.ok(user2)
    const admitted = await loadIdentity(user2)
    assert.equal(net.files.genesis.userNodes?.includes(admitted.peerId), true, 'listed in genesis like a user node')
    const helia = await plainHelia(admitted.peerKey)
    helias.push(helia)
    const manager = net.nodes[1] as RunningNode
    await helia.libp2p.dial(addrOf(manager), { signal: AbortSignal.timeout(10_000) })
    // what is on chain: the committed record tx in the manager's store
    const stored = await manager.manager?.chain.recordRaw(tx.recordId)
    assert.ok(stored)
    const onChain = decodeStoredRecord(stored).tx
    assert.equal(onChain.type, 'record')
    if (onChain.type !== 'record') return
    const hashes = [...onChain.fields, ...onChain.attachments]
    assert.equal(hashes.length, 4)
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i] as Uint8Array
      const cid = CID.parse(blobCid(h).toString())
      assert.match(cid.toString(), /^bafkrei[a-z2-7]+$/)
      const bytes = await fetchBlock(helia, cid, 30_000)
      assert.equal(toHex(sha256(bytes)), toHex(h), `block ${i}: its SHA-256 is the hash on chain`)
      assert.deepEqual(bytes, blobs[i], `block ${i}: the ciphertext the doctor submitted`)
    }
    // a CID no committed record names is not served (the peer's want stays unanswered)
    await assert.rejects(fetchBlock(helia, blobCid(sha256(randomBytes(64))), 2000))
  })

  describe('CLI: record get shows the CIDs, file verify takes a CID, record export writes a CAR file of the record\'s blocks', () => {
    const hashes = (): Uint8Array[] => [...tx.fields, ...tx.attachments]
    const genesis = (): string => join(net.dir, 'genesis.json')

    it('record get lists each ciphertext\'s CID (fields, then attachments)', async () => {
      const r = await pqmed('record', 'get', toHex(tx.recordId), '--rpc', net.userUrl, '--genesis', genesis(), '--json')
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual((r.json as { cids: string[] }).cids, hashes().map((h) => blobCid(h).toString()))
      const human = await pqmed('record', 'get', toHex(tx.recordId), '--rpc', net.userUrl, '--genesis', genesis())
      assert.ok(human.stdout.includes(`ciphertext CIDs (IPFS): ${hashes().map((h) => blobCid(h).toString()).join(' ')}`), human.stdout)
    })

    it('file verify --cid CID, or a CID in place of PATH; an unknown CID exits 3, a CID of another codec exits 2', async () => {
      const att = blobCid(tx.attachments[0] as Uint8Array).toString()
      const r = await pqmed('file', 'verify', '--cid', att, '--rpc', net.userUrl, '--json')
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(r.json, { match: true, sha256: toHex(tx.attachments[0] as Uint8Array), cid: att, recordId: toHex(tx.recordId), field: 3, height: (r.json as { height: number }).height })
      const positional = await pqmed('file', 'verify', blobCid(tx.fields[1]).toString(), '--rpc', net.userUrl)
      assert.equal(positional.code, 0, positional.stderr)
      assert.match(positional.stdout, /^CID bafkrei[a-z2-7]+ \(sha256 [0-9a-f]{64}\) is symptoms \(cip2\) of record [0-9a-f]{64} committed at height \d+/)
      const unknown = await pqmed('file', 'verify', '--cid', blobCid(sha256(randomBytes(8))).toString(), '--rpc', net.userUrl)
      assert.equal(unknown.code, 3)
      assert.match(unknown.stderr, /is NOT a committed record field or attachment/)
      const dagCbor = await pqmed('file', 'verify', '--cid', CID.createV1(0x71, blobCid(tx.fields[0]).multihash).toString(), '--rpc', net.userUrl)
      assert.equal(dagCbor.code, 2)
      assert.match(dagCbor.stderr, /is not a ciphertext CID: pqmed ciphertexts are CIDv1 raw/)
    })

    it('record export --car FILE: a CARv1 whose every block matches its CID, rooted in a pqmed-record/1 block linking tx, header, certificate and ciphertexts; never overwrites', async () => {
      const file = join(net.dir, 'record.car')
      const r = await pqmed('record', 'export', toHex(tx.recordId), '--car', file, '--rpc', net.userUrl, '--genesis', genesis(), '--json')
      assert.equal(r.code, 0, r.stderr)
      const bytes = new Uint8Array(await readFile(file))
      // read back with @ipld/car's own reader: every block's CID is the sha2-256 of its bytes
      const reader = await CarReader.fromBytes(bytes)
      const roots = await reader.getRoots()
      assert.equal(roots.length, 1)
      const blocks = new Map<string, Uint8Array>()
      for await (const b of reader.blocks()) {
        assert.equal(b.cid.multihash.code, 0x12)
        assert.equal(toHex(b.cid.multihash.digest), toHex(sha256(b.bytes)), `block ${b.cid.toString()} matches its CID`)
        blocks.set(b.cid.toString(), b.bytes)
      }
      const root = dagCborCodec.decode<{ format: string, recordId: Uint8Array, tx: CID, header: CID, certificate: CID | null, ciphertexts: CID[], proof: Uint8Array[] }>(blocks.get(roots[0]?.toString() ?? '') as Uint8Array)
      assert.equal(root.format, 'pqmed-record/1')
      assert.equal(toHex(root.recordId), toHex(tx.recordId))
      assert.deepEqual(root.ciphertexts.map(String), hashes().map((h) => blobCid(h).toString()))
      root.ciphertexts.forEach((c, i) => { assert.deepEqual(blocks.get(c.toString()), blobs[i], `ciphertext ${i} is the submitted one`) })
      assert.deepEqual(decodeTx(blocks.get(root.tx.toString()) as Uint8Array), tx, 'the tx block decodes to the committed record tx')
      assert.ok(root.certificate !== null && blocks.has(root.certificate.toString()), 'the commit certificate is in the CAR')
      assert.ok(blocks.has(root.header.toString()))
      assert.equal(blocks.size, 1 + 3 + hashes().length)
      assert.equal((await readRecordCar(bytes)).blocks.length, blocks.size)
      // an existing file is never replaced
      const again = await pqmed('record', 'export', toHex(tx.recordId), '--car', file, '--rpc', net.userUrl, '--genesis', genesis())
      assert.equal(again.code, 2)
      assert.match(again.stderr, /exists: record export never replaces a file/)
      assert.deepEqual(new Uint8Array(await readFile(file)), bytes)
    })
  })

  it('an unadmitted plain Helia node cannot connect to a manager, so it fetches nothing', async () => {
    const helia = await plainHelia(await generateKeyPair('Ed25519'))
    helias.push(helia)
    const manager = net.nodes[2] as RunningNode
    // (the dialer may see its dial complete for an instant before the manager's gater closes it:
    // what counts is that the manager keeps no connection and sends no block)
    await helia.libp2p.dial(addrOf(manager), { signal: AbortSignal.timeout(10_000) }).catch(() => {})
    await assert.rejects(fetchBlock(helia, blobCid(tx.fields[1]), 5000))
    assert.equal(manager.host.getConnections().some((c) => c.remotePeer.equals(helia.libp2p.peerId)), false)
    assert.equal(helia.libp2p.getConnections().length, 0)
  })
})

describe('node: Helia — CommittedBlockstore serves committed ciphertexts only', () => {
  const committedHash = sha256(new Uint8Array([1]))
  const pendingHash = sha256(new Uint8Array([2]))
  const corruptHash = sha256(new Uint8Array([3]))
  const store = new Map([[toHex(committedHash), new Uint8Array([1])], [toHex(pendingHash), new Uint8Array([2])], [toHex(corruptHash), new Uint8Array([9])]])
  const bs = new CommittedBlockstore({
    committed: async (h) => toHex(h) !== toHex(pendingHash),
    stored: async (h) => store.has(toHex(h)),
    // as BlobRepair.read: a copy that does not hash to its key is never returned
    read: async (h) => { const b = store.get(toHex(h)); return b !== undefined && toHex(sha256(b)) === toHex(h) ? b : undefined }
  })
  const get = async (cid: CID): Promise<Uint8Array[]> => { const out: Uint8Array[] = []; for await (const c of bs.get(cid)) out.push(c); return out }

  it('has/get: a committed stored block yes; a pending tx\'s ciphertext, a corrupt copy, another codec or hash: no (NotFoundError)', async () => {
    assert.equal(await bs.has(blobCid(committedHash)), true)
    assert.deepEqual(await get(blobCid(committedHash)), [new Uint8Array([1])])
    assert.equal(await bs.has(blobCid(pendingHash)), false)
    await assert.rejects(get(blobCid(pendingHash)), (e: Error) => e.name === 'NotFoundError' && /not a committed ciphertext/.test(e.message))
    await assert.rejects(get(blobCid(corruptHash)), (e: Error) => e.name === 'NotFoundError')
    const dagCborCid = CID.createV1(0x71, blobCid(committedHash).multihash)
    assert.equal(await bs.has(dagCborCid), false)
    await assert.rejects(get(dagCborCid), (e: Error) => e.name === 'NotFoundError')
    await assert.rejects(bs.put(blobCid(committedHash)), /read-only/)
    await assert.rejects(bs.delete(blobCid(committedHash)), /read-only/)
  })
})
