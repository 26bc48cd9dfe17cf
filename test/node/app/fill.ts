/** Fills a chain store through the real path (validateSubmission → admit → buildProposal → prepare → validateProposal → commit). */
import { join } from 'node:path'
import { hospitalIdOf, type Header } from '../../../src/blocks/index.js'
import type { Value } from '../../../src/consensus/index.js'
import { loadPqBackend, type PqBackend } from '../../../src/crypto/index.js'
import { Application } from '../../../src/node/app/application.js'
import type { BlobStore } from '../../../src/node/blob-store.js'
import { ChainStore } from '../../../src/node/chain-store.js'
import { createDevnet, type DevnetFiles } from '../../../src/node/devnet.js'
import { genesisHeaderOf } from '../../../src/node/genesis.js'
import { quietLog } from '../../../src/node/log.js'
import { decodeSubmission, validateSubmission, type Submission } from '../../../src/node/validation/tx.js'
import { TestDoctor } from '../helpers.js'

/** A blob store that keeps nothing (these tests look at the chain store). */
export const noBlobs = { putChecked: async () => {} } as unknown as BlobStore

export interface Filled {
  files: DevnetFiles
  pq: PqBackend
  g: Header
  dir: string
  doctor: TestDoctor
}

export async function devnet (root: string, chainId = 'pqmed-app-store'): Promise<Filled> {
  const pq = await loadPqBackend()
  const files = await createDevnet({ chainId, managers: 1, doctors: 1, managerAddr: () => '/ip4/127.0.0.1/tcp/1' })
  const g = genesisHeaderOf(files.genesis)
  return { files, pq, g, dir: join(root, 'chain'), doctor: await TestDoctor.create(files, 0, pq) }
}

export function app (f: Filled, chain: ChainStore, maxFacts?: number): Application {
  return new Application({ genesis: f.files.genesis, hospitalId: hospitalIdOf(f.files.genesis.managers[0]?.sigPublicKey ?? new Uint8Array(0)), pq: f.pq, chain, blobs: noBlobs, log: quietLog, hooks: {}, maxFacts })
}

export async function submission (a: Application, bytes: Uint8Array): Promise<Submission> {
  const d = decodeSubmission(bytes)
  if (d.verdict !== 'ACCEPT') throw new Error(d.reason)
  const v = await validateSubmission(d.value, a.txContext())
  if (v.verdict !== 'ACCEPT') throw new Error(`${v.code}: ${v.reason}`)
  return v.value
}

export async function commitValue (a: Application, chain: ChainStore, value: Value): Promise<void> {
  const head = chain.head
  await a.commit(value, { chainId: chain.head.header.chainId, height: head.height + 1, view: 0, headerHash: value.hash, signatures: [] }, [])
}

/** Commits blocks of the given sizes (records each), record numbers from `from`; the submissions go to `out`. Returns the next record number. */
export async function fill (f: Filled, a: Application, chain: ChainStore, sizes: number[], from = 0, out?: Uint8Array[]): Promise<number> {
  let i = from
  for (const n of sizes) {
    for (let j = 0; j < n; j++) {
      const bytes = f.doctor.record(i++).bytes
      out?.push(bytes)
      await a.admit(await submission(a, bytes))
    }
    const head = chain.head
    const value = a.buildProposal(head.height + 1, 0, 10_000)
    if (value === null) throw new Error('nothing to propose')
    const r = a.validateProposal(head.height + 1, value, head.hash)
    if (!r.ok) throw new Error(r.reason)
    await commitValue(a, chain, value)
  }
  return i
}
