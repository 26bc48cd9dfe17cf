import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'mocha'
import {
  buildBlock, encodeBlock, encodeSubmission, encodeTx, headerHash, hospitalIdOf, MAX_TX_BYTES, signGovernanceTx, type Block, type KeyEpochTx, type Tx
} from '../../../src/blocks/index.js'
import { buildKeyEpochTx } from '../../../src/client/key-epochs.js'
import { equalBytes, kemKeygen, randomBytes, sha256, sigKeygen, toHex, loadPqBackend, type PqBackend } from '../../../src/crypto/index.js'
import type { Genesis } from '../../../src/node/genesis.js'
import { openIndexKey, keyEpochContext } from '../../../src/records/index.js'
import { Application } from '../../../src/node/app/application.js'
import { genesisKeyEpochAuthority, keyEpochsRaw, KeyEpochs, type ActiveDoctor, type KeyEpochAuthority } from '../../../src/node/app/key-epochs.js'
import type { BlobStore } from '../../../src/node/blob-store.js'
import { ChainStore } from '../../../src/node/chain-store.js'
import { createDevnet, type DevnetFiles } from '../../../src/node/devnet.js'
import { genesisHeaderOf } from '../../../src/node/genesis.js'
import { loadIdentity } from '../../../src/node/identity.js'
import { quietLog } from '../../../src/node/log.js'
import { decodeSubmission, validateSubmission } from '../../../src/node/validation/tx.js'
import { tempDir } from '../helpers.js'

