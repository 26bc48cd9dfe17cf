/**
 * The committed key epochs of the consortium index-2 key (`KeyEpochTx`, src/blocks/key-epoch.ts)
 * and the rules a manager applies to them, at admission and in every proposal:
 *
 * | rule | verdict (admission) |
 * |---|---|
 * | epoch ≤ the newest committed epoch | IGNORE `DUPLICATE` |
 * | epoch > newest + 1 (a gap) | IGNORE `INVALID_TX` |
 * | the signing hospital is not a current manager (`hospitalKey`) | IGNORE `BAD_SIGNATURE` |
 * | the ML-DSA-65 signature does not verify under that key | REJECT `BAD_SIGNATURE` |
 * | recipients ≠ the active doctors (ids and ML-KEM key ids) of the committed state | IGNORE `INVALID_TX` |
 *
 * Recipient mismatches, gaps and a signer that is no longer a manager are IGNOREd, not REJECTed:
 * an honest manager that admitted the tx just before a doctor or manager change, or another epoch,
 * committed may gossip it. The wrapped ciphertexts
 * themselves cannot be checked by a manager (only each doctor can open its entry): a doctor whose
 * entry does not open gets a clear error from its client, and any manager can issue the next epoch.
 *
 * Who may issue an epoch: any current manager (hospital), not only the one that revoked a doctor,
 * so that any hospital can react to any revocation; an epoch cannot exclude an active doctor (it
 * must be wrapped to exactly the active set), so issuing one grants no power over others. The
 * state is small (one entry per epoch): it lives in memory, is written as its own keys
 * (`kep/<epoch>`: the tx with its position and audit path, as records are stored) in the commit's
 * atomic batch (`ops`, passed as `Application.commit`'s `extra`), and is loaded from those keys at
 * start (`load`), never by replaying the chain.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { encodeTx, recordInclusion, verifyKeyEpochTx, type Block, type KeyEpochTx } from '../../blocks/index.js'
import { equalBytes, sha256, toHex, type SigVerifier } from '../../crypto/index.js'
import { decodeStoredRecord } from '../chain-store.js'
import { pad, type BatchOp, type KvStore } from '../kv.js'
import type { NodeErrorCode } from '../errors.js'
import type { Genesis } from '../genesis.js'

/** A doctor the index key must be wrapped to. */
export interface ActiveDoctor {
  /** SHA-256 of the doctor's ML-DSA-65 public key. */
  id: Uint8Array
  kemPublicKey: Uint8Array
}

/**
 * What key-epoch validation asks about the consortium. The genesis implementation
 * (`genesisKeyEpochAuthority`) serves until the doctor registry and manager changes
 * (docs/GOVERNANCE.md) provide the chain's own answers.
 */
export interface KeyEpochAuthority {
  /** The active (registered, not revoked) doctors with their current ML-KEM-768 keys after block `height`. */
  activeDoctors: (height: number) => readonly ActiveDoctor[]
  /** The current ML-DSA-65 key of hospital `hospitalId`, or undefined if it is not a current manager. */
  hospitalKey: (hospitalId: Uint8Array) => Uint8Array | undefined
}

/** The chain-store key of a committed epoch. */
export const keyEpochKey = (epoch: number): string => `kep/${pad(epoch)}`

/**
 * Most bytes of stored epochs one answer carries (`/query/1 keyEpochs`, `chain_getKeyEpochs`): an
 * epoch wrapped to 1,600 doctors is about 2 MB, so an answer holds the epochs that fit in 8 MiB
 * (always at least one) and the asker continues from the last one it got. With the recipients
 * (1,600 × ~1.2 KB) the answer stays under the 16 MiB request/response frame (MAX_FRAME_BYTES).
 */
export const MAX_KEY_EPOCHS_ANSWER_BYTES = 8 * 1024 * 1024

