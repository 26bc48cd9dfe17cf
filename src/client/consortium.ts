/**
 * The consortium index key file (`consortium-key.json`): the index-2 key (keywords, file types,
 * birth years), which doctors share out of band and which never goes to a node. The file holds
 * the key wrapped to each doctor's ML-KEM-768 public key (KEM-DEM: ML-KEM-768 encapsulation →
 * HKDF-SHA256 → AES-256-GCM), plus each doctor's public id (SHA-256 of its ML-DSA-65 key): the
 * list of index writers a search covers. It contains nothing secret in clear.
 *
 * ```json
 * { "format": "pqmed-consortium-key/1",
 *   "keyId": "<hex: SHA-256('pqmed/consortium-key-id/v1' ‖ key), to tell key versions apart>",
 *   "doctors": [{ "name": "doctor-0", "doctorId": "<hex>", "kemKeyId": "<hex SHA-256(kem pk)>",
 *                 "kemCiphertext": "<base64, 1088 bytes>", "sealed": "<base64 nonce ‖ E(key) ‖ tag>" }] }
 * ```
 * AEAD associated data and HKDF info: `framed('pqmed/consortium-key/v1', keyId, doctorId, kemKeyId)`.
 */
import { CryptoError, randomBytes, sha256, SUITE, utf8, type PqBackend } from '../crypto/index.js'
import { indexKeyId, kemKeyId, kemPublicKeyFromSecretKey, keyEpochContext, openIndexKey, RecordError, wrapIndexKey } from '../records/index.js'
import type { KeyEpochJson } from '../rpc/backend.js'
import { ClientError } from './errors.js'
import { b64, hex, unb64, unhex } from './rpc.js'

export const CONSORTIUM_KEY_FORMAT = 'pqmed-consortium-key/1'
const TAG = 'pqmed/consortium-key/v1'

export interface ConsortiumKeyEntry {
  name: string
  doctorId: string
  kemKeyId: string
  kemCiphertext: string
  sealed: string
}

export interface ConsortiumKeyFile {
  format: typeof CONSORTIUM_KEY_FORMAT
  keyId: string
  doctors: ConsortiumKeyEntry[]
}

/** A doctor as listed in the genesis (`genesis.doctors` can be passed as is). */
export interface ConsortiumMember {
  name: string
  sigPublicKey: Uint8Array
  kemPublicKey: Uint8Array
}

/** Wraps `key` (default: a fresh random 32-byte key) to every member. */
export function createConsortiumKeyFile (pq: PqBackend, members: readonly ConsortiumMember[], key: Uint8Array = randomBytes(32)): ConsortiumKeyFile {
  if (!Array.isArray(members) || members.length === 0) throw new ClientError('BAD_INPUT', 'a consortium needs at least one doctor')
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new ClientError('BAD_INPUT', 'the consortium key must be 32 bytes')
  const keyId = indexKeyId(key)
  const doctors = members.map((m) => {
    if (!(m.sigPublicKey instanceof Uint8Array) || m.sigPublicKey.length !== SUITE.sigPublicKeyBytes) throw new ClientError('BAD_INPUT', `doctor ${m.name}: bad ML-DSA-65 public key`)
    const w = wrapIndexKey(pq, key, { doctorId: sha256(m.sigPublicKey), kemPublicKey: m.kemPublicKey }, V1_CONTEXT)
    return { name: m.name, doctorId: hex(w.doctorId), kemKeyId: hex(w.kemKeyId), kemCiphertext: b64(w.kemCiphertext), sealed: b64(w.sealed) }
  })
  return { format: CONSORTIUM_KEY_FORMAT, keyId: hex(keyId), doctors }
}