describe('node/app: key epochs (admission, proposal, commit, persistence)', function () {
  this.timeout(120_000)
  let pq: PqBackend
  let files: DevnetFiles
  let manager0: { hospitalId: Uint8Array, sigSecretKey: Uint8Array }
  let doctors: ActiveDoctor[]
  before(async () => {
    pq = await loadPqBackend()
    files = await createDevnet({ chainId: 'pqmed-key-epochs', managers: 4, doctors: 3, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${4100 + i}` })
    const m = await loadIdentity(files.managers[0] as never)
    manager0 = { hospitalId: sha256(m.keys.sig.publicKey), sigSecretKey: m.keys.sig.secretKey }
    doctors = files.genesis.doctors.map((d) => ({ id: sha256(d.sigPublicKey), kemPublicKey: d.kemPublicKey }))
  })

  async function withApp (fn: (app: Application, chain: ChainStore, dir: string) => Promise<void>, authority?: KeyEpochAuthority, dir?: string): Promise<void> {
    const root = dir === undefined ? await tempDir('key-epochs') : undefined
    const path = dir ?? (root as { path: string }).path
    const g = genesisHeaderOf(files.genesis)
    const chain = await ChainStore.open(join(path, 'chain'), g)
    try {
      const app = new Application({ genesis: files.genesis, hospitalId: hospitalIdOf(files.genesis.managers[0]?.sigPublicKey ?? new Uint8Array(0)), pq, chain, blobs: {} as unknown as BlobStore, log: quietLog, hooks: {}, keyEpochAuthority: authority })
      await app.restore()
      await fn(app, chain, path)
    } finally {
      await chain.close()
      await root?.remove()
    }
  }

  const epochTx = (epoch: number, recipients: readonly ActiveDoctor[] = doctors, signer = manager0): KeyEpochTx =>
    buildKeyEpochTx(pq, signer, { chainId: files.genesis.chainId, epoch, recipients }).tx

  async function admit (app: Application, tx: KeyEpochTx): Promise<{ verdict: string, code?: string, reason?: string }> {
    const d = decodeSubmission(encodeSubmission(tx, []))
    assert.equal(d.verdict, 'ACCEPT')
    if (d.verdict !== 'ACCEPT') throw new Error('undecodable')
    const v = await validateSubmission(d.value, app.txContext())
    return v.verdict === 'ACCEPT' ? { verdict: 'ACCEPT' } : { verdict: v.verdict, code: v.code, reason: v.reason }
  }

  async function commit (app: Application, chain: ChainStore, txs: KeyEpochTx[]): Promise<{ ok: boolean, reason?: string }> {
    const head = chain.head
    const block: Block = buildBlock({ chainId: files.genesis.chainId, height: head.height + 1, prevHash: head.hash, time: Date.now(), proposer: 0, view: 0, indexStart: head.indexNext, configHash: head.header.configHash, nextConfigHash: head.header.nextConfigHash, txs })
    const value = { hash: headerHash(block.header), bytes: encodeBlock(block) }
    const r = app.validateProposal(block.header.height, value, head.hash)
    if (!r.ok) return { ok: false, reason: r.reason }
    await app.commit(value, { chainId: files.genesis.chainId, height: block.header.height, view: 0, headerHash: value.hash, signatures: [] }, [])
    return { ok: true }
  }

  it('admits the next epoch signed by a manager and wrapped to exactly the active doctors; refuses the rest with a clear code', async () => {
    await withApp(async (app) => {
      assert.equal(app.keyEpochs.latest, 1)
      assert.deepEqual(await admit(app, epochTx(2)), { verdict: 'ACCEPT' })
      const gap = await admit(app, epochTx(3))
      assert.deepEqual([gap.verdict, gap.code], ['IGNORE', 'INVALID_TX'])
      assert.match(gap.reason ?? '', /does not follow the newest committed epoch 1 \(the next must be 2\)/)
      const missing = await admit(app, epochTx(2, doctors.slice(0, 2)))
      assert.deepEqual([missing.verdict, missing.code], ['IGNORE', 'INVALID_TX'])
      assert.match(missing.reason ?? '', /not wrapped to exactly the active doctors.*missing/)
      const stranger = { id: randomBytes(32), kemPublicKey: (doctors[0] as ActiveDoctor).kemPublicKey }
      const extra = await admit(app, epochTx(2, [...doctors, stranger]))
      assert.match(extra.reason ?? '', /is not an active doctor/)
      const otherKem = await admit(app, epochTx(2, [{ id: (doctors[0] as ActiveDoctor).id, kemPublicKey: (doctors[1] as ActiveDoctor).kemPublicKey }, ...doctors.slice(1)]))
      assert.match(otherKem.reason ?? '', /wrapped to ML-KEM key .* not its current one/)
      const outsider = sigKeygen(randomBytes(32))
      const notManager = await admit(app, epochTx(2, doctors, { hospitalId: sha256(outsider.publicKey), sigSecretKey: outsider.secretKey }))
      assert.deepEqual([notManager.verdict, notManager.code], ['IGNORE', 'BAD_SIGNATURE'])
      assert.match(notManager.reason ?? '', /is not a current manager/)
      const forged = await admit(app, epochTx(2, doctors, { hospitalId: manager0.hospitalId, sigSecretKey: outsider.secretKey }))
      assert.deepEqual([forged.verdict, forged.code], ['REJECT', 'BAD_SIGNATURE'])
      assert.match(forged.reason ?? '', /signature does not verify/)
    })
  })

  it('commits epochs in order (proposal checks them too), persists them as their own keys and loads them at start without the blocks', async () => {
    const root = await tempDir('key-epochs-persist')
    try {
      const e2 = epochTx(2)
      await withApp(async (app, chain) => {
        // a proposal with a gap, a repeated epoch or a wrong recipient set is refused by every replica
        assert.match((await commit(app, chain, [epochTx(3)])).reason ?? '', /key epoch 3, but the next epoch is 2/)
        assert.match((await commit(app, chain, [e2, epochTx(2)])).reason ?? '', /key epoch 2, but the next epoch is 3/)
        assert.match((await commit(app, chain, [epochTx(2, doctors.slice(1))])).reason ?? '', /not wrapped to exactly the active doctors/)
        assert.deepEqual(await commit(app, chain, [e2]), { ok: true })
        assert.equal(app.keyEpochs.latest, 2)
        const again = await admit(app, epochTx(2))
        assert.deepEqual([again.verdict, again.code], ['IGNORE', 'DUPLICATE'])
        assert.deepEqual(await commit(app, chain, [epochTx(3)]), { ok: true })
        assert.deepEqual(app.keyEpochs.since(2).map((e) => e.epoch), [3])
        assert.equal((await keyEpochsRaw(chain.kv, 1)).length, 2)
        // an answer's byte budget: the first epoch always, the next ones while they fit
        const raws = await keyEpochsRaw(chain.kv, 1)
        assert.equal((await keyEpochsRaw(chain.kv, 1, 1)).length, 1)
        assert.equal((await keyEpochsRaw(chain.kv, 1, (raws[0]?.length ?? 0) + (raws[1]?.length ?? 0) - 1)).length, 1)
        assert.equal((await keyEpochsRaw(chain.kv, 1, (raws[0]?.length ?? 0) + (raws[1]?.length ?? 0))).length, 2)
        assert.equal((await keyEpochsRaw(chain.kv, 2, 1)).length, 1)
      }, undefined, root.path)
      // a fresh KeyEpochs reads the epochs from their keys alone: the blocks are not needed
      const g = genesisHeaderOf(files.genesis)
      const chain = await ChainStore.open(join(root.path, 'chain'), g)
      try {
        await chain.kv.del('blk/000000000001')
        await chain.kv.del('blk/000000000002')
        const k = new KeyEpochs(files.genesis.chainId, pq, genesisKeyEpochAuthority(files.genesis))
        await k.load(chain.kv)
        assert.equal(k.latest, 3)
        assert.equal(toHex((k.since(1)[0] as { keyId: Uint8Array }).keyId), toHex(e2.keyId))
        assert.equal((k.since(1)[0] as { height: number }).height, 1)
      } finally { await chain.close() }
    } finally { await root.remove() }
  })

  it('200 active doctors (more than one tx of MAX_TX_BYTES can wrap to): after a revocation, an epoch wrapped to the 199 others is admitted, proposed, validated by a replica, committed, and opens for them', async () => {
    // the devnet's 3 doctors plus 197 more with real ML-KEM-768 keys (their ML-DSA keys are never used here)
    const extra = Array.from({ length: 197 }, (_, i) => ({ name: `doctor-x${i}`, sigPublicKey: randomBytes(1952), kem: kemKeygen(randomBytes(64)) }))
    const genesis: Genesis = { ...files.genesis, doctors: [...files.genesis.doctors, ...extra.map((d) => ({ name: d.name, sigPublicKey: d.sigPublicKey, kemPublicKey: d.kem.publicKey }))] }
    const m0 = await loadIdentity(files.managers[0] as never)
    const roots = [await tempDir('key-epochs-200-a'), await tempDir('key-epochs-200-b')]
    const chains = await Promise.all(roots.map(async (r) => await ChainStore.open(join(r.path, 'chain'), genesisHeaderOf(genesis))))
    try {
      // the leader (manager-0) and a replica (manager-1), each with its own store and registry
      const apps = chains.map((chain, i) => new Application({ genesis, hospitalId: hospitalIdOf(genesis.managers[i]?.sigPublicKey ?? new Uint8Array(0)), pq, chain, blobs: {} as unknown as BlobStore, log: quietLog, hooks: {} }))
      for (const app of apps) await app.restore()
      const [leader, replica] = apps as [Application, Application]
      const gossip = async (tx: Tx): Promise<void> => {
        for (const app of apps) {
          const d = decodeSubmission(encodeSubmission(tx, []))
          if (d.verdict !== 'ACCEPT') throw new Error(`undecodable: ${d.reason}`)
          const v = await validateSubmission(d.value, app.txContext())
          assert.equal(v.verdict, 'ACCEPT', v.verdict === 'ACCEPT' ? '' : `${v.code}: ${v.reason}`)
          await app.admit(d.value)
        }
      }
      const round = async (height: number): Promise<Block> => {
        const value = leader.buildProposal(height, 0, 2048)
        assert.ok(value !== null, 'the leader proposes')
        await replica.prepare(value)
        const r = replica.validateProposal(height, value, chains[1]?.head.hash ?? new Uint8Array(0))
        assert.ok(r.ok, r.ok ? '' : r.reason)
        const cert = { chainId: genesis.chainId, height, view: 0, headerHash: value.hash, signatures: [] }
        const out = await Promise.all(apps.map(async (app) => await app.commit(value, cert, [])))
        return out[0]?.block as Block
      }
      // block 1: manager-0 revokes doctor-0
      const revoked = sha256((genesis.doctors[0] as { sigPublicKey: Uint8Array }).sigPublicKey)
      await gossip(signGovernanceTx(pq, genesis.chainId, m0.keys.sig.secretKey, { type: 'doctor', action: 'revoke', hospital: manager0.hospitalId, doctor: revoked, time: 1 }) as Tx)
      assert.equal((await round(1)).txs.length, 1)
      // block 2: epoch 2, wrapped to the 199 active doctors
      const active = leader.keyEpochs.authority.activeDoctors(1)
      assert.equal(active.length, 199)
      assert.ok(!active.some((d) => equalBytes(d.id, revoked)))
      const { tx, key } = buildKeyEpochTx(pq, manager0, { chainId: genesis.chainId, epoch: 2, recipients: active })
      assert.ok(encodeTx(tx).length > MAX_TX_BYTES, `${encodeTx(tx).length} bytes: above the limit of every other tx kind`)
      await gossip(tx)
      const b2 = await round(2)
      assert.deepEqual(b2.txs.map((t) => t.type), ['key-epoch'])
      for (const [i, app] of apps.entries()) {
        assert.equal(app.keyEpochs.latest, 2)
        assert.equal((await keyEpochsRaw(chains[i]?.kv as ChainStore['kv'], 1)).length, 1)
      }
      // every remaining doctor opens the same key; the revoked one has no entry
      const committed = b2.txs[0] as KeyEpochTx
      assert.equal(committed.recipients.length, 199)
      const ctx = keyEpochContext(genesis.chainId, 2)
      for (const d of extra.slice(0, 5).concat(extra.slice(-5))) {
        const id = sha256(d.sigPublicKey)
        const entry = committed.recipients.find((r) => equalBytes(r.doctor, id))
        assert.ok(entry !== undefined)
        const opened = openIndexKey(pq, { doctorId: entry.doctor, kemKeyId: entry.kemKeyId, kemCiphertext: entry.kemCiphertext, sealed: entry.sealed }, d.kem.secretKey, committed.keyId, ctx)
        assert.ok(equalBytes(opened, key))
      }
      assert.equal(committed.recipients.find((r) => equalBytes(r.doctor, revoked)), undefined)
    } finally {
      for (const c of chains) await c.close()
      for (const r of roots) await r.remove()
    }
  })

  it('follows the authority it is given: after a revocation the epoch must leave the revoked doctor out', async () => {
    const remaining = doctors.slice(0, 2)
    const authority: KeyEpochAuthority = { ...genesisKeyEpochAuthority(files.genesis), activeDoctors: () => remaining }
    await withApp(async (app) => {
      const all = await admit(app, epochTx(2))
      assert.match(all.reason ?? '', new RegExp(`doctor ${toHex((doctors[2] as ActiveDoctor).id)} is not an active doctor`))
      assert.deepEqual(await admit(app, epochTx(2, remaining)), { verdict: 'ACCEPT' })
    }, authority)
  })
})
