/**
 * The governance registry (docs/GOVERNANCE.md): every doctor key and every on-chain user node,
 * with its hospital, status and heights. It starts from the genesis, changes only by committed
 * `DoctorTx` / `UserNodeTx` (src/blocks/governance.ts), and is persisted as its own keys in the
 * chain store, written in the commit's atomic batch (`commitOps`) and read back at start (`load`);
 * the chain is never replayed for it.
 *
 * Heights: a governance tx committed at height H takes effect for the blocks after H (every block
 * is checked against the registry as committed before it). A doctor key registered at height
 * `since` (0: genesis) and retired (rotated or revoked) at height `until` signs the records of the
 * heights `since < h ≤ until` (`keyAt`). A rotation gives the doctor a new id (SHA-256 of its new
 * key: records name the key that signed them); the entries are linked by `previous` / `next`.
 *
 * Keys in the chain store: `gov/d/<doctor id hex>` and `gov/u/<peer id>` (dag-cbor entries), and
 * `gov/tx/<height>/<tx index>` (each committed governance tx with its audit path, what a user node
 * verifies against its headers to rebuild the registry: `Registry.replay`).
 */
import * as dagCbor from '@ipld/dag-cbor'
import {
  encodeTx, GOVERNANCE_CAPS, hospitalId, isGovernanceTx, leafHash, merkleLevels, proofFromLevels, verifyGovernanceSignature,
  type Block, type DoctorTx, type GovernanceCaps, type GovernanceTx, type Tx, type UserNodeTx
} from '../../blocks/index.js'
import { fromHex, sha256, toHex, type SigVerifier } from '../../crypto/index.js'
import type { Genesis } from '../genesis.js'
import type { BatchOp, KvStore } from '../kv.js'
import { pad } from '../kv.js'

export type DoctorStatus = 'active' | 'rotated' | 'revoked'

export interface DoctorEntry {
  /** Doctor id (hex): SHA-256 of `sigPublicKey`; the id its records name. */
  id: string
  name: string
  sigPublicKey: Uint8Array
  kemPublicKey: Uint8Array
  /** Hospital id (hex) the doctor belongs to. */
  hospital: string
  status: DoctorStatus
  /** Height of the commit that registered this key (0: genesis). */
  since: number
  /** Height of the commit that rotated or revoked it. */
  until?: number
  /** The id this key replaced (a rotation). */
  previous?: string
  /** The id that replaced this key (set when `status` is `rotated`). */
  next?: string
}

export interface UserNodePeriod { hospital: string, since: number, until?: number }

export interface UserNodeEntry {
  peerId: string
  /** Admission periods, oldest first; the node is admitted iff the last has no `until`. */
  periods: UserNodePeriod[]
}

/** Why a governance tx, or a record or grant by a doctor, is refused. */
export type GovernanceCode = 'BAD_SIGNATURE' | 'UNAUTHORIZED_HOSPITAL' | 'GOVERNANCE_CONFLICT' | 'INACTIVE_DOCTOR'
export type GovernanceCheck = { ok: true } | { ok: false, code: GovernanceCode, reason: string }

const K = {
  doctor: (id: string) => `gov/d/${id}`,
  userNode: (peerId: string) => `gov/u/${peerId}`,
  tx: (h: number, i: number) => `gov/tx/${pad(h)}/${pad(i)}`
}

/** The hospitals of the genesis: hospital id (hex) → the manager's signing key. */
export function genesisHospitals (g: Genesis): Map<string, Uint8Array> {
  return new Map(g.managers.map((m) => [toHex(hospitalId(m.sigPublicKey)), m.sigPublicKey]))
}

/**
 * The one place that says which hospitals exist and their current signing key: from the genesis
 * today (a hospital's key is its manager's genesis key); manager-set changes replace this function.
 */
export function hospitalKeyFromGenesis (g: Genesis): (id: Uint8Array) => Uint8Array | undefined {
  const hs = genesisHospitals(g)
  return (id) => hs.get(toHex(id))
}

/**
 * The managers (hospitals) at `height`, in consensus index order: the genesis managers today. The
 * one function every consortium view asks, so that manager-set changes replace only this.
 */