/** Checks the shape of a parsed consortium key file. */
export function parseConsortiumKeyFile (raw: unknown): ConsortiumKeyFile {
  const f = raw as Partial<ConsortiumKeyFile> | null
  if ((f as { format?: unknown } | null)?.format === 'pqmed-consortium-key/2') {
    throw new ClientError('BAD_CONSORTIUM_KEY', 'this is a pqmed-consortium-key/2 file (key epochs): read it with parseConsortiumKeyRing')
  }
  if (f === null || typeof f !== 'object' || f.format !== CONSORTIUM_KEY_FORMAT) throw new ClientError('BAD_CONSORTIUM_KEY', `not a ${CONSORTIUM_KEY_FORMAT} file`)
  if (typeof f.keyId !== 'string' || !/^[0-9a-f]{64}$/.test(f.keyId) || !Array.isArray(f.doctors)) throw new ClientError('BAD_CONSORTIUM_KEY', 'consortium key file needs keyId and doctors')
  for (const d of f.doctors) {
    if (d === null || typeof d !== 'object' || typeof d.name !== 'string' || typeof d.kemCiphertext !== 'string' || typeof d.sealed !== 'string' ||
      ![d.doctorId, d.kemKeyId].every((x) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x))) {
      throw new ClientError('BAD_CONSORTIUM_KEY', 'each doctor entry needs name, doctorId, kemKeyId, kemCiphertext and sealed')
    }
  }
  return { format: CONSORTIUM_KEY_FORMAT, keyId: f.keyId, doctors: f.doctors }
}

/** The index writers (doctor ids) listed in the file. */
export function consortiumWriters (file: ConsortiumKeyFile): Uint8Array[] {
  return parseConsortiumKeyFile(file).doctors.map((d) => unhex(d.doctorId, 'doctorId'))
}

/** Opens the key with a doctor's ML-KEM-768 secret key. Throws BAD_CONSORTIUM_KEY if the file has no entry for it or it fails to open. */
export function openConsortiumKey (pq: PqBackend, file: ConsortiumKeyFile, doctorKemSecretKey: Uint8Array): Uint8Array {
  const f = parseConsortiumKeyFile(file)
  const e = findEntry(f.doctors, doctorKemSecretKey)
  if (e === undefined) throw new ClientError('BAD_CONSORTIUM_KEY', 'the consortium key file has no entry for this doctor')
  return openEntry(pq, e, f.keyId, doctorKemSecretKey, V1_CONTEXT, 'the consortium key')
}

const V1_CONTEXT = [utf8(TAG)]

function findEntry<E extends { kemKeyId: string }> (entries: readonly E[], kemSecretKey: Uint8Array): E | undefined {
  const kemId = hex(kemKeyId(kemPublicKeyFromSecretKey(kemSecretKey)))
  return entries.find((d) => d.kemKeyId === kemId)
}

function openEntry (pq: PqBackend, e: KeyRingEntry, keyId: string, kemSecretKey: Uint8Array, context: Uint8Array[], what: string): Uint8Array {
  try {
    return openIndexKey(pq, { doctorId: unhex(e.doctorId, 'doctorId'), kemKeyId: unhex(e.kemKeyId, 'kemKeyId'), kemCiphertext: unb64(e.kemCiphertext), sealed: unb64(e.sealed) }, kemSecretKey, unhex(keyId, 'keyId'), context)
  } catch (err) {
    if (err instanceof RecordError || err instanceof CryptoError) throw new ClientError('BAD_CONSORTIUM_KEY', `cannot open ${what}: ${err.message}`)
    throw err
  }
}

// ---------------------------------------------------------------------------------------------
// Format 2: every key epoch of the index-2 key.

/**
 * The consortium key file, format 2 (`pqmed-consortium-key/2`): every epoch of the index-2 key
 * this file knows, each wrapped to the doctors active when it was issued. Epoch 1 is the genesis
 * key (the whole of a format-1 file); epochs 2, 3, … come from the chain (`KeyEpochTx`, fetched
 * with `chain_getKeyEpochs` and added by `addKeyEpochs`). Like format 1 it holds nothing secret in
 * clear, so one file can be shared by every doctor: each opens the epochs it is wrapped for.
 *
 * ```json
 * { "format": "pqmed-consortium-key/2", "chainId": "<set when the first on-chain epoch is added>",
 *   "epochs": [{ "epoch": 1, "keyId": "<hex>", "doctors": [<format-1 entries>] },
 *              { "epoch": 2, "keyId": "<hex>", "height": 17, "hospital": "<hex>",
 *                "doctors": [{ "doctorId": "<hex>", "kemKeyId": "<hex>", "kemCiphertext": "<base64>", "sealed": "<base64>" }] }] }
 * ```
 * On-chain epochs are wrapped with `keyEpochContext(chainId, epoch)` (src/records/index-key.ts).
 */
export const CONSORTIUM_KEYRING_FORMAT = 'pqmed-consortium-key/2'

