/**
 * Governance txs of a hospital (docs/GOVERNANCE.md): a hospital (a manager) registers, rotates and
 * revokes its own doctors (`DoctorTx`) and admits or removes its own user nodes (`UserNodeTx`),
 * each tx signed with the hospital manager's ML-DSA-65 key.
 *
 * A hospital is named by its `hospital id`: SHA-256 of its manager's FIRST ML-DSA-65 public key
 * (the genesis key), which does not change when the manager rotates its key (`hospitalId`).
 *
 * Signing payload (canonical dag-cbor, domain-separated, bound to the chain):
 * `['pqmed/governance-sig/1', chainId, tx without its signature]`. Pure: no I/O, no clock.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { sha256, type PqBackend, type SigVerifier } from '../crypto/index.js'
import { MAX_KEY_EPOCH_RECIPIENTS } from './key-epoch.js'
import { ID_BYTES, KEM_PUBLIC_KEY_BYTES, SIG_PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './limits.js'
import { bytes, invalid, record, uint, type Obj } from './shape.js'

/** Longest doctor name (UTF-16 code units). */
export const MAX_DOCTOR_NAME = 128
/** Longest libp2p peer id string accepted in a `UserNodeTx`. */
export const MAX_PEER_ID_LENGTH = 128
/** Base58btc (Qm…/12D3…) or base32 CID (b…) peer id text; the node checks it fully with libp2p. */
const PEER_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{16,128}$|^b[a-z2-7]{16,127}$/

export const GOVERNANCE_SIG_TAG = 'pqmed/governance-sig/1'

/**
 * Caps on what one hospital may register, enforced by the managers on admission and in every
 * proposal (`Registry.check` / `conflict`, src/node/app/governance.ts), so that no hospital (any
 * manager key, stolen or careless) can grow the registry every manager keeps in memory, or the
 * key epochs every active doctor must be wrapped in, without bound. A rotation replaces a key and
 * counts once; a revoked doctor or removed user node frees its place from the next block on.
 * Changing one is a consensus change. docs/GOVERNANCE.md states them.
 */
export interface GovernanceCaps {
  /** Active doctors of one hospital. */
  doctorsPerHospital: number
  /** Active doctors of the whole consortium (member hospitals): at most what one key epoch can be wrapped to. */
  doctors: number
  /** User nodes one hospital has admitted on chain and not removed. */
  userNodesPerHospital: number
}

export const MAX_ACTIVE_DOCTORS_PER_HOSPITAL = 400
/** MAX_KEY_EPOCH_RECIPIENTS (src/blocks/key-epoch.ts): a key epoch is always possible. */
export const MAX_ACTIVE_DOCTORS = MAX_KEY_EPOCH_RECIPIENTS
export const MAX_ACTIVE_USER_NODES_PER_HOSPITAL = 256
export const GOVERNANCE_CAPS: Readonly<GovernanceCaps> = Object.freeze({
  doctorsPerHospital: MAX_ACTIVE_DOCTORS_PER_HOSPITAL,
  doctors: MAX_ACTIVE_DOCTORS,
  userNodesPerHospital: MAX_ACTIVE_USER_NODES_PER_HOSPITAL
})

/** A doctor joins a hospital: its name and public keys. `doctor` is SHA-256(sigPublicKey). */
export interface DoctorAddTx {
  type: 'doctor'
  action: 'add'
  hospital: Uint8Array // hospital id (32 bytes): the signing hospital, which the doctor belongs to
  doctor: Uint8Array // the new doctor id: SHA-256(sigPublicKey)
  name: string
  sigPublicKey: Uint8Array // ML-DSA-65, 1952 bytes
  kemPublicKey: Uint8Array // ML-KEM-768, 1184 bytes
  time: number
  signature: Uint8Array // ML-DSA-65 by the hospital's manager key
}

/** A doctor's keys are replaced: `doctor` (the current id) is retired, SHA-256(sigPublicKey) is its new id. */
export interface DoctorRotateTx {
  type: 'doctor'
  action: 'rotate'
  hospital: Uint8Array
  doctor: Uint8Array // the doctor's current (active) id
  sigPublicKey: Uint8Array // the new ML-DSA-65 key
  kemPublicKey: Uint8Array // the new ML-KEM-768 key
  time: number
  signature: Uint8Array
}

/** A doctor is revoked: no record or grant signed by `doctor` is admitted after the revocation's height. */
export interface DoctorRevokeTx {
  type: 'doctor'
  action: 'revoke'
  hospital: Uint8Array
  doctor: Uint8Array // the doctor's active id
  time: number
  signature: Uint8Array
}

export type DoctorTx = DoctorAddTx | DoctorRotateTx | DoctorRevokeTx

/** A user node (a libp2p peer id) is admitted by, or removed from, the managers' connection gate. */
export interface UserNodeTx {
  type: 'user-node'
  action: 'add' | 'remove'
  hospital: Uint8Array
  peerId: string
  time: number
  signature: Uint8Array
}

export type GovernanceTx = DoctorTx | UserNodeTx

/** The governance tx types (`Tx['type']` values). */
export const GOVERNANCE_TX_TYPES = ['doctor', 'user-node'] as const

