/**
 * `KeyEpochTx` (`type: 'key-epoch'`): a new consortium index-2 key (keywords, file types, birth
 * years), epoch `epoch`, wrapped to every active doctor's ML-KEM-768 key and signed by a hospital's
 * manager identity (ML-DSA-65). Epoch 1 is the key of the out-of-band `consortium-key.json`
 * (made with the genesis); on-chain epochs are 2, 3, … in order. Pure: shape, size and the
 * domain-separated signing payload; who may issue one and to whom it must be wrapped is checked by
 * the managers (`src/node/app/key-epochs.ts`), the wrapping itself is `src/records/index-key.ts`.
 *
 * Signing payload: `framed('pqmed/key-epoch-tx/v1', chainId, dag-cbor of the tx without
 * signature)`, so a signature of one chain is never valid on another, nor as another tx kind.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { framed, utf8, type SigVerifier } from '../crypto/index.js'
import { HASH_BYTES, ID_BYTES, SIGNATURE_BYTES } from './limits.js'
import { bytes, chainId, invalid, list, record, uint } from './shape.js'

/** The index key wrapped to one doctor (the fields of `WrappedIndexKey`, src/records). */
export interface KeyEpochRecipient {
  /** The doctor id (SHA-256 of its ML-DSA-65 public key): an index writer of this epoch. */
  doctor: Uint8Array
  /** SHA-256 of the ML-KEM-768 public key the key is wrapped to. */
  kemKeyId: Uint8Array
  /** ML-KEM-768 ciphertext (1088 bytes). */
  kemCiphertext: Uint8Array
  /** AES-256-GCM nonce ‖ E(key) ‖ tag (60 bytes). */
  sealed: Uint8Array
}

export interface KeyEpochTx {
  type: 'key-epoch'
  /** ≥ 2 (1 is the genesis key); each on-chain epoch is the previous one plus 1. */
  epoch: number
  /** `indexKeyId(key)` (src/records): SHA-256('pqmed/consortium-key-id/v1' ‖ key). */
  keyId: Uint8Array
  /** One entry per active doctor, ordered by doctor id (strictly ascending). */
  recipients: KeyEpochRecipient[]
  /** Hospital id of the signer: SHA-256 of its manager's first ML-DSA-65 public key. */
  hospital: Uint8Array
  /** Client timestamp, ms since the Unix epoch (signed). */
  time: number
  /** ML-DSA-65 by the hospital's current manager key over `keyEpochSigningPayload`. */
  signature: Uint8Array
}

/** ML-KEM-768 ciphertext bytes. */
const KEM_CIPHERTEXT_BYTES = 1088
/** nonce (12) ‖ key (32) ‖ tag (16). */
const SEALED_BYTES = 60
/**
 * Most doctors one key epoch is wrapped to: 1,600 entries of about 1,259 bytes (2,014,400) and the
 * rest of the tx (about 3.4 KB with its signature) stay under MAX_KEY_EPOCH_TX_BYTES (2 MiB − 1 KiB),
 * the size limit of this one tx kind (every other kind: MAX_TX_BYTES, 64 KiB). One tx per epoch:
 * an epoch commits whole, in one block, checked against one snapshot of the active doctors. The
 * managers keep the consortium's active doctors at or below this number (`MAX_ACTIVE_DOCTORS`,
 * src/blocks/governance.ts), so a key epoch is always possible; docs/SSE.md "Key epochs" states it.
 */
export const MAX_KEY_EPOCH_RECIPIENTS = 1600
/** Epoch numbers fit a u32 (they are framed as one in the wrapping context). */
export const MAX_KEY_EPOCH = 0xffffffff

const KEY_EPOCH_KEYS = ['type', 'epoch', 'keyId', 'recipients', 'hospital', 'time', 'signature'] as const
const RECIPIENT_KEYS = ['doctor', 'kemKeyId', 'kemCiphertext', 'sealed'] as const

function compare (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number)
  return a.length - b.length
}

/** Shape of a key-epoch tx (throws BlockError INVALID / OVERSIZED). */
export function keyEpochTxShape (v: unknown): KeyEpochTx {
  const o = record(v, 'key-epoch tx', KEY_EPOCH_KEYS)
  const epoch = uint(o.epoch, 'key-epoch tx epoch', MAX_KEY_EPOCH)
  if (epoch < 2) invalid('key-epoch tx epoch must be at least 2 (epoch 1 is the genesis consortium key)')
  bytes(o.keyId, 'key-epoch tx keyId', HASH_BYTES)
  const rs = list(o.recipients, 'key-epoch tx recipients', MAX_KEY_EPOCH_RECIPIENTS, 1)
  let prev: Uint8Array | undefined
  rs.forEach((r, i) => {
    const e = record(r, `key-epoch tx recipients[${i}]`, RECIPIENT_KEYS)
    const doctor = bytes(e.doctor, `key-epoch tx recipients[${i}].doctor`, ID_BYTES)
    bytes(e.kemKeyId, `key-epoch tx recipients[${i}].kemKeyId`, HASH_BYTES)
    bytes(e.kemCiphertext, `key-epoch tx recipients[${i}].kemCiphertext`, KEM_CIPHERTEXT_BYTES)
    bytes(e.sealed, `key-epoch tx recipients[${i}].sealed`, SEALED_BYTES)
    if (prev !== undefined && compare(prev, doctor) >= 0) invalid('key-epoch tx recipients must be ordered by doctor id, each doctor once')
    prev = doctor
  })
  bytes(o.hospital, 'key-epoch tx hospital', ID_BYTES)
  uint(o.time, 'key-epoch tx time')
  bytes(o.signature, 'key-epoch tx signature', SIGNATURE_BYTES)
  return o as unknown as KeyEpochTx
}

/** What the hospital signs: everything but the signature, bound to the chain id. */
export function keyEpochSigningPayload (chain: string, tx: Omit<KeyEpochTx, 'signature'>): Uint8Array {
  chainId(chain, 'chainId')
  const body = {
    type: 'key-epoch',
    epoch: tx.epoch,
    keyId: tx.keyId,
    recipients: tx.recipients.map((r) => ({ doctor: r.doctor, kemKeyId: r.kemKeyId, kemCiphertext: r.kemCiphertext, sealed: r.sealed })),
    hospital: tx.hospital,
    time: tx.time
  }
  return framed(utf8('pqmed/key-epoch-tx/v1'), utf8(chain), dagCbor.encode(body))
}

/** Signs a key-epoch tx body with a manager's ML-DSA-65 secret key. */
export function signKeyEpochTx (signer: { sign: (msg: Uint8Array, secretKey: Uint8Array) => Uint8Array }, sigSecretKey: Uint8Array, chain: string, tx: Omit<KeyEpochTx, 'signature'>): KeyEpochTx {
  const signature = signer.sign(keyEpochSigningPayload(chain, tx), sigSecretKey)
  return { ...tx, type: 'key-epoch', signature }
}

/** True iff the signature verifies under `hospitalKey` (the hospital's current manager key). Never throws. */
export function verifyKeyEpochTx (verifier: SigVerifier, hospitalKey: Uint8Array, chain: string, tx: KeyEpochTx): boolean {
  try { return verifier.verify(tx.signature, keyEpochSigningPayload(chain, tx), hospitalKey) } catch { return false }
}
