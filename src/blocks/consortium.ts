/**
 * The consortium configuration — the ordered manager set that certifies blocks — and its changes
 * (`ManagerTx`: a hospital joins, leaves, or rotates its manager key). Pure: no I/O, no clock.
 *
 * - A **configuration** lists the managers in order (a commit signature's `validator` and a header's
 *   `proposer` index this list) and the first height it certifies (`activationHeight`). n is the
 *   list's length, the quorum ⌊2n/3⌋+1 and f = n − quorum. `configHash` is SHA-256 of its canonical
 *   dag-cbor encoding; every header carries the hash of the configuration that certifies it
 *   (`configHash`) and of the one that certifies the next block (`nextConfigHash`).
 * - A **hospital** is identified by its `hospitalId`: SHA-256 of its manager's FIRST ML-DSA-65 public
 *   key (the genesis key or the key of the `add`). A rotation changes the key, never the id.
 * - A **change** is proposed against one configuration (`baseConfig`, its hash) and signed by at
 *   least quorumSize(n) of that configuration's managers, each on its own machine, over
 *   `managerChangeSignBytes(chainId, baseConfig, change)` (detached signatures: `{ hospitalId,
 *   signature }`, collected in any order). Committed at height c, the change takes effect at
 *   c + D (D = `configDelay`, a genesis parameter, ≥ 2, default 2): blocks c+1 .. c+D−1 are still
 *   certified by the old set, block c+D−1's header announces the new set in `nextConfigHash`, and
 *   block c+D is the first the new set certifies. While a change is pending (committed, not yet in
 *   effect) a second one is refused (`CHANGE_PENDING`): it would be signed against a configuration
 *   that is about to be replaced. Sign it again against the new configuration once it is in effect.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { equalBytes, sha256, toHex, type SigVerifier } from '../crypto/index.js'
import { quorumSize } from './certificate.js'
import { BlockError, type Check, fail, OK } from './errors.js'
import { HASH_BYTES, ID_BYTES, MAX_VALIDATORS, SIG_PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './limits.js'
import { bytes, checked, invalid, list, record, uint } from './shape.js'

/** Blocks between a change's commit height c and its first height c + D, unless genesis says otherwise. */
export const DEFAULT_CONFIG_DELAY = 2
/** Smallest allowed delay: the block after the change's commit announces the new set in `nextConfigHash`. */
export const MIN_CONFIG_DELAY = 2
export const MAX_CONFIG_DELAY = 10_000
export const MAX_MANAGER_NAME = 64
export const MAX_PEER_ID = 128
export const MAX_ADDRS = 16
export const MAX_ADDR = 256
export const MAX_CONFIG_BYTES = 512 * 1024

export interface ConsortiumManager {
  /** SHA-256 of the hospital's first manager key; stable across rotations. */
  hospitalId: Uint8Array
  name: string
  /** The manager's current ML-DSA-65 public key. */
  sigPublicKey: Uint8Array
  /** libp2p peer id of the manager's node. */
  peerId: string
  addrs: string[]
}

export interface ConsortiumConfig {
  /** First height this configuration certifies (1 for the genesis configuration). */
  activationHeight: number
  managers: ConsortiumManager[]
}

export type ManagerAction = 'add' | 'remove' | 'rotate'

/**
 * A change of the manager set. `add`: `manager` joins at the end of the list (its hospitalId is
 * SHA-256 of its key). `remove`: hospital `hospitalId` leaves (later managers move up one index).
 * `rotate`: hospital `hospitalId` keeps its place and id, with a new key (and peer id / addrs).
 */
export type ManagerChange =
  | { action: 'add', manager: ConsortiumManager }
  | { action: 'remove', hospitalId: Uint8Array }
  | { action: 'rotate', hospitalId: Uint8Array, sigPublicKey: Uint8Array, peerId: string, addrs: string[] }

/** One hospital's detached signature over `managerChangeSignBytes`. */
export interface ManagerSignature {
  hospitalId: Uint8Array
  signature: Uint8Array
}

