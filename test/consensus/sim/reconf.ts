/**
 * Changes of the manager set for the simulation (`SimOptions.reconf`): the plan of a run (who is in
 * the genesis set, which changes follow, from which height honest leaders propose each), and the
 * world it needs: one HMAC key per manager key (a rotation adds a key), stand-in ML-DSA-65 public
 * keys of the right size, and `ManagerTx`s signed by 2f+1 members — so every node's consortium
 * state is the real `ConsortiumHistory` of src/blocks/consortium.ts (the pending-change rule,
 * `configHash`, index shifts on removal, rotations keeping their place), fed by the blocks it commits.
 */
import {
  ConsortiumHistory, configHash, configQuorum, hospitalIdOf, managerChangeSignBytes, SIG_PUBLIC_KEY_BYTES, SIGNATURE_BYTES,
  type ConsortiumConfig, type ConsortiumManager, type ManagerChange, type ManagerTx
} from '../../../src/blocks/index.js'
import { equalBytes, sha256, toHex, utf8, type SigVerifier } from '../../../src/crypto/index.js'
import type { VerifierPort } from '../../../src/consensus/index.js'
import type { CryptoKit } from './crypto.js'
import { Prng } from './prng.js'

export interface PlannedChange { action: 'add' | 'remove' | 'rotate', node: number }

export interface ReconfPlan {
  /** A name for the shape of the run (for reports), e.g. '4-5-4'. */
  label: string
  /** The genesis manager set: global node ids, in index order. */
  genesis: number[]
  /** The changes, in order; change k is proposed against the configuration change k − 1 produced. */
  changes: PlannedChange[]
  /** Honest leaders put change k in their blocks from height `from[k]` on, once no change is pending. */
  from: number[]
  /** Heights from a change's commit to its first height (the genesis parameter D). */
  configDelay: number
  /** Start times (simulated ms) of managers that start late; every other one starts at 0..20 ms. */
  lateStart: Record<number, number>
}

/** Number of key indices a plan needs: one per node, one more per rotation. */
export function planKeys (n: number, plan: ReconfPlan): number {
  return n + plan.changes.filter((c) => c.action === 'rotate').length
}

export class ReconfWorld {
  private readonly pubs: Uint8Array[] = []
  private readonly byPub = new Map<string, number>()
  /** For change k that is a rotation: the new key's index. */
  private readonly rotationKey = new Map<number, number>()
  private readonly ports = new WeakMap<ConsortiumConfig, { keys: number[], members: number[], verifier: VerifierPort, hash: Uint8Array }>()
  private readonly hospitals: Uint8Array[]
  readonly genesis: ConsortiumHistory
  /** Verifies `ManagerTx` signatures: the stand-in public key names an HMAC key; the signature is its HMAC, zero-padded. */
  readonly sigVerifier: SigVerifier

  constructor (readonly chainId: string, readonly n: number, readonly plan: ReconfPlan, readonly kit: CryptoKit) {
    const total = planKeys(n, plan)
    for (let k = 0; k < total; k++) {
      const head = sha256(utf8(`pqmed-sim-pub/${k}`))
      const pub = new Uint8Array(SIG_PUBLIC_KEY_BYTES)
      for (let i = 0; i < pub.length; i += head.length) pub.set(head.subarray(0, Math.min(head.length, pub.length - i)), i)
      this.pubs.push(pub)
      this.byPub.set(toHex(head), k)
    }
    let next = n
    plan.changes.forEach((c, k) => { if (c.action === 'rotate') this.rotationKey.set(k, next++) })
    this.hospitals = Array.from({ length: n }, (_, i) => hospitalIdOf(this.pubs[i] as Uint8Array))
    this.genesis = new ConsortiumHistory([{ activationHeight: 1, managers: plan.genesis.map((i) => this.manager(i, i)) }], plan.configDelay)
    this.sigVerifier = {
      verify: (sig, msg, pub) => {
        const k = this.keyOf(pub)
        return k >= 0 && sig instanceof Uint8Array && sig.length === SIGNATURE_BYTES && sig.subarray(32).every((b) => b === 0) && kit.verifier.verify(k, msg, sig.subarray(0, 32))
      }
    }
  }

  private manager (node: number, key: number): ConsortiumManager {
    return { hospitalId: this.hospital(node), name: `m${node}`, sigPublicKey: this.pubs[key] as Uint8Array, peerId: `p${node}-${key}`, addrs: [] }
  }

  /** The key index a stand-in public key names, or −1. */
  keyOf (pub: Uint8Array): number {
    if (!(pub instanceof Uint8Array) || pub.length !== SIG_PUBLIC_KEY_BYTES) return -1
    const k = this.byPub.get(toHex(pub.subarray(0, 32)))
    return k !== undefined && equalBytes(this.pubs[k] as Uint8Array, pub) ? k : -1
  }

  /** Node `i`'s hospital id (from its first key, index i). */
  hospital (i: number): Uint8Array { return this.hospitals[i] as Uint8Array }

  private portsOf (c: ConsortiumConfig): { keys: number[], members: number[], verifier: VerifierPort, hash: Uint8Array } {
    let p = this.ports.get(c)
    if (p === undefined) {
      const keys = c.managers.map((m) => this.keyOf(m.sigPublicKey))
      const members = c.managers.map((m) => this.hospitals.findIndex((h) => equalBytes(h, m.hospitalId)))
      const verifier: VerifierPort = { verify: (v, bytes, sig) => Number.isInteger(v) && v >= 0 && v < keys.length && this.kit.verifier.verify(keys[v] as number, bytes, sig) }
      p = { keys, members, verifier, hash: configHash(c) }
      this.ports.set(c, p)
    }
    return p
  }

