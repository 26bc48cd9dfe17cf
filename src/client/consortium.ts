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
import { aeadOpen, aeadSeal, CryptoError, equalBytes, framed, hkdfSha256, randomBytes, sha256, SUITE, utf8, type PqBackend } from '../crypto/index.js'
import { kemKeyId, kemPublicKeyFromSecretKey } from '../records/index.js'
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

const keyIdOf = (key: Uint8Array): Uint8Array => sha256(utf8('pqmed/consortium-key-id/v1'), key)

function aad (keyId: Uint8Array, doctorId: Uint8Array, kemId: Uint8Array): Uint8Array {
  return framed(utf8(TAG), keyId, doctorId, kemId)
}

/** Wraps `key` (default: a fresh random 32-byte key) to every member. */
export function createConsortiumKeyFile (pq: PqBackend, members: readonly ConsortiumMember[], key: Uint8Array = randomBytes(32)): ConsortiumKeyFile {
  if (!Array.isArray(members) || members.length === 0) throw new ClientError('BAD_INPUT', 'a consortium needs at least one doctor')
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new ClientError('BAD_INPUT', 'the consortium key must be 32 bytes')
  const keyId = keyIdOf(key)
  const doctors = members.map((m) => {
    if (!(m.sigPublicKey instanceof Uint8Array) || m.sigPublicKey.length !== SUITE.sigPublicKeyBytes) throw new ClientError('BAD_INPUT', `doctor ${m.name}: bad ML-DSA-65 public key`)
    const doctorId = sha256(m.sigPublicKey)
    const kemId = kemKeyId(m.kemPublicKey)
    const enc = pq.encapsulate(m.kemPublicKey)
    const a = aad(keyId, doctorId, kemId)
    const dek = hkdfSha256(enc.sharedSecret, sha256(enc.cipherText), a, 32)
    return { name: m.name, doctorId: hex(doctorId), kemKeyId: hex(kemId), kemCiphertext: b64(enc.cipherText), sealed: b64(aeadSeal(dek, key, framed(a, enc.cipherText))) }
  })
  return { format: CONSORTIUM_KEY_FORMAT, keyId: hex(keyId), doctors }
}

/** Checks the shape of a parsed consortium key file. */
export function parseConsortiumKeyFile (raw: unknown): ConsortiumKeyFile {
  const f = raw as Partial<ConsortiumKeyFile> | null
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
  const kemId = kemKeyId(kemPublicKeyFromSecretKey(doctorKemSecretKey))
  const e = f.doctors.find((d) => d.kemKeyId === hex(kemId))
  if (e === undefined) throw new ClientError('BAD_CONSORTIUM_KEY', 'the consortium key file has no entry for this doctor')
  const keyId = unhex(f.keyId, 'keyId')
  const ct = unb64(e.kemCiphertext)
  const a = aad(keyId, unhex(e.doctorId, 'doctorId'), kemId)
  try {
    const dek = hkdfSha256(pq.decapsulate(ct, doctorKemSecretKey), sha256(ct), a, 32)
    const key = aeadOpen(dek, unb64(e.sealed), framed(a, ct))
    if (key.length !== 32 || !equalBytes(keyIdOf(key), keyId)) throw new ClientError('BAD_CONSORTIUM_KEY', 'the opened key does not match keyId')
    return key
  } catch (err) {
    if (err instanceof ClientError) throw err
    if (err instanceof CryptoError) throw new ClientError('BAD_CONSORTIUM_KEY', `cannot open the consortium key: ${err.message}`)
    throw err
  }
}