/** A signed change, on chain. */
export interface ManagerTx {
  type: 'manager'
  action: ManagerAction
  /** configHash of the configuration the change applies to (the one in effect when it commits). */
  baseConfig: Uint8Array
  change: ManagerChange
  /** When the change was proposed (ms since the epoch, the proposer's clock); signed with it. */
  time: number
  signatures: ManagerSignature[]
}

// ---------------------------------------------------------------------------------------------
// Shapes (throw BlockError)

const MANAGER_KEYS = ['hospitalId', 'name', 'sigPublicKey', 'peerId', 'addrs'] as const
const CONFIG_KEYS = ['activationHeight', 'managers'] as const
const TX_KEYS = ['type', 'action', 'baseConfig', 'change', 'time', 'signatures'] as const
const SIG_KEYS = ['hospitalId', 'signature'] as const

function text (v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) invalid(`${what} must be a non-empty string of at most ${max} characters`)
  return v
}

function addrsShape (v: unknown, what: string): string[] {
  return list(v, what, MAX_ADDRS).map((a, i) => text(a, `${what}[${i}]`, MAX_ADDR))
}

export function consortiumManagerShape (v: unknown, what = 'manager'): ConsortiumManager {
  const o = record(v, what, MANAGER_KEYS)
  const id = bytes(o.hospitalId, `${what} hospitalId`, ID_BYTES)
  text(o.name, `${what} name`, MAX_MANAGER_NAME)
  bytes(o.sigPublicKey, `${what} sigPublicKey`, SIG_PUBLIC_KEY_BYTES)
  text(o.peerId, `${what} peerId`, MAX_PEER_ID)
  addrsShape(o.addrs, `${what} addrs`)
  void id
  return o as unknown as ConsortiumManager
}

/** A well-formed configuration: 1..MAX_VALIDATORS managers, no hospital id, key or peer id twice. */
export function consortiumConfigShape (v: unknown): ConsortiumConfig {
  const o = record(v, 'consortium config', CONFIG_KEYS)
  uint(o.activationHeight, 'consortium config activationHeight')
  if ((o.activationHeight as number) < 1) invalid('consortium config activationHeight must be at least 1')
  const ms = list(o.managers, 'consortium config managers', MAX_VALIDATORS, 1).map((m, i) => consortiumManagerShape(m, `consortium config managers[${i}]`))
  const seen = new Set<string>()
  for (const m of ms) {
    for (const k of [`id:${toHex(m.hospitalId)}`, `key:${toHex(m.sigPublicKey)}`, `peer:${m.peerId}`]) {
      if (seen.has(k)) invalid(`consortium config lists ${k.split(':')[0] as string} of manager '${m.name}' twice`)
      seen.add(k)
    }
  }
  return o as unknown as ConsortiumConfig
}

function changeShape (v: unknown, action: unknown): ManagerChange {
  switch (action) {
    case 'add': {
      const o = record(v, 'manager tx change', ['action', 'manager'])
      if (o.action !== 'add') invalid('manager tx change.action must equal the tx action')
      const m = consortiumManagerShape(o.manager, 'manager tx change.manager')
      if (!equalBytes(m.hospitalId, sha256(m.sigPublicKey))) invalid('an added manager\'s hospitalId must be SHA-256 of its sigPublicKey')
      return o as unknown as ManagerChange
    }
    case 'remove': {
      const o = record(v, 'manager tx change', ['action', 'hospitalId'])
      if (o.action !== 'remove') invalid('manager tx change.action must equal the tx action')
      bytes(o.hospitalId, 'manager tx change.hospitalId', ID_BYTES)
      return o as unknown as ManagerChange
    }
    case 'rotate': {
      const o = record(v, 'manager tx change', ['action', 'hospitalId', 'sigPublicKey', 'peerId', 'addrs'])
      if (o.action !== 'rotate') invalid('manager tx change.action must equal the tx action')
      bytes(o.hospitalId, 'manager tx change.hospitalId', ID_BYTES)
      bytes(o.sigPublicKey, 'manager tx change.sigPublicKey', SIG_PUBLIC_KEY_BYTES)
      text(o.peerId, 'manager tx change.peerId', MAX_PEER_ID)
      addrsShape(o.addrs, 'manager tx change.addrs')
      return o as unknown as ManagerChange
    }
    default: return invalid(`manager tx action must be 'add', 'remove' or 'rotate'`)
  }
}