  /** Global node ids of the configuration's managers, by index. */
  members (c: ConsortiumConfig): number[] { return this.portsOf(c).members }
  /** Key indices of the configuration's managers, by index. */
  keys (c: ConsortiumConfig): number[] { return this.portsOf(c).keys }
  /** Verifies votes by index in this configuration, each under that manager's current key. */
  verifier (c: ConsortiumConfig): VerifierPort { return this.portsOf(c).verifier }
  hash (c: ConsortiumConfig): Uint8Array { return this.portsOf(c).hash }

  /** Planned change k as a `ManagerChange`. */
  change (k: number): ManagerChange {
    const c = this.plan.changes[k] as PlannedChange
    switch (c.action) {
      case 'add': return { action: 'add', manager: this.manager(c.node, c.node) }
      case 'remove': return { action: 'remove', hospitalId: this.hospital(c.node) }
      case 'rotate': {
        const key = this.rotationKey.get(k) as number
        return { action: 'rotate', hospitalId: this.hospital(c.node), sigPublicKey: this.pubs[key] as Uint8Array, peerId: `p${c.node}-${key}`, addrs: [] }
      }
    }
  }

  /** `change` signed against `c` by its first `signers` managers (default: a quorum, 2f+1). */
  sign (c: ConsortiumConfig, change: ManagerChange, time: number, signers = configQuorum(c)): ManagerTx {
    const base = this.hash(c)
    const msg = managerChangeSignBytes(this.chainId, base, change, time)
    const keys = this.keys(c)
    const signatures = c.managers.slice(0, signers).map((m, i) => {
      const signature = new Uint8Array(SIGNATURE_BYTES)
      signature.set(this.kit.signer(keys[i] as number).sign(msg))
      return { hospitalId: m.hospitalId, signature }
    })
    return { type: 'manager', action: change.action, baseConfig: base, change, time, signatures }
  }
}

/**
 * The plan of a seeded reconfiguration run (drawn from its own generator, so the fault model of the
 * run is drawn as in fixed-set runs):
 * - '4-5-4': a hospital joins (n 4 → 5), one rotates its key, one leaves (→ 4), in some order;
 *   sometimes a second rotation (of the same or another hospital);
 * - '4-7': three hospitals join one after the other (n 4 → 5 → 6 → 7, f 1 → 2), with a rotation
 *   somewhere, sometimes one leaving at the end;
 * - '7-4': three hospitals of seven leave (f 2 → 1), with a rotation somewhere.
 * Changes are proposed from small heights on, often back to back (the next one as soon as the
 * previous is in effect: the pending-change rule holds it until then); `configDelay` is 2, 3 or 5;
 * a joining manager starts late (up to 6 s, possibly after GST) in half the runs.
 */
export function reconfPlan (seed: number): { n: number, plan: ReconfPlan } {
  const rng = new Prng((seed * 2654435761) ^ 0x5eed)
  const label = rng.pick(['4-5-4', '4-5-4', '4-7', '7-4'] as const)
  let n: number
  let genesis: number[]
  let changes: PlannedChange[]
  const insert = (list: PlannedChange[], c: PlannedChange, lo: number): PlannedChange[] => {
    const at = rng.int(lo, list.length)
    return [...list.slice(0, at), c, ...list.slice(at)]
  }
  if (label === '4-5-4') {
    n = 5
    genesis = [0, 1, 2, 3]
    changes = [{ action: 'add', node: 4 }]
    const leaves = rng.int(0, 4)
    // the rotation may come before or after the join; the removal comes after the join (n stays ≥ 4)
    const rotated = rng.pick([0, 1, 2, 3, 4].filter((i) => i !== leaves))
    changes = rotated === 4 ? [...changes, { action: 'rotate', node: 4 }] : insert(changes, { action: 'rotate', node: rotated }, 0)
    changes = [...changes, { action: 'remove', node: leaves }]
    if (rng.chance(0.3)) changes.push({ action: 'rotate', node: rng.pick([0, 1, 2, 3, 4].filter((i) => i !== leaves)) })
  } else if (label === '4-7') {
    n = 7
    genesis = [0, 1, 2, 3]
    changes = [{ action: 'add', node: 4 }, { action: 'add', node: 5 }, { action: 'add', node: 6 }]
    changes = insert(changes, { action: 'rotate', node: rng.int(0, 3) }, 0)
    if (rng.chance(0.3)) changes.push({ action: 'remove', node: rng.int(0, 6) })
  } else {
    n = 7
    genesis = [0, 1, 2, 3, 4, 5, 6]
    const order = [0, 1, 2, 3, 4, 5, 6]
    for (let i = order.length - 1; i > 0; i--) { const j = rng.int(0, i); [order[i], order[j]] = [order[j] as number, order[i] as number] }
    const leaving = order.slice(0, 3)
    changes = leaving.map((node) => ({ action: 'remove', node }))
    changes = insert(changes, { action: 'rotate', node: order[rng.int(3, 6)] as number }, 0)
  }
  const from: number[] = []
  let h = rng.int(1, 6)
  for (let k = 0; k < changes.length; k++) {
    from.push(h)
    h += rng.pick([0, 0, 1, 3, 6])
  }
  const lateStart: Record<number, number> = {}
  for (let i = 0; i < n; i++) if (!genesis.includes(i) && rng.chance(0.5)) lateStart[i] = rng.int(0, 6000)
  return { n, plan: { label, genesis, changes, from, configDelay: rng.pick([2, 2, 3, 5]), lateStart } }
}
