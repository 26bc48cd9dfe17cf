import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildRecordSubmission, type BuiltSubmission } from '../../src/client/record.js'
import { randomBytes, type PqBackend } from '../../src/crypto/index.js'
import { blobCid, type BlobStore } from '../../src/node/blob-store.js'
import { loadIdentity, type Identity } from '../../src/node/identity.js'
import type { DevnetFiles } from '../../src/node/devnet.js'
import { deriveFieldKeys, deriveIndexKey, recordOwnerId } from '../../src/puf/index.js'
import { SseClient } from '../../src/sse/index.js'

export { freePorts } from '../../src/cli/procs.js'

export async function tempDir (prefix: string): Promise<{ path: string, remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `pqmed-${prefix}-`))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true }) } }
}

const KEYWORDS = ['fever', 'cough', 'asthma', 'diabetes', 'hypertension', 'migraine', 'influenza', 'covid-19']

/** A doctor able to produce signed record submissions for synthetic patients. */
export class TestDoctor {
  readonly sse = new SseClient()
  readonly consortiumKey: Uint8Array
  private constructor (readonly id: Identity, readonly pq: PqBackend, consortiumKey: Uint8Array) { this.consortiumKey = consortiumKey }

  static async create (files: DevnetFiles, index: number, pq: PqBackend, consortiumKey = new Uint8Array(32).fill(7)): Promise<TestDoctor> {
    const f = files.doctors[index]
    if (f === undefined) throw new Error('no such doctor')
    return new TestDoctor(await loadIdentity(f), pq, consortiumKey)
  }

  record (i: number, patientSecret: Uint8Array = new Uint8Array(32).fill(i % 5 + 1), recordId: Uint8Array = randomBytes(32)): BuiltSubmission & { keywords: string[], patientId: Uint8Array } {
    const keywords = [KEYWORDS[i % KEYWORDS.length] as string, KEYWORDS[(i * 3 + 1) % KEYWORDS.length] as string]
    const patientId = new Uint8Array(32).fill(i % 5 + 1)
    const built = buildRecordSubmission(this.pq, { id: this.id.keys.id, sigSecretKey: this.id.keys.sig.secretKey }, this.sse, this.consortiumKey, {
      recordId,
      owner: recordOwnerId(patientSecret, recordId),
      fieldKeys: deriveFieldKeys(patientSecret, recordId),
      fields: {
        personalInfo: new TextEncoder().encode(JSON.stringify({ name: `patient ${i % 5}` })),
        symptoms: new TextEncoder().encode(JSON.stringify({ symptoms: keywords })),
        prescriptions: new TextEncoder().encode(JSON.stringify({ drugs: ['paracetamol'] }))
      },
      keywords,
      fileType: i % 2 === 0 ? 'lab-report' : 'discharge-summary',
      birthYear: 1950 + (i % 50),
      patient: { id: patientId, key: deriveIndexKey(patientSecret, 'patient-index') },
      time: Date.now()
    })
    return { ...built, keywords, patientId }
  }
}

/**
 * Overwrites a stored ciphertext with other bytes under its hash, as a disk fault or an intruder
 * would: the test composition reaches into the store's blockstore (production code has no such
 * method).
 */
export async function corruptBlob (store: BlobStore, hash: Uint8Array, bytes: Uint8Array): Promise<void> {
  const bs = (store as unknown as { bs: { put: (cid: ReturnType<typeof blobCid>, b: Uint8Array) => Promise<unknown> } }).bs
  await bs.put(blobCid(hash), bytes)
}
