/**
 * The one place where `bench:scale` drives a manager's application code (src/node/app): it opens
 * manager 0's stores and commits blocks the way a running manager does, without the network:
 * every submission goes through `validateSubmission` (with the application's committed state) and
 * `admit` (ciphertexts stored, mempool); the block is `buildProposal`'s, checked by
 * `prepare` (the committed state it reads, loaded from disk) and `validateProposal` on its parent, and applied by `commit` with a commit certificate signed by
 * three of the four genesis managers (ML-DSA-65 over `certificateSignBytes`), verified before use.
 * Kept small on purpose: the application's internals change, this file follows them.
 */
import { join } from 'node:path'
import { certificateSignBytes, hospitalIdOf, quorumSize, verifyCertificate, type CommitCertificate } from '../../src/blocks/index.js'
import type { PqBackend } from '../../src/crypto/index.js'
import { Application } from '../../src/node/app/application.js'
import { BlobStore } from '../../src/node/blob-store.js'
import { ChainStore } from '../../src/node/chain-store.js'
import { genesisHeaderOf, type Genesis } from '../../src/node/genesis.js'
import { quietLog } from '../../src/node/log.js'
import { decodeSubmission, validateSubmission } from '../../src/node/validation/tx.js'

/** LevelDB open files of the filler's stores. */
const FILL_MAX_OPEN_FILES = 10_000
/**
 * Committed facts the filler's application keeps in memory (a manager's default is 100,000): a
 * record creates about 16 (its tx, its id, its ~14 index labels), so up to ~125,000 records every
 * committed fact is in memory and the commit checks read nothing from disk; past that they read
 * the facts they need from the store, as a manager does (about 200 bytes of memory per fact).
 */
const FILL_MAX_FACTS = 2_000_000

export interface FillTarget {
  /** Height of the store's head. */
  readonly height: number
  /** Commits one block holding exactly these submissions (the next height, view 0). */
  addBlock: (submissions: readonly Uint8Array[]) => Promise<void>
  close: () => Promise<void>
}

export async function openFillTarget (o: { dataDir: string, genesis: Genesis, pq: PqBackend, managerSecretKeys: readonly Uint8Array[] }): Promise<FillTarget> {
  const g = o.genesis
  // the filler keeps every table file of the growing stores open (LevelDB's table cache): a commit
  // looks up every label, record id and tx hash it writes, and at 10^6 records the stores hold
  // thousands of tables (a manager process measured later opens them with its own settings)
  const chain = await ChainStore.open(join(o.dataDir, 'chain'), genesisHeaderOf(g), { maxOpenFiles: FILL_MAX_OPEN_FILES })
  const blobs = await BlobStore.open(join(o.dataDir, 'blobs'), { maxOpenFiles: FILL_MAX_OPEN_FILES })
  const app = new Application({ genesis: g, hospitalId: hospitalIdOf(g.managers[0]?.sigPublicKey ?? new Uint8Array(0)), pq: o.pq, chain, blobs, log: quietLog, hooks: {}, dataDir: o.dataDir, maxFacts: FILL_MAX_FACTS })
  await app.restore()
  const signers = o.managerSecretKeys.slice(0, quorumSize(g.managers.length))
  const certCtx = { chainId: g.chainId, managers: g.managers.map((m) => m.sigPublicKey), verifier: o.pq }
  return {
    get height () { return chain.head.height },
    async addBlock (submissions) {
      const ctx = app.txContext()
      const admitted = await Promise.all(submissions.map(async (bytes) => {
        const d = decodeSubmission(bytes)
        if (d.verdict !== 'ACCEPT') throw new Error(`submission refused: ${d.code}: ${d.reason}`)
        const v = await validateSubmission(d.value, ctx)
        if (v.verdict !== 'ACCEPT') throw new Error(`submission refused: ${v.code}: ${v.reason}`)
        return await app.admit(v.value)
      }))
      if (admitted.includes(false)) throw new Error('a submission was already pending')
      const height = chain.head.height + 1
      const value = app.buildProposal(height, 0, submissions.length)
      if (value === null) throw new Error(`nothing to propose at height ${height}`)
      // as a replica would: load the committed state the checks read, then validate
      await app.prepare(value)
      const r = app.validateProposal(height, value, chain.head.hash)
      if (!r.ok) throw new Error(`proposal for height ${height} refused: ${r.reason}`)
      const unsigned = { chainId: g.chainId, height, view: 0, headerHash: value.hash }
      const msg = certificateSignBytes(unsigned)
      const cert: CommitCertificate = { ...unsigned, signatures: signers.map((sk, validator) => ({ validator, signature: o.pq.sign(msg, sk) })) }
      const check = verifyCertificate(cert, certCtx, { height, headerHash: value.hash })
      if (!check.ok) throw new Error(`commit certificate for height ${height} does not verify: ${check.reason}`)
      const out = await app.commit(value, cert, [])
      if (out.keys.length !== submissions.length) throw new Error(`block ${height} holds ${out.keys.length} of ${submissions.length} txs`)
    },
    async close () { await chain.close(); await blobs.close() }
  }
}