export function managersAt (g: Genesis, _height: number): Array<{ name: string, peerId: string, sigPublicKey: Uint8Array, hospital: Uint8Array }> {
  return g.managers.map((m) => ({ name: m.name, peerId: m.peerId, sigPublicKey: m.sigPublicKey, hospital: hospitalId(m.sigPublicKey) }))
}

const fail = (code: GovernanceCode, reason: string): GovernanceCheck => ({ ok: false, code, reason })
const short = (hex: string): string => hex.slice(0, 16)

/**
 * The registrations that txs earlier in the same block (or proposal being built) add: active
 * doctors per hospital and in all, user nodes per hospital (hospital ids hex). Only additions
 * count (a revocation or removal frees its place from the next block on), so whether a block
 * stays within the caps does not depend on the order of its txs.
 */
export interface GovernanceTally {
  doctors: Map<string, number>
  totalDoctors: number
  userNodes: Map<string, number>
}

export const newTally = (): GovernanceTally => ({ doctors: new Map(), totalDoctors: 0, userNodes: new Map() })

/** What no two txs of one block (or of the mempool) may claim: a doctor id or new key (`g:`), a user node (`u:`). */
export function governanceClaims (tx: GovernanceTx): string[] {
  if (tx.type === 'user-node') return [`u:${tx.peerId}`]
  const out = [`g:${toHex(tx.doctor)}`]
  if (tx.action === 'rotate') out.push(`g:${toHex(sha256(tx.sigPublicKey))}`)
  return out
}

export class Registry {
  readonly chainId: string
  private readonly verifier: SigVerifier
  private readonly hospitalKey: (id: Uint8Array) => Uint8Array | undefined
  /** Peer ids the genesis admits (managers and `userNodes`): never registered on chain. */
  private readonly genesisPeers: Set<string>
  readonly doctors = new Map<string, DoctorEntry>()
  readonly userNodes = new Map<string, UserNodeEntry>()
  /** Called after a commit changed the admitted user nodes. */
  onUserNodesChanged?: () => void
  /** The caps on active doctors and user nodes (src/blocks/governance.ts; smaller ones only in tests). */
  readonly caps: Readonly<GovernanceCaps>

  constructor (genesis: Genesis, verifier: SigVerifier, hospitalKey = hospitalKeyFromGenesis(genesis), caps: Partial<GovernanceCaps> = {}) {
    this.chainId = genesis.chainId
    this.verifier = verifier
    this.hospitalKey = hospitalKey
    this.caps = { ...GOVERNANCE_CAPS, ...caps }
    this.genesisPeers = new Set([...genesis.managers.map((m) => m.peerId), ...(genesis.userNodes ?? [])])
    for (const d of genesis.doctors) {
      const owner = d.hospital === undefined ? genesis.managers[0] : genesis.managers.find((m) => m.name === d.hospital)
      if (owner === undefined) throw new Error(`genesis doctor ${d.name}: hospital ${String(d.hospital)} is not a manager`)
      const id = toHex(sha256(d.sigPublicKey))
      this.doctors.set(id, { id, name: d.name, sigPublicKey: d.sigPublicKey, kemPublicKey: d.kemPublicKey, hospital: toHex(hospitalId(owner.sigPublicKey)), status: 'active', since: 0 })
    }
  }

  /** Reads the entries committed so far (written by `commitOps`) over the genesis ones. */
  async load (kv: KvStore): Promise<void> {
    for await (const [, v] of kv.range('gov/d/', 'gov/d0')) {
      const e = dagCbor.decode<DoctorEntry>(v)
      this.doctors.set(e.id, e)
    }
    for await (const [, v] of kv.range('gov/u/', 'gov/u0')) {
      const e = dagCbor.decode<UserNodeEntry>(v)
      this.userNodes.set(e.peerId, e)
    }
  }

  // ------------------------------------------------------------------------------------------
  // doctors, as records and grants need them

  doctor (id: Uint8Array | string): DoctorEntry | undefined { return this.doctors.get(typeof id === 'string' ? id : toHex(id)) }