export function managerChangeShape (v: unknown): ManagerChange {
  return changeShape(v, (typeof v === 'object' && v !== null) ? (v as { action?: unknown }).action : undefined)
}

export function managerTxShape (v: unknown): ManagerTx {
  const o = record(v, 'manager tx', TX_KEYS)
  if (o.type !== 'manager') invalid('manager tx type must be \'manager\'')
  changeShape(o.change, o.action)
  bytes(o.baseConfig, 'manager tx baseConfig', HASH_BYTES)
  uint(o.time, 'manager tx time')
  list(o.signatures, 'manager tx signatures', MAX_VALIDATORS, 1).forEach((s, i) => {
    const so = record(s, `manager tx signatures[${i}]`, SIG_KEYS)
    bytes(so.hospitalId, `manager tx signatures[${i}].hospitalId`, ID_BYTES)
    bytes(so.signature, `manager tx signatures[${i}].signature`, SIGNATURE_BYTES)
  })
  return o as unknown as ManagerTx
}

// ---------------------------------------------------------------------------------------------
// Configuration

/** A hospital's id: SHA-256 of its manager's first ML-DSA-65 public key. */
export function hospitalIdOf (firstSigPublicKey: Uint8Array): Uint8Array {
  return sha256(firstSigPublicKey)
}

/** The genesis configuration, from the genesis file's manager list (in order), certifying from height 1. */
export function genesisConfig (managers: ReadonlyArray<{ name: string, sigPublicKey: Uint8Array, peerId: string, addrs: readonly string[] }>): ConsortiumConfig {
  const config: ConsortiumConfig = {
    activationHeight: 1,
    managers: managers.map((m) => ({ hospitalId: hospitalIdOf(m.sigPublicKey), name: m.name, sigPublicKey: m.sigPublicKey, peerId: m.peerId, addrs: [...m.addrs] }))
  }
  consortiumConfigShape(config)
  return config
}

/** Canonical dag-cbor encoding of a configuration (checked first; throws BlockError). */
export function encodeConsortiumConfig (c: ConsortiumConfig): Uint8Array {
  consortiumConfigShape(c)
  const out = dagCbor.encode({ activationHeight: c.activationHeight, managers: c.managers.map((m) => ({ hospitalId: m.hospitalId, name: m.name, sigPublicKey: m.sigPublicKey, peerId: m.peerId, addrs: m.addrs })) })
  if (out.length > MAX_CONFIG_BYTES) throw new BlockError('OVERSIZED', `consortium config encodes to ${out.length} bytes`)
  return out
}

/** Decodes a configuration (strict: canonical dag-cbor, exact shape). Throws BlockError. */
export function decodeConsortiumConfig (data: Uint8Array): ConsortiumConfig {
  if (!(data instanceof Uint8Array)) throw new BlockError('MALFORMED', 'consortium config: input must be bytes')
  if (data.length > MAX_CONFIG_BYTES) throw new BlockError('OVERSIZED', `consortium config is ${data.length} bytes`)
  let v: unknown
  try { v = dagCbor.decode(data) } catch (err) { throw new BlockError('MALFORMED', `consortium config: ${(err as Error).message}`) }
  const c = consortiumConfigShape(v)
  if (!equalBytes(encodeConsortiumConfig(c), data)) throw new BlockError('NON_CANONICAL', 'consortium config is not canonically encoded dag-cbor')
  return c
}

/** SHA-256 of the configuration's canonical encoding: what headers carry in `configHash` / `nextConfigHash`. */
export function configHash (c: ConsortiumConfig): Uint8Array {
  return sha256(encodeConsortiumConfig(c))
}

/** Quorum of the configuration: ⌊2n/3⌋+1. */
export function configQuorum (c: ConsortiumConfig): number { return quorumSize(c.managers.length) }
/** Byzantine managers the configuration tolerates: n − quorum. */
export function configFaulty (c: ConsortiumConfig): number { return c.managers.length - configQuorum(c) }