/**
 * Committed key epochs above `since` as stored (dag-cbor `{ tx, height, txIndex, txCount, proof }`),
 * in epoch order: the first one, and the next ones while their total stays within `maxBytes`.
 */
export async function keyEpochsRaw (kv: KvStore, since: number, maxBytes = Number.POSITIVE_INFINITY): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  let bytes = 0
  for await (const [, v] of kv.range(keyEpochKey(since + 1), 'kep/\xff', 10_000)) {
    if (out.length > 0 && bytes + v.length > maxBytes) break
    bytes += v.length
    out.push(v)
  }
  return out
}

/** Hospital id: SHA-256 of the manager's first (genesis) ML-DSA-65 public key. */
export const hospitalIdOf = (firstSigPublicKey: Uint8Array): Uint8Array => sha256(firstSigPublicKey)

/** The authority of a chain without governance txs: the genesis doctors and managers. */
export function genesisKeyEpochAuthority (genesis: Genesis): KeyEpochAuthority {
  const doctors = genesis.doctors.map((d) => ({ id: sha256(d.sigPublicKey), kemPublicKey: d.kemPublicKey }))
  const managers = new Map(genesis.managers.map((m) => [toHex(hospitalIdOf(m.sigPublicKey)), m.sigPublicKey]))
  return { activeDoctors: () => doctors, hospitalKey: (id) => managers.get(toHex(id)) }
}

/**
 * One committed epoch, as kept in memory: not its tx (up to 2 MB with 1,600 recipients), which
 * stays in the chain store (`kep/<epoch>`, `keyEpochsRaw`).
 */
export interface CommittedKeyEpoch {
  epoch: number
  /** `indexKeyId` of the epoch's key. */
  keyId: Uint8Array
  /** Hospital id of the signer. */
  hospital: Uint8Array
  height: number
}

export interface KeyEpochVerdict {
  verdict: 'IGNORE' | 'REJECT'
  code: NodeErrorCode
  reason: string
}

export class KeyEpochError extends Error {
  constructor (message: string) { super(message); this.name = 'KeyEpochError' }
}

export class KeyEpochs {
  private readonly epochs: CommittedKeyEpoch[] = []
  private readonly chainId: string
  private readonly verifier: SigVerifier
  readonly authority: KeyEpochAuthority

  constructor (chainId: string, verifier: SigVerifier, authority: KeyEpochAuthority) {
    this.chainId = chainId
    this.verifier = verifier
    this.authority = authority
  }

  /** The newest committed epoch (1: only the genesis key). */
  get latest (): number { return 1 + this.epochs.length }

  /** The committed epochs above `since`, oldest first. */
  since (since = 1): CommittedKeyEpoch[] { return this.epochs.slice(Math.max(0, since - 1)) }

  /**
   * Why `tx` cannot be committed as the next epoch on top of the committed state at `height`
   * (undefined: it can). `signature: false` skips the ML-DSA check (already verified once).
   */
  check (tx: KeyEpochTx, height: number, opts: { signature?: boolean, next?: number } = {}): KeyEpochVerdict | undefined {
    const next = opts.next ?? this.latest + 1
    if (tx.epoch < next) return { verdict: 'IGNORE', code: 'DUPLICATE', reason: `key epoch ${tx.epoch} is already committed (the newest is ${next - 1}): fetch the epochs and issue epoch ${next} if still needed` }
    if (tx.epoch > next) return { verdict: 'IGNORE', code: 'INVALID_TX', reason: `key epoch ${tx.epoch} does not follow the newest committed epoch ${next - 1} (the next must be ${next})` }
    const key = this.authority.hospitalKey(tx.hospital)
    if (key === undefined) return { verdict: 'IGNORE', code: 'BAD_SIGNATURE', reason: `hospital ${toHex(tx.hospital)} is not a current manager: only a manager may issue a key epoch` }
    if (opts.signature !== false && !verifyKeyEpochTx(this.verifier, key, this.chainId, tx)) {
      return { verdict: 'REJECT', code: 'BAD_SIGNATURE', reason: `the key epoch's signature does not verify under hospital ${toHex(tx.hospital)}'s manager key` }
    }
    const mismatch = recipientMismatch(tx, this.authority.activeDoctors(height))
    if (mismatch !== undefined) return { verdict: 'IGNORE', code: 'INVALID_TX', reason: `key epoch ${tx.epoch} is not wrapped to exactly the active doctors at height ${height}: ${mismatch}` }
    return undefined
  }