  /** The ML-DSA key of an active doctor (what a new record or grant must be signed with). */
  activeKey (id: Uint8Array): Uint8Array | undefined {
    const e = this.doctor(id)
    return e?.status === 'active' && this.member(e.hospital) ? e.sigPublicKey : undefined
  }

  /** Whether hospital `hex` is a member of the consortium now (a hospital that left no longer is). */
  private member (hex: string): boolean { return this.hospitalKey(fromHex(hex)) !== undefined }

  /** The key that signed, under doctor id `id`, a record committed at `height`: registered before it, retired at or after it. */
  keyAt (id: Uint8Array, height: number): Uint8Array | undefined {
    const e = this.doctor(id)
    return e !== undefined && e.since < height && (e.until === undefined || height <= e.until) ? e.sigPublicKey : undefined
  }

  /** The active id of the doctor that `id` was (following rotations), or undefined if it was revoked. */
  current (id: Uint8Array): DoctorEntry | undefined {
    let e = this.doctor(id)
    for (let i = 0; e !== undefined && e.status === 'rotated' && i < 10_000; i++) e = e.next === undefined ? undefined : this.doctors.get(e.next)
    return e?.status === 'active' ? e : undefined
  }

  /** Why a new record or grant signed by doctor `id` is refused (`INACTIVE_DOCTOR`), or undefined if it is not. */
  inactive (id: Uint8Array): string | undefined {
    const e = this.doctor(id)
    if (e === undefined) return undefined
    if (e.status === 'active') {
      return this.member(e.hospital)
        ? undefined
        : `doctor ${e.id} (${e.name}) belongs to hospital ${short(e.hospital)}, which is no longer a member of the consortium: records and grants it signed before stay valid, new ones are refused`
    }
    return e.status === 'revoked'
      ? `doctor ${e.id} (${e.name}) was revoked at height ${String(e.until)}: records and grants it signed before stay valid, new ones are refused`
      : `the key of doctor ${e.id} (${e.name}) was rotated at height ${String(e.until)} to ${String(e.next)}: sign with the new key`
  }

  /** Peer ids admitted on chain now. */
  admittedUserNodes (): string[] {
    return [...this.userNodes.values()].filter((e) => e.periods.at(-1)?.until === undefined).map((e) => e.peerId)
  }

  // ------------------------------------------------------------------------------------------
  // governance txs

  /**
   * Whether `tx` may be committed in the next block: signed by a hospital, about its own doctor or
   * user node, a valid transition, within the caps (`caps`, counting the additions of `tally`:
   * the txs before it in the same block).
   */
  check (tx: GovernanceTx, tally?: GovernanceTally): GovernanceCheck {
    const key = this.hospitalKey(tx.hospital)
    const h = toHex(tx.hospital)
    if (key === undefined) return fail('UNAUTHORIZED_HOSPITAL', `hospital ${short(h)} is not a member of the consortium`)
    if (!verifyGovernanceSignature(this.verifier, this.chainId, key, tx)) return fail('BAD_SIGNATURE', `the ${tx.type} tx is not signed by hospital ${short(h)}'s manager key`)
    if (tx.type === 'user-node') return this.checkUserNode(tx, h, tally)
    return this.checkDoctor(tx, h, tally)
  }

  /** Active doctors of hospital `h` (hex) and of all member hospitals, user nodes admitted on chain by `h`, as committed. */
  private active (h: string): { doctors: number, total: number, userNodes: number } {
    let doctors = 0
    let total = 0
    const member = new Map<string, boolean>()
    for (const e of this.doctors.values()) {
      if (e.status !== 'active') continue
      if (e.hospital === h) doctors++
      let m = member.get(e.hospital)
      if (m === undefined) { m = this.member(e.hospital); member.set(e.hospital, m) }
      if (m) total++
    }
    let userNodes = 0
    for (const e of this.userNodes.values()) {
      const last = e.periods.at(-1)
      if (last !== undefined && last.until === undefined && last.hospital === h) userNodes++
    }
    return { doctors, total, userNodes }
  }