/** Index of hospital `hospitalId` in `c.managers`, or −1. */
export function managerIndex (c: ConsortiumConfig, hospitalId: Uint8Array): number {
  return c.managers.findIndex((m) => equalBytes(m.hospitalId, hospitalId))
}

/** The current signing key of hospital `hospitalId` under `c`, or undefined if it is not a member. */
export function hospitalKey (c: ConsortiumConfig, hospitalId: Uint8Array): Uint8Array | undefined {
  return c.managers.find((m) => equalBytes(m.hospitalId, hospitalId))?.sigPublicKey
}

/** The ML-DSA-65 keys in index order (what `verifyCertificate` takes as `managers`). */
export function configKeys (c: ConsortiumConfig): Uint8Array[] {
  return c.managers.map((m) => m.sigPublicKey)
}

// ---------------------------------------------------------------------------------------------
// Changes

/** The bytes every hospital signs for a change: domain tag, chain id, the base configuration's hash, the change, its time. */
export function managerChangeSignBytes (chainId: string, baseConfig: Uint8Array, change: ManagerChange, time: number): Uint8Array {
  managerChangeShape(change)
  if (!(baseConfig instanceof Uint8Array) || baseConfig.length !== HASH_BYTES) throw new BlockError('INVALID', 'baseConfig must be a 32-byte config hash')
  uint(time, 'manager change time')
  return dagCbor.encode(['pqmed/manager-change/1', chainId, baseConfig, change, time])
}

/**
 * Whether `change` can apply to `c` (ignoring signatures): add — a new hospital id, key and peer id,
 * at most MAX_VALIDATORS managers; remove — a member, and at least one manager left; rotate — a
 * member, and a key / peer id no other manager (and not its current key) uses.
 */
export function checkChange (c: ConsortiumConfig, change: ManagerChange): Check {
  const shape = checked(() => { managerChangeShape(change) })
  if (!shape.ok) return shape
  const keyUsed = (k: Uint8Array, except?: Uint8Array): boolean => c.managers.some((m) => equalBytes(m.sigPublicKey, k) && (except === undefined || !equalBytes(m.hospitalId, except)))
  const peerUsed = (p: string, except?: Uint8Array): boolean => c.managers.some((m) => m.peerId === p && (except === undefined || !equalBytes(m.hospitalId, except)))
  switch (change.action) {
    case 'add':
      if (managerIndex(c, change.manager.hospitalId) >= 0) return fail('DUPLICATE', `hospital ${toHex(change.manager.hospitalId).slice(0, 16)} is already a member`)
      if (keyUsed(change.manager.sigPublicKey)) return fail('DUPLICATE', 'the added key is a current manager key')
      if (peerUsed(change.manager.peerId)) return fail('DUPLICATE', `peer id ${change.manager.peerId} belongs to a current manager`)
      if (c.managers.length >= MAX_VALIDATORS) return fail('OVERSIZED', `at most ${MAX_VALIDATORS} managers`)
      return OK
    case 'remove':
      if (managerIndex(c, change.hospitalId) < 0) return fail('UNKNOWN_VALIDATOR', `hospital ${toHex(change.hospitalId).slice(0, 16)} is not a member`)
      if (c.managers.length <= 1) return fail('INVALID', 'the last manager cannot be removed')
      return OK
    case 'rotate': {
      const i = managerIndex(c, change.hospitalId)
      if (i < 0) return fail('UNKNOWN_VALIDATOR', `hospital ${toHex(change.hospitalId).slice(0, 16)} is not a member`)
      if (keyUsed(change.sigPublicKey)) return fail('DUPLICATE', 'the new key is a current manager key (a rotation needs a fresh key)')
      if (peerUsed(change.peerId, change.hospitalId)) return fail('DUPLICATE', `peer id ${change.peerId} belongs to another manager`)
      return OK
    }
  }
}