export function isGovernanceTx (tx: { type: string }): tx is GovernanceTx {
  return tx.type === 'doctor' || tx.type === 'user-node'
}

/** A hospital's stable id: SHA-256 of its manager's first (genesis) ML-DSA-65 public key. */
export function hospitalId (firstManagerSigPublicKey: Uint8Array): Uint8Array {
  return sha256(firstManagerSigPublicKey)
}

const DOCTOR_KEYS = {
  add: ['type', 'action', 'hospital', 'doctor', 'name', 'sigPublicKey', 'kemPublicKey', 'time', 'signature'],
  rotate: ['type', 'action', 'hospital', 'doctor', 'sigPublicKey', 'kemPublicKey', 'time', 'signature'],
  revoke: ['type', 'action', 'hospital', 'doctor', 'time', 'signature']
} as const
const USER_NODE_KEYS = ['type', 'action', 'hospital', 'peerId', 'time', 'signature'] as const

export function doctorTxShape (v: unknown): DoctorTx {
  const action = (typeof v === 'object' && v !== null) ? (v as Obj).action : undefined
  if (action !== 'add' && action !== 'rotate' && action !== 'revoke') invalid('doctor tx action must be add, rotate or revoke')
  const o = record(v, `doctor ${action} tx`, DOCTOR_KEYS[action])
  bytes(o.hospital, 'doctor tx hospital', ID_BYTES)
  const doctor = bytes(o.doctor, 'doctor tx doctor', ID_BYTES)
  if (action !== 'revoke') {
    const pk = bytes(o.sigPublicKey, 'doctor tx sigPublicKey', SIG_PUBLIC_KEY_BYTES)
    bytes(o.kemPublicKey, 'doctor tx kemPublicKey', KEM_PUBLIC_KEY_BYTES)
    if (action === 'add' && !equal(doctor, sha256(pk))) invalid('doctor add tx doctor must be SHA-256 of sigPublicKey')
  }
  if (action === 'add') {
    const name = o.name
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_DOCTOR_NAME || name.trim() !== name) {
      invalid(`doctor add tx name must be 1..${MAX_DOCTOR_NAME} characters without leading or trailing spaces`)
    }
  }
  uint(o.time, 'doctor tx time')
  bytes(o.signature, 'doctor tx signature', SIGNATURE_BYTES)
  return o as unknown as DoctorTx
}

export function userNodeTxShape (v: unknown): UserNodeTx {
  const o = record(v, 'user-node tx', USER_NODE_KEYS)
  if (o.action !== 'add' && o.action !== 'remove') invalid('user-node tx action must be add or remove')
  bytes(o.hospital, 'user-node tx hospital', ID_BYTES)
  if (typeof o.peerId !== 'string' || o.peerId.length > MAX_PEER_ID_LENGTH || !PEER_ID_PATTERN.test(o.peerId)) {
    invalid('user-node tx peerId must be a libp2p peer id (base58btc or base32)')
  }
  uint(o.time, 'user-node tx time')
  bytes(o.signature, 'user-node tx signature', SIGNATURE_BYTES)
  return o as unknown as UserNodeTx
}

function equal (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** A governance tx without its signature (what the hospital signs). */
export type UnsignedGovernanceTx = Omit<DoctorAddTx, 'signature'> | Omit<DoctorRotateTx, 'signature'> | Omit<DoctorRevokeTx, 'signature'> | Omit<UserNodeTx, 'signature'>
type Unsigned = UnsignedGovernanceTx

/**
 * Canonical signing payload: `dag-cbor(['pqmed/governance-sig/1', chainId, tx without signature])`.
 * Throws BlockError('INVALID') on a wrongly shaped tx.
 */
export function governanceSigningPayload (chainId: string, tx: Unsigned): Uint8Array {
  const { signature: _ignored, ...rest } = tx as Unsigned & { signature?: Uint8Array }
  const withSig = { ...rest, signature: new Uint8Array(SIGNATURE_BYTES) }
  if (rest.type === 'doctor') doctorTxShape(withSig)
  else if (rest.type === 'user-node') userNodeTxShape(withSig)
  else invalid('not a governance tx')
  if (typeof chainId !== 'string' || chainId.length === 0) invalid('chainId must be a non-empty string')
  const out = dagCbor.encode([GOVERNANCE_SIG_TAG, chainId, rest])
  return out.constructor === Uint8Array ? out : new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** Signs an unsigned governance tx with the hospital manager's ML-DSA-65 secret key; returns the signed tx. */
export function signGovernanceTx<T extends Unsigned> (pq: PqBackend, chainId: string, managerSigSecretKey: Uint8Array, tx: T): T & { signature: Uint8Array } {
  return { ...tx, signature: pq.sign(governanceSigningPayload(chainId, tx), managerSigSecretKey) }
}

/** True iff `tx.signature` is `managerSigPublicKey`'s signature over the tx's payload on `chainId`. Never throws. */
export function verifyGovernanceSignature (verifier: SigVerifier, chainId: string, managerSigPublicKey: Uint8Array, tx: GovernanceTx): boolean {
  try {
    return verifier.verify(tx.signature, governanceSigningPayload(chainId, tx), managerSigPublicKey)
  } catch {
    return false
  }
}