export interface KeyRingEntry {
  name?: string
  doctorId: string
  kemKeyId: string
  kemCiphertext: string
  sealed: string
}

export interface KeyRingEpoch {
  epoch: number
  keyId: string
  /** On-chain epochs: the height that committed it and the issuing hospital's id. */
  height?: number
  hospital?: string
  doctors: KeyRingEntry[]
}

export interface ConsortiumKeyRing {
  format: typeof CONSORTIUM_KEYRING_FORMAT
  chainId?: string
  epochs: KeyRingEpoch[]
}

/** An opened epoch key. */
export interface EpochKey {
  epoch: number
  key: Uint8Array
}

const HEX64 = /^[0-9a-f]{64}$/

function checkEntries (doctors: unknown, what: string): KeyRingEntry[] {
  if (!Array.isArray(doctors) || doctors.length === 0) throw new ClientError('BAD_CONSORTIUM_KEY', `${what} needs a non-empty doctors list`)
  for (const d of doctors as Array<Partial<KeyRingEntry> | null>) {
    if (d === null || typeof d !== 'object' || typeof d.kemCiphertext !== 'string' || typeof d.sealed !== 'string' || (d.name !== undefined && typeof d.name !== 'string') ||
      ![d.doctorId, d.kemKeyId].every((x) => typeof x === 'string' && HEX64.test(x))) {
      throw new ClientError('BAD_CONSORTIUM_KEY', `${what}: each doctor entry needs doctorId, kemKeyId, kemCiphertext and sealed`)
    }
  }
  return doctors as KeyRingEntry[]
}

/**
 * Reads a consortium key file of either format: a format-1 file is epoch 1 of a key ring.
 * Throws BAD_CONSORTIUM_KEY for anything else (naming the format found), and for epochs out of order.
 */
export function parseConsortiumKeyRing (raw: unknown): ConsortiumKeyRing {
  const f = raw as { format?: unknown } | null
  if (f !== null && typeof f === 'object' && f.format === CONSORTIUM_KEY_FORMAT) {
    const v1 = parseConsortiumKeyFile(raw)
    return { format: CONSORTIUM_KEYRING_FORMAT, epochs: [{ epoch: 1, keyId: v1.keyId, doctors: v1.doctors }] }
  }
  if (f === null || typeof f !== 'object' || f.format !== CONSORTIUM_KEYRING_FORMAT) {
    const found = f !== null && typeof f === 'object' && typeof f.format === 'string' ? `format ${f.format.slice(0, 64)}` : 'no format field'
    throw new ClientError('BAD_CONSORTIUM_KEY', `not a consortium key file (${found}; expected ${CONSORTIUM_KEY_FORMAT} or ${CONSORTIUM_KEYRING_FORMAT}): a newer pqmed may have written it`)
  }
  const r = raw as Partial<ConsortiumKeyRing>
  if (r.chainId !== undefined && typeof r.chainId !== 'string') throw new ClientError('BAD_CONSORTIUM_KEY', 'chainId must be a string')
  if (!Array.isArray(r.epochs) || r.epochs.length === 0) throw new ClientError('BAD_CONSORTIUM_KEY', 'a consortium key file needs at least one epoch')
  const epochs = r.epochs.map((e: Partial<KeyRingEpoch> | null, i) => {
    if (e === null || typeof e !== 'object' || e.epoch !== i + 1 || typeof e.keyId !== 'string' || !HEX64.test(e.keyId)) {
      throw new ClientError('BAD_CONSORTIUM_KEY', `epoch entry ${i} must be epoch ${i + 1} with a keyId (epochs are listed from 1, in order)`)
    }
    if ((e.height !== undefined && (!Number.isSafeInteger(e.height) || e.height < 1)) || (e.hospital !== undefined && (typeof e.hospital !== 'string' || !HEX64.test(e.hospital)))) {
      throw new ClientError('BAD_CONSORTIUM_KEY', `epoch ${i + 1}: bad height or hospital`)
    }
    return { ...e, doctors: checkEntries(e.doctors, `epoch ${i + 1}`) } as KeyRingEpoch
  })
  if (epochs.length > 1 && r.chainId === undefined) throw new ClientError('BAD_CONSORTIUM_KEY', 'a file with on-chain epochs must name its chainId')
  return { format: CONSORTIUM_KEYRING_FORMAT, ...(r.chainId !== undefined ? { chainId: r.chainId } : {}), epochs }
}