/** The configuration after `change`, certifying from `activationHeight`. Throws BlockError if the change does not apply. */
export function applyChange (c: ConsortiumConfig, change: ManagerChange, activationHeight: number): ConsortiumConfig {
  const ok = checkChange(c, change)
  if (!ok.ok) throw new BlockError(ok.code, ok.reason)
  if (!Number.isSafeInteger(activationHeight) || activationHeight <= c.activationHeight) throw new BlockError('INVALID', `activation height ${activationHeight} must follow ${c.activationHeight}`)
  let managers: ConsortiumManager[]
  switch (change.action) {
    case 'add': managers = [...c.managers, { ...change.manager, addrs: [...change.manager.addrs] }]; break
    case 'remove': managers = c.managers.filter((m) => !equalBytes(m.hospitalId, change.hospitalId)); break
    case 'rotate': managers = c.managers.map((m) => equalBytes(m.hospitalId, change.hospitalId) ? { ...m, sigPublicKey: change.sigPublicKey, peerId: change.peerId, addrs: [...change.addrs] } : m); break
  }
  return { activationHeight, managers }
}

/**
 * Verifies a manager tx against the configuration in effect `c` (without the pending rule, which is
 * the chain's: see `ConsortiumHistory.check`): shape; `baseConfig` = configHash(c) (STALE_CONFIG); the change applies; the signers are distinct members (UNKNOWN_VALIDATOR,
 * DUPLICATE_SIGNER); at least quorumSize(n) of them (NO_QUORUM); every signature verifies under the
 * signer's current key (BAD_SIGNATURE).
 */
export function verifyManagerTx (tx: ManagerTx, chainId: string, c: ConsortiumConfig, verifier: SigVerifier): Check {
  try {
    const shape = checked(() => { managerTxShape(tx) })
    if (!shape.ok) return shape
    if (!equalBytes(tx.baseConfig, configHash(c))) return fail('STALE_CONFIG', 'the change was signed against another consortium configuration (stale or foreign); sign it again against the current one')
    const applies = checkChange(c, tx.change)
    if (!applies.ok) return applies
    const seen = new Set<string>()
    for (let i = 0; i < tx.signatures.length; i++) {
      const s = tx.signatures[i] as ManagerSignature
      const k = toHex(s.hospitalId)
      if (managerIndex(c, s.hospitalId) < 0) return fail('UNKNOWN_VALIDATOR', `signer ${k.slice(0, 16)} is not a current manager`, i)
      if (seen.has(k)) return fail('DUPLICATE_SIGNER', `hospital ${k.slice(0, 16)} signed twice`, i)
      seen.add(k)
    }
    const q = configQuorum(c)
    if (seen.size < q) return fail('NO_QUORUM', `${seen.size} distinct manager signatures, ${q} of ${c.managers.length} required`)
    const msg = managerChangeSignBytes(chainId, tx.baseConfig, tx.change, tx.time)
    for (let i = 0; i < tx.signatures.length; i++) {
      const s = tx.signatures[i] as ManagerSignature
      if (!verifier.verify(s.signature, msg, hospitalKey(c, s.hospitalId) as Uint8Array)) return fail('BAD_SIGNATURE', `signature of hospital ${toHex(s.hospitalId).slice(0, 16)} does not verify`, i)
    }
    return OK
  } catch (err) {
    return fail('INVALID', `manager tx verification failed on malformed input: ${(err as Error).message}`)
  }
}

// ---------------------------------------------------------------------------------------------
// History: the configurations of a chain, by activation height

/**
 * The configurations a chain has had, ascending by activation height (the first is the genesis
 * configuration). Immutable: `commit` returns a new history.
 */
export class ConsortiumHistory {
  readonly configs: readonly ConsortiumConfig[]
  private readonly hashes: readonly Uint8Array[]

  constructor (configs: readonly ConsortiumConfig[], readonly delay = DEFAULT_CONFIG_DELAY) {
    if (!Number.isSafeInteger(delay) || delay < MIN_CONFIG_DELAY || delay > MAX_CONFIG_DELAY) throw new BlockError('INVALID', `config delay must be an integer in [${MIN_CONFIG_DELAY}, ${MAX_CONFIG_DELAY}]`)
    if (configs.length < 1 || configs[0]?.activationHeight !== 1) throw new BlockError('INVALID', 'a consortium history starts with a configuration active from height 1')
    for (let i = 1; i < configs.length; i++) {
      if ((configs[i] as ConsortiumConfig).activationHeight <= (configs[i - 1] as ConsortiumConfig).activationHeight) throw new BlockError('INVALID', 'configurations must have increasing activation heights')
    }
    this.configs = Object.freeze([...configs])
    this.hashes = Object.freeze(configs.map(configHash))
  }

