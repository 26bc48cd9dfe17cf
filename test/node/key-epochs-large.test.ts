import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { encodeTx, MAX_KEY_EPOCH_RECIPIENTS, MAX_KEY_EPOCH_TX_BYTES, MAX_TX_BYTES } from '../../src/blocks/index.js'
import { ProcNet, rpc } from '../../src/cli/procs.js'
import { fromHex, kemKeygen, loadPqBackend, randomBytes, sha256, toHex, type PqBackend } from '../../src/crypto/index.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { loadIdentity } from '../../src/node/identity.js'
import { keyEpochContext, openIndexKey } from '../../src/records/index.js'
import type { KeyEpochsJson } from '../../src/rpc/backend.js'
import { keyEpochTxFromJson } from '../../src/rpc/codec.js'
import { freePorts, tempDir } from './helpers.js'

const BIN = new URL('../../bin/pqmed.js', import.meta.url).pathname

/**
 * A key epoch of the largest consortium (MAX_KEY_EPOCH_RECIPIENTS = 1,600 active doctors, one tx
 * of about 2 MB, far above the 64 KiB of every other tx kind) end to end as processes: a manager's
 * identity rotates the key through a user node (`pqmed consortium-key rotate`: the recipients are
 * fetched over /query/1, the 2.8 MB JSON-RPC submission is forwarded over /submit/1, gossiped,
 * proposed as a compact block and committed by 4 managers); every manager stores it, the user node
 * verifies it against its headers, and a doctor opens its entry.
 */
// about 3 minutes on 2 cores (1,600 genesis doctors): opt-in, `npm run test:large`; npm test covers a
// 200-doctor epoch in-process (test/node/app/key-epochs.test.ts) and the 2 MB size in test/blocks/key-epoch.test.ts
const run = process.env.PQMED_TEST_LARGE === '1' ? describe : describe.skip
run('node: a key epoch wrapped to 1,600 doctors across 4 managers and a user node (PQMED_TEST_LARGE=1, npm run test:large)', function () {
  this.timeout(300_000)
  const net = new ProcNet()
  let files: DevnetFiles
  let root: { path: string, remove: () => Promise<void> }
  let pq: PqBackend
  const url = (name: string): string => { const p = net.procs.get(name); if (p === undefined) throw new Error(`${name} not running`); return p.rpc }

  before(async () => {
    pq = await loadPqBackend()
    root = await tempDir('key-epochs-large')
    const ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-kep-large', managers: 4, doctors: 1, users: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i] as number}`, params: { blockInterval: 50, viewChangeTimeout: 3000, heartbeatInterval: 300 } })
    // doctor-0 (a real identity) and 1,599 more genesis doctors with real ML-KEM-768 keys (their ML-DSA keys are never used)
    const extra = Array.from({ length: MAX_KEY_EPOCH_RECIPIENTS - 1 }, (_, i) => ({ name: `doctor-x${i}`, sigPublicKey: randomBytes(1952), kemPublicKey: kemKeygen(randomBytes(64)).publicKey }))
    files = { ...files, genesis: { ...files.genesis, doctors: [...files.genesis.doctors, ...extra] } }
    await writeDevnet(root.path, files)
    const common = ['--genesis', join(root.path, 'genesis.json'), '--rpc-port', '0', '--loopback', '--rpc-rate-limit', 'off']
    await Promise.all([0, 1, 2, 3].map(async (i) => await net.start({
      name: `m${i}`,
      args: ['--role', 'manager', '--data-dir', join(root.path, `m${i}`), '--identity', join(root.path, 'identities', `manager-${i}.json`), '--listen', `/ip4/127.0.0.1/tcp/${ports[i] as number}`, ...common]
    }, 120_000)))
    await net.start({ name: 'u0', args: ['--role', 'user', '--data-dir', join(root.path, 'u0'), '--identity', join(root.path, 'identities', 'user-0.json'), '--listen', '/ip4/127.0.0.1/tcp/0', ...common] }, 120_000)
  })

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return
    for (const [name, p] of net.procs) console.error(`--- ${name}\n${p.stderr.join('').slice(-3000)}`)
  })

  after(async () => {
    await net.stopAll()
    await root?.remove()
  })

  it('pqmed consortium-key rotate commits it; every manager stores it; the user node verifies it; doctor-0 opens its entry', async () => {
    const started = Date.now()
    const r = await promisify(execFile)(process.execPath, [BIN, 'consortium-key', 'rotate', '--hospital', join(root.path, 'identities', 'manager-2.json'), '--rpc', url('u0'), '--json'], { timeout: 180_000, maxBuffer: 64 * 1024 * 1024 })
    const rotated = JSON.parse(r.stdout) as { epoch: number, doctors: string[], result: { status: string, height: number } }
    assert.deepEqual([rotated.epoch, rotated.doctors.length, rotated.result.status], [2, MAX_KEY_EPOCH_RECIPIENTS, 'committed'])
    const rotateMs = Date.now() - started

    for (const m of ['m0', 'm1', 'm2', 'm3']) {
      const deadline = Date.now() + 60_000
      let k = await rpc<KeyEpochsJson>(url(m), 'chain_getKeyEpochs', {})
      while (k.latest < 2 && Date.now() < deadline) { await new Promise((resolve) => setTimeout(resolve, 300)); k = await rpc<KeyEpochsJson>(url(m), 'chain_getKeyEpochs', {}) }
      assert.deepEqual([k.latest, k.epochs.map((e) => e.epoch), k.epochs[0]?.tx.recipients.length, k.verifiedBy], [2, [2], MAX_KEY_EPOCH_RECIPIENTS, 'manager-store'], m)
    }
    const viaUser = await rpc<KeyEpochsJson>(url('u0'), 'chain_getKeyEpochs', { since: 1 })
    assert.deepEqual([viaUser.latest, viaUser.epochs.map((e) => e.epoch), viaUser.verifiedBy], [2, [2], 'user-node'])
    const epoch = viaUser.epochs[0]
    assert.ok(epoch !== undefined)
    assert.equal(epoch.tx.recipients.length, MAX_KEY_EPOCH_RECIPIENTS)
    // its size as committed: far above MAX_TX_BYTES, within MAX_KEY_EPOCH_TX_BYTES
    const txBytes = encodeTx(keyEpochTxFromJson(epoch.tx)).length
    assert.ok(txBytes > 30 * MAX_TX_BYTES && txBytes <= MAX_KEY_EPOCH_TX_BYTES, `${txBytes} bytes`)

    // doctor-0 opens its entry with its ML-KEM secret key
    const d0 = await loadIdentity(files.doctors[0] as never)
    const entry = epoch.tx.recipients.find((e) => e.doctor === toHex(sha256(d0.keys.sig.publicKey)))
    assert.ok(entry !== undefined)
    const key = openIndexKey(pq, { doctorId: fromHex(entry.doctor), kemKeyId: fromHex(entry.kemKeyId), kemCiphertext: Buffer.from(entry.kemCiphertext, 'base64'), sealed: Buffer.from(entry.sealed, 'base64') }, d0.keys.kem.secretKey, fromHex(epoch.tx.keyId), keyEpochContext(files.genesis.chainId, 2))
    assert.equal(key.length, 32)
    console.log(`      (a ${txBytes}-byte key epoch to ${MAX_KEY_EPOCH_RECIPIENTS} doctors rotated through the user node and committed in ${rotateMs} ms, shared machine)`)
  })
})
