/**
 * Key epochs of the consortium index-2 key, client side: issuing one (a hospital's manager
 * identity wraps a fresh key to every active doctor and signs the `KeyEpochTx`), and fetching the
 * committed ones into the consortium key file (format 2, ./consortium.ts).
 *
 * Whoever issues an epoch generates its key, so that manager's operator learns it (the key only
 * lives in this process's memory and is never written). That grants nothing new: a hospital
 * registers its own doctors and could always obtain the key through one of them (docs/SSE.md).
 */
import { encodeSubmission, MAX_KEY_EPOCH_RECIPIENTS, MAX_KEY_EPOCH_TX_BYTES, signKeyEpochTx, type KeyEpochTx } from '../blocks/index.js'
import { randomBytes, type PqBackend } from '../crypto/index.js'
import { indexKeyId, keyEpochContext, wrapIndexKey } from '../records/index.js'
import type { SubmitResultJson } from '../rpc/backend.js'
import { addKeyEpochs, latestEpoch, type ConsortiumKeyRing } from './consortium.js'
import { ClientError } from './errors.js'
import { hex, unb64, unhex, type RpcClient } from './rpc.js'

/** A manager's signing identity: its current ML-DSA-65 key pair and its hospital id. */
export interface HospitalSigner {
  /** SHA-256 of the manager's first (genesis) ML-DSA-65 public key. */
  hospitalId: Uint8Array
  sigSecretKey: Uint8Array
}

/** Larger than any epoch: `chain_getKeyEpochs` with it returns only the newest number and the recipients. */
const NO_EPOCHS = 0xffffffff

/**
 * Builds and signs epoch `epoch`: `key` (default fresh random) wrapped to each recipient (ordered
 * by doctor id, as the tx requires) under `keyEpochContext(chainId, epoch)`.
 */
export function buildKeyEpochTx (pq: PqBackend, signer: HospitalSigner, o: { chainId: string, epoch: number, recipients: ReadonlyArray<{ id: Uint8Array, kemPublicKey: Uint8Array }>, key?: Uint8Array, time?: number }): { tx: KeyEpochTx, key: Uint8Array } {
  if (o.recipients.length === 0) throw new ClientError('BAD_INPUT', 'a key epoch needs at least one active doctor')
  if (o.recipients.length > MAX_KEY_EPOCH_RECIPIENTS) {
    throw new ClientError('BAD_INPUT', `a key epoch is wrapped to at most ${MAX_KEY_EPOCH_RECIPIENTS} doctors (one tx of at most ${MAX_KEY_EPOCH_TX_BYTES} bytes, MAX_KEY_EPOCH_TX_BYTES; the managers keep the active doctors at or below it, MAX_ACTIVE_DOCTORS); the consortium has ${o.recipients.length} active doctors, so no epoch was issued`)
  }
  const key = o.key ?? randomBytes(32)
  const context = keyEpochContext(o.chainId, o.epoch)
  const recipients = [...o.recipients]
    .sort((a, b) => (hex(a.id) < hex(b.id) ? -1 : hex(a.id) > hex(b.id) ? 1 : 0))
    .map((r) => {
      const w = wrapIndexKey(pq, key, { doctorId: r.id, kemPublicKey: r.kemPublicKey }, context)
      return { doctor: w.doctorId, kemKeyId: w.kemKeyId, kemCiphertext: w.kemCiphertext, sealed: w.sealed }
    })
  const tx = signKeyEpochTx(pq, signer.sigSecretKey, o.chainId, {
    type: 'key-epoch', epoch: o.epoch, keyId: indexKeyId(key), recipients, hospital: signer.hospitalId, time: o.time ?? Date.now()
  })
  return { tx, key }
}

export interface RotateOutcome {
  epoch: number
  keyId: string
  hospital: string
  doctors: string[]
  result: SubmitResultJson
}

/**
 * Issues the next key epoch on the node behind `rpc`: asks for the newest epoch and the active
 * doctors, wraps a fresh key to them, signs it as `signer`, submits it and waits for its commit.
 * The key is dropped when this returns.
 */
export async function rotateConsortiumKey (pq: PqBackend, rpc: RpcClient, signer: HospitalSigner): Promise<RotateOutcome> {
  const { chainId } = await rpc.nodeInfo()
  const state = await rpc.getKeyEpochs(NO_EPOCHS)
  const recipients = state.recipients.map((r) => ({ id: unhex(r.id, 'doctor id'), kemPublicKey: unb64(r.kemPublicKey) }))
  const epoch = state.latest + 1
  const { tx, key } = buildKeyEpochTx(pq, signer, { chainId, epoch, recipients })
  key.fill(0)
  const result = await rpc.submitKeyEpoch(encodeSubmission(tx, []), true)
  return { epoch, keyId: hex(tx.keyId), hospital: hex(signer.hospitalId), doctors: state.recipients.map((r) => r.id), result }
}

/**
 * Fetches the committed epochs newer than the ring's newest and adds them (`addKeyEpochs`). An
 * answer holds as many epochs as fit its byte budget (an epoch wrapped to 1,600 doctors is about
 * 2 MB), so this asks again from the newest one added while the node says there are more.
 * Returns the new ring (unchanged if nothing was added) and the epochs added.
 */
export async function fetchKeyEpochs (rpc: RpcClient, ring: ConsortiumKeyRing): Promise<{ ring: ConsortiumKeyRing, added: number[], latest: number }> {
  const { chainId } = await rpc.nodeInfo()
  const added: number[] = []
  for (;;) {
    const answer = await rpc.getKeyEpochs(latestEpoch(ring))
    const r = addKeyEpochs(ring, chainId, answer.epochs)
    ring = r.ring
    added.push(...r.added)
    // done: nothing new (the answer was empty or added nothing), or the node's newest reached
    if (r.added.length === 0 || latestEpoch(ring) >= answer.latest) return { ring, added, latest: Math.max(answer.latest, latestEpoch(ring)) }
  }
}