/** The newest epoch the file knows. */
export function latestEpoch (ring: ConsortiumKeyRing): number { return ring.epochs.length }

/**
 * Every index writer of the file: the doctors of all its epochs (a search covers each of them
 * under each epoch key; a doctor that left still wrote under the epochs it held).
 */
export function keyRingWriters (ring: ConsortiumKeyRing): Uint8Array[] {
  const ids = new Set<string>()
  for (const e of ring.epochs) for (const d of e.doctors) ids.add(d.doctorId)
  return [...ids].sort().map((id) => unhex(id, 'doctorId'))
}

/**
 * Opens every epoch key wrapped to this doctor (`doctorKemSecretKey`), oldest first. Epochs it
 * is not wrapped for are skipped (it joined later, or was removed); an entry for it that does not
 * open throws BAD_CONSORTIUM_KEY naming the epoch, as does a file with no entry for it at all.
 */
export function openKeyRing (pq: PqBackend, ring: ConsortiumKeyRing, doctorKemSecretKey: Uint8Array): EpochKey[] {
  const out: EpochKey[] = []
  for (const e of ring.epochs) {
    const entry = findEntry(e.doctors, doctorKemSecretKey)
    if (entry === undefined) continue
    const context = e.epoch === 1 ? V1_CONTEXT : keyEpochContext(ring.chainId as string, e.epoch)
    out.push({ epoch: e.epoch, key: openEntry(pq, entry, e.keyId, doctorKemSecretKey, context, `key epoch ${e.epoch} (ask a manager to issue a new epoch: pqmed consortium-key rotate)`) })
  }
  if (out.length === 0) throw new ClientError('BAD_CONSORTIUM_KEY', `the consortium key file has no entry for this doctor in any of its ${ring.epochs.length} epochs (a doctor registered or re-keyed after the newest epoch needs a new one: a manager runs pqmed consortium-key rotate, then the doctor fetches it)`)
  return out
}

/**
 * Adds on-chain epochs (from `chain_getKeyEpochs`) to a key ring: each must be the next epoch
 * number. An epoch the ring already holds must have the same key id (else BAD_CONSORTIUM_KEY:
 * the file belongs to another chain or was altered); a ring of another chain is refused.
 * Returns a new ring and the epochs added.
 */
export function addKeyEpochs (ring: ConsortiumKeyRing, chainId: string, epochs: readonly KeyEpochJson[]): { ring: ConsortiumKeyRing, added: number[] } {
  if (ring.chainId !== undefined && ring.chainId !== chainId) {
    throw new ClientError('BAD_CONSORTIUM_KEY', `the consortium key file belongs to chain ${ring.chainId}, the node to chain ${chainId}`)
  }
  const next = [...ring.epochs]
  const added: number[] = []
  for (const e of [...epochs].sort((a, b) => a.epoch - b.epoch)) {
    const t = e.tx
    if (t.epoch !== e.epoch) throw new ClientError('BAD_CONSORTIUM_KEY', `the node's epoch ${e.epoch} holds a tx of epoch ${t.epoch}`)
    const have = next[e.epoch - 1]
    if (have !== undefined) {
      if (have.keyId !== t.keyId) throw new ClientError('BAD_CONSORTIUM_KEY', `the file's key epoch ${e.epoch} (key id ${have.keyId}) differs from the chain's (${t.keyId}): the file belongs to another chain or was altered`)
      continue
    }
    if (e.epoch !== next.length + 1) throw new ClientError('BAD_CONSORTIUM_KEY', `the node skipped key epochs: got epoch ${e.epoch} after ${next.length}`)
    next.push({ epoch: e.epoch, keyId: t.keyId, height: e.height, hospital: t.hospital, doctors: t.recipients.map((r) => ({ doctorId: r.doctor, kemKeyId: r.kemKeyId, kemCiphertext: r.kemCiphertext, sealed: r.sealed })) })
    added.push(e.epoch)
  }
  return { ring: { format: CONSORTIUM_KEYRING_FORMAT, chainId: next.length > 1 || ring.chainId !== undefined ? chainId : undefined, epochs: next }, added }
}