  private indexAt (height: number): number {
    let i = this.configs.length - 1
    while (i > 0 && (this.configs[i] as ConsortiumConfig).activationHeight > height) i--
    return i
  }

  /** The configuration that certifies block `height` (the genesis one for heights ≤ 1). */
  at (height: number): ConsortiumConfig { return this.configs[this.indexAt(height)] as ConsortiumConfig }
  hashAt (height: number): Uint8Array { return this.hashes[this.indexAt(height)] as Uint8Array }
  /** The configuration with this hash, if the history holds it. */
  byHash (hash: Uint8Array): ConsortiumConfig | undefined {
    const i = this.hashes.findIndex((h) => equalBytes(h, hash))
    return i < 0 ? undefined : this.configs[i]
  }

  /** The latest configuration (possibly pending, i.e. active from a height not yet reached). */
  get latest (): ConsortiumConfig { return this.configs[this.configs.length - 1] as ConsortiumConfig }

  /** Activation height of a change that is committed but not in effect at `height`, or null. */
  pendingAt (height: number): number | null {
    const a = this.latest.activationHeight
    return a > height ? a : null
  }

  /**
   * Whether `tx` may be committed in block `height`: no change pending at `height`
   * (CHANGE_PENDING) and `verifyManagerTx` against the
   * configuration in effect at `height`.
   */
  check (tx: ManagerTx, chainId: string, height: number, verifier: SigVerifier): Check {
    const pending = this.pendingAt(height)
    if (pending !== null) return fail('CHANGE_PENDING', `a change of the manager set takes effect at height ${pending}; sign the next one against that configuration`)
    return verifyManagerTx(tx, chainId, this.at(height), verifier)
  }

  /** The history after committing `tx` in block `height` (the caller checked it): the new configuration is active from height + delay. */
  commit (tx: ManagerTx, height: number): ConsortiumHistory {
    const next = applyChange(this.at(height), tx.change, height + this.delay)
    return new ConsortiumHistory([...this.configs, next], this.delay)
  }
}

// ---------------------------------------------------------------------------------------------
// Light clients

/**
 * The configuration links of a run of headers following `trusted` (ascending, the first at
 * trusted.height + 1), for sequential verification across manager changes: every header is
 * certified by the configuration the previous header announced (`configHash` = previous
 * `nextConfigHash`, else STALE_CONFIG), and only the LAST header of the run may announce a change
 * (`nextConfigHash` ≠ `configHash`; else STALE_CONFIG at that header): a run's certificate, made
 * by the set certifying its newest header, vouches for the headers before it only if they were
 * certified by that same set. So a light client verifies one run per configuration, ending each
 * at the header announcing the next set; it learns the next set by its hash (fetched and checked
 * with `configHash`), and a chain signed by a removed set fails here or at the certificate.
 */
export function checkConfigLinks (trusted: { nextConfigHash: Uint8Array }, headers: ReadonlyArray<{ height: number, configHash: Uint8Array, nextConfigHash: Uint8Array }>): Check {
  let expect = trusted.nextConfigHash
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i] as { height: number, configHash: Uint8Array, nextConfigHash: Uint8Array }
    if (!equalBytes(h.configHash, expect)) return fail('STALE_CONFIG', `header ${h.height} names another consortium configuration than the one its predecessor announced`, i)
    if (i < headers.length - 1 && !equalBytes(h.nextConfigHash, h.configHash)) return fail('STALE_CONFIG', `header ${h.height} announces a manager change: a run of headers must end there (verify its certificate first)`, i)
    expect = h.nextConfigHash
  }
  return OK
}

/** The first index in `headers` that announces a change of configuration (nextConfigHash ≠ configHash), or −1. */
export function firstConfigChange (headers: ReadonlyArray<{ configHash: Uint8Array, nextConfigHash: Uint8Array }>): number {
  return headers.findIndex((h) => !equalBytes(h.configHash, h.nextConfigHash))
}