  /**
   * Why the key-epoch txs of `block` cannot be applied (undefined: they can): epochs must continue
   * the committed ones, one after the other. With `height` (a proposal on top of that committed
   * height), each is also checked by `check` (signatures skipped for `verified` tx indices).
   */
  conflict (block: Block, opts: { height?: number, verified?: (txIndex: number) => boolean } = {}): string | undefined {
    let next = this.latest + 1
    for (const [i, tx] of block.txs.entries()) {
      if (tx.type !== 'key-epoch') continue
      if (tx.epoch !== next) return `tx ${i}: key epoch ${tx.epoch}, but the next epoch is ${next}`
      if (opts.height !== undefined) {
        const v = this.check(tx, opts.height, { next, signature: opts.verified?.(i) !== true })
        if (v !== undefined) return `tx ${i}: ${v.reason}`
      }
      next++
    }
    return undefined
  }

  /** The batch ops that store the key epochs of a committed block (in the commit's atomic batch). */
  ops (block: Block): BatchOp[] {
    const out: BatchOp[] = []
    block.txs.forEach((tx, i) => {
      if (tx.type !== 'key-epoch') return
      const p = recordInclusion(block, i)
      out.push({ type: 'put', key: keyEpochKey(tx.epoch), value: dagCbor.encode({ tx: encodeTx(tx), height: p.height, txIndex: i, txCount: p.txCount, proof: p.proof }) })
    })
    return out
  }

  /** Takes in the key epochs of a committed block (after `conflict` found none). */
  apply (block: Block): void {
    for (const tx of block.txs) {
      if (tx.type === 'key-epoch') this.epochs.push({ epoch: tx.epoch, keyId: tx.keyId, hospital: tx.hospital, height: block.header.height })
    }
  }

  /** Loads the committed epochs from their own keys in the chain store (no chain replay). */
  async load (kv: KvStore): Promise<void> {
    this.epochs.length = 0
    for (const raw of await keyEpochsRaw(kv, 1)) {
      const s = decodeStoredRecord(raw)
      if (s.tx.type !== 'key-epoch' || s.tx.epoch !== this.latest + 1) {
        throw new KeyEpochError(`stored key epoch ${this.latest + 1} is missing or out of order (found ${s.tx.type === 'key-epoch' ? `epoch ${s.tx.epoch}` : `a ${s.tx.type} tx`})`)
      }
      this.epochs.push({ epoch: s.tx.epoch, keyId: s.tx.keyId, hospital: s.tx.hospital, height: s.height })
    }
  }
}

/** Why `tx`'s recipients are not exactly `doctors` (ids and ML-KEM key ids), or undefined. */
export function recipientMismatch (tx: KeyEpochTx, doctors: readonly ActiveDoctor[]): string | undefined {
  const want = new Map(doctors.map((d) => [toHex(d.id), d]))
  for (const r of tx.recipients) {
    const d = want.get(toHex(r.doctor))
    if (d === undefined) return `doctor ${toHex(r.doctor)} is not an active doctor`
    if (!equalBytes(sha256(d.kemPublicKey), r.kemKeyId)) return `doctor ${toHex(r.doctor)}'s entry is wrapped to ML-KEM key ${toHex(r.kemKeyId)}, not its current one`
    want.delete(toHex(r.doctor))
  }
  if (want.size > 0) return `active doctor ${[...want.keys()][0] as string} is missing (${want.size} missing)`
  return undefined
}