  /** Why one more active doctor of hospital `h` exceeds a cap (with the additions of `tally`), or undefined. */
  private doctorCap (h: string, tally?: GovernanceTally): string | undefined {
    const a = this.active(h)
    const mine = a.doctors + (tally?.doctors.get(h) ?? 0)
    if (mine >= this.caps.doctorsPerHospital) {
      return `hospital ${short(h)} has ${mine} active doctors${tally?.doctors.has(h) === true ? " (with this block's)" : ''}, the most one hospital may have (MAX_ACTIVE_DOCTORS_PER_HOSPITAL ${this.caps.doctorsPerHospital}): revoke one first`
    }
    const all = a.total + (tally?.totalDoctors ?? 0)
    if (all >= this.caps.doctors) {
      return `the consortium has ${all} active doctors${(tally?.totalDoctors ?? 0) > 0 ? " (with this block's)" : ''}, the most a key epoch can be wrapped to (MAX_ACTIVE_DOCTORS ${this.caps.doctors}): a doctor must be revoked first`
    }
    return undefined
  }

  /** Adds what `tx` (which passed `check` with `tally`) registers to `tally`. */
  count (tx: GovernanceTx, tally: GovernanceTally): void {
    const h = toHex(tx.hospital)
    if (tx.type === 'doctor' && tx.action === 'add') {
      tally.doctors.set(h, (tally.doctors.get(h) ?? 0) + 1)
      tally.totalDoctors++
    } else if (tx.type === 'user-node' && tx.action === 'add') {
      tally.userNodes.set(h, (tally.userNodes.get(h) ?? 0) + 1)
    }
  }

  private checkDoctor (tx: DoctorTx, h: string, tally?: GovernanceTally): GovernanceCheck {
    const id = toHex(tx.doctor)
    const e = this.doctors.get(id)
    if (tx.action === 'add') {
      if (e !== undefined) return fail('GOVERNANCE_CONFLICT', `the key of doctor ${id} is already registered (${e.status}, hospital ${short(e.hospital)}): a key is registered once`)
      const cap = this.doctorCap(h, tally)
      if (cap !== undefined) return fail('GOVERNANCE_CONFLICT', `doctor ${id} is not added: ${cap}`)
      return { ok: true }
    }
    if (e === undefined) return fail('GOVERNANCE_CONFLICT', `doctor ${id} is not registered`)
    if (e.hospital !== h) return fail('UNAUTHORIZED_HOSPITAL', `doctor ${id} belongs to hospital ${short(e.hospital)}, not to the signing hospital ${short(h)}`)
    if (e.status !== 'active') return fail('GOVERNANCE_CONFLICT', this.inactive(tx.doctor) as string)
    if (tx.action === 'rotate') {
      const next = toHex(sha256(tx.sigPublicKey))
      const other = this.doctors.get(next)
      if (other !== undefined) return fail('GOVERNANCE_CONFLICT', `the new key is already in use (doctor ${next}, ${other.status}): rotate to a fresh key`)
    }
    return { ok: true }
  }

  private checkUserNode (tx: UserNodeTx, h: string, tally?: GovernanceTally): GovernanceCheck {
    const e = this.userNodes.get(tx.peerId)
    const last = e?.periods.at(-1)
    const admitted = last !== undefined && last.until === undefined
    if (tx.action === 'add') {
      if (this.genesisPeers.has(tx.peerId)) return fail('GOVERNANCE_CONFLICT', `peer ${tx.peerId} is admitted by the genesis already`)
      if (admitted) return fail('GOVERNANCE_CONFLICT', `user node ${tx.peerId} is admitted already (hospital ${short(last.hospital)}, since height ${last.since})`)
      const n = this.active(h).userNodes + (tally?.userNodes.get(h) ?? 0)
      if (n >= this.caps.userNodesPerHospital) {
        return fail('GOVERNANCE_CONFLICT', `user node ${tx.peerId} is not added: hospital ${short(h)} has ${n} user nodes admitted on chain${tally?.userNodes.has(h) === true ? " (with this block's)" : ''}, the most one hospital may have (MAX_ACTIVE_USER_NODES_PER_HOSPITAL ${this.caps.userNodesPerHospital}): remove one first`)
      }
      return { ok: true }
    }
    if (!admitted) return fail('GOVERNANCE_CONFLICT', `user node ${tx.peerId} is not admitted on chain`)
    if (last.hospital !== h) return fail('UNAUTHORIZED_HOSPITAL', `user node ${tx.peerId} belongs to hospital ${short(last.hospital)}, not to the signing hospital ${short(h)}`)
    return { ok: true }
  }

  /**
   * Why a block's governance txs cannot be applied on top of the registry, or undefined: each
   * must pass `check` (against the registry before the block), no two may claim one doctor, key or
   * peer, and the block's additions together stay within the caps.
   * `verified` skips the signature of txs whose signature was checked on admission (by tx hash).
   */
  conflict (block: Block, keys?: string[], verified?: Set<string>): string | undefined {
    const claimed = new Set<string>()
    const tally = newTally()
    for (const [i, tx] of block.txs.entries()) {
      if (!isGovernanceTx(tx)) continue
      for (const c of governanceClaims(tx)) {
        if (claimed.has(c)) return `tx ${i}: a second governance tx of the block names ${c.slice(2)}`
        claimed.add(c)
      }
      const key = keys?.[i]
      const r = key !== undefined && verified?.has(key) === true ? this.checkState(tx, tally) : this.check(tx, tally)
      if (!r.ok) return `tx ${i}: ${r.code}: ${r.reason}`
      this.count(tx, tally)
    }
    return undefined
  }

  /** `check` without the signature (already verified). */
  checkState (tx: GovernanceTx, tally?: GovernanceTally): GovernanceCheck {
    const h = toHex(tx.hospital)
    if (this.hospitalKey(tx.hospital) === undefined) return fail('UNAUTHORIZED_HOSPITAL', `hospital ${short(h)} is not a member of the consortium`)
    return tx.type === 'user-node' ? this.checkUserNode(tx, h, tally) : this.checkDoctor(tx, h, tally)
  }

  /**
   * The chain-store ops that record a committed block's governance txs (entries changed, and each
   * tx with its audit path), to write in the commit's atomic batch; `apply` then changes memory.
   */
  commitOps (block: Block): BatchOp[] {
    const govIdx = block.txs.flatMap((tx, i) => isGovernanceTx(tx) ? [i] : [])
    if (govIdx.length === 0) return []
    const h = block.header.height
    const encoded = block.txs.map((tx) => encodeTx(tx))
    const levels = merkleLevels(encoded.map(leafHash))
    const ops: BatchOp[] = govIdx.map((i) => ({
      type: 'put',
      key: K.tx(h, i),
      value: dagCbor.encode({ tx: encoded[i], height: h, txIndex: i, txCount: block.txs.length, proof: proofFromLevels(levels, i) })
    }))
    const changed = this.next(block.txs, h)
    for (const d of changed.doctors) ops.push({ type: 'put', key: K.doctor(d.id), value: dagCbor.encode(strip(d)) })
    for (const u of changed.userNodes) ops.push({ type: 'put', key: K.userNode(u.peerId), value: dagCbor.encode({ peerId: u.peerId, periods: u.periods.map(strip) }) })
    return ops
  }

  /** Applies a committed block's governance txs (after `commitOps` was written). */
  apply (block: Block): void {
    const changed = this.next(block.txs, block.header.height)
    for (const d of changed.doctors) this.doctors.set(d.id, d)
    for (const u of changed.userNodes) this.userNodes.set(u.peerId, u)
    if (changed.userNodes.length > 0) this.onUserNodesChanged?.()
  }

  /** Applies one committed governance tx at `height` (a user node rebuilding the registry from verified txs). */
  applyTx (tx: GovernanceTx, height: number): void { this.apply({ header: { height } as Block['header'], txs: [tx] }) }

  /** The entries that the governance txs of a block committed at `height` change (new objects; the registry is untouched). */
  private next (txs: Tx[], height: number): { doctors: DoctorEntry[], userNodes: UserNodeEntry[] } {
    const doctors = new Map<string, DoctorEntry>()
    const userNodes = new Map<string, UserNodeEntry>()
    const doc = (id: string): DoctorEntry | undefined => doctors.get(id) ?? this.doctors.get(id)
    for (const tx of txs) {
      if (tx.type === 'doctor') {
        const id = toHex(tx.doctor)
        const hospital = toHex(tx.hospital)
        if (tx.action === 'add') {
          doctors.set(id, { id, name: tx.name, sigPublicKey: tx.sigPublicKey, kemPublicKey: tx.kemPublicKey, hospital, status: 'active', since: height })
          continue
        }
        const old = doc(id)
        if (old === undefined) continue // refused by `check`: cannot be committed
        if (tx.action === 'revoke') {
          doctors.set(id, { ...old, status: 'revoked', until: height })
        } else {
          const nid = toHex(sha256(tx.sigPublicKey))
          doctors.set(id, { ...old, status: 'rotated', until: height, next: nid })
          doctors.set(nid, { id: nid, name: old.name, sigPublicKey: tx.sigPublicKey, kemPublicKey: tx.kemPublicKey, hospital: old.hospital, status: 'active', since: height, previous: id })
        }
      } else if (tx.type === 'user-node') {
        const prev = userNodes.get(tx.peerId) ?? this.userNodes.get(tx.peerId)
        const periods = [...(prev?.periods ?? [])].map((p) => ({ ...p }))
        if (tx.action === 'add') periods.push({ hospital: toHex(tx.hospital), since: height })
        else { const last = periods.at(-1); if (last !== undefined) last.until = height }
        userNodes.set(tx.peerId, { peerId: tx.peerId, periods })
      }
    }
    return { doctors: [...doctors.values()], userNodes: [...userNodes.values()] }
  }

  /**
   * What key epochs ask (app/key-epochs.ts): the doctors active after block `height` (registered,
   * not rotated away or revoked) with their current ML-KEM-768 keys, and the hospitals' keys. A
   * new epoch must be wrapped to exactly these, so a revoked doctor is left out of it.
   */
  keyEpochAuthority (): { activeDoctors: (height: number) => Array<{ id: Uint8Array, kemPublicKey: Uint8Array }>, hospitalKey: (id: Uint8Array) => Uint8Array | undefined } {
    return {
      // a hospital that left takes its doctors out of new epochs
      activeDoctors: (height) => this.doctorsAt(height).filter((e) => e.status === 'active' && this.member(e.hospital)).map((e) => ({ id: fromHex(e.id), kemPublicKey: e.kemPublicKey })),
      hospitalKey: (id) => this.hospitalKey(id)
    }
  }

  // ------------------------------------------------------------------------------------------
  // views

  /** The doctors as they were at `height` (status at that height; keys registered later are left out). */
  doctorsAt (height: number): DoctorEntry[] {
    const out: DoctorEntry[] = []
    for (const e of this.doctors.values()) {
      if (e.since > height) continue
      const ended = e.until !== undefined && e.until <= height
      out.push(ended ? e : { ...e, status: 'active', until: undefined, next: undefined })
    }
    return out.sort((a, b) => a.since - b.since || a.id.localeCompare(b.id))
  }

  /** On-chain user nodes at `height`: admitted or removed, with the period in force (or the last one). */
  userNodesAt (height: number): Array<{ peerId: string, hospital: string, status: 'active' | 'removed', since: number, until?: number }> {
    const out = []
    for (const e of this.userNodes.values()) {
      const ps = e.periods.filter((p) => p.since <= height)
      const p = ps.at(-1)
      if (p === undefined) continue
      const active = p.until === undefined || p.until > height
      out.push({ peerId: e.peerId, hospital: p.hospital, status: active ? 'active' as const : 'removed' as const, since: p.since, ...(active ? {} : { until: p.until }) })
    }
    return out.sort((a, b) => a.since - b.since || a.peerId.localeCompare(b.peerId))
  }
}

function strip<T extends object> (o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

/** The committed governance txs with their audit paths (`gov/tx/…` values), heights 1..`to`, in chain order. */
export async function governanceTxsRaw (kv: KvStore, to: number, limit = 100_000): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const [, v] of kv.range('gov/tx/', K.tx(to + 1, 0), limit)) out.push(v)
  return out
}

/** True for txs a registry applies (re-exported for callers that only see `Tx`). */
export function isGovernance (tx: Tx): tx is GovernanceTx { return isGovernanceTx(tx) }
