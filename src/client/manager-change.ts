/**
 * Manager changes as files that travel between hospitals (`pqmed consortium propose | sign |
 * submit | show`). A change file is JSON: the chain id, the hash of the consortium configuration it
 * applies to (`baseConfig`: the `nextConfigHash` of the newest header when no change is pending),
 * the change (add a hospital from its manager's public information, remove one, rotate a key), the
 * proposal time, and the detached signatures collected so far. Each hospital signs on its own
 * machine with its manager identity (`signChangeFile`); nothing secret is in the file. `changeTx`
 * turns a file with ≥ 2f+1 signatures into the `ManagerTx` a node takes (`consortium_submitChange`).
 */
import {
  encodeSubmission, hospitalIdOf, managerChangeShape, managerChangeSignBytes, SIGNATURE_BYTES, SIG_PUBLIC_KEY_BYTES,
  type ManagerChange, type ManagerTx
} from '../blocks/index.js'
import { fromHex, sha256, toHex, type PqBackend } from '../crypto/index.js'

export interface ChangeFile {
  kind: 'pqmed-manager-change/1'
  chainId: string
  /** Hex configHash of the configuration the change applies to. */
  baseConfig: string
  action: ManagerChange['action']
  /** Hex id of the hospital joining, leaving or rotating. */
  hospitalId: string
  /** add: the new hospital's name; add / rotate: its manager's ML-DSA-65 key (base64), peer id and addrs. */
  name?: string
  sigPublicKey?: string
  peerId?: string
  addrs?: string[]
  time: number
  signatures: Array<{ hospitalId: string, signature: string }>
}

export class ChangeFileError extends Error {
  readonly code = 'BAD_CHANGE_FILE'
  constructor (message: string) { super(message); this.name = 'ChangeFileError' }
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
function unb64 (s: unknown, what: string, len: number): Uint8Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new ChangeFileError(`${what} must be base64`)
  const b = new Uint8Array(Buffer.from(s, 'base64'))
  if (b.length !== len) throw new ChangeFileError(`${what} must be ${len} bytes, got ${b.length}`)
  return b
}
function hex32 (s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) throw new ChangeFileError(`${what} must be 64 lowercase hex characters`)
  return fromHex(s)
}

/** Public information of a manager joining or rotating. */
export interface ManagerInfo {
  name?: string
  sigPublicKey: Uint8Array
  peerId: string
  addrs: string[]
}

/** A new, unsigned change file. `hospitalId` (hex) names the hospital for remove / rotate; an add names it by its key. */
export function proposeChange (p: { chainId: string, baseConfig: Uint8Array, action: ManagerChange['action'], hospitalId?: string, manager?: ManagerInfo, time: number }): ChangeFile {
  const base = { kind: 'pqmed-manager-change/1' as const, chainId: p.chainId, baseConfig: toHex(p.baseConfig), action: p.action, time: p.time, signatures: [] }
  let f: ChangeFile
  if (p.action === 'add') {
    if (p.manager === undefined || p.manager.name === undefined) throw new ChangeFileError('add needs the new manager\'s name, key, peer id and addresses')
    f = { ...base, hospitalId: toHex(hospitalIdOf(p.manager.sigPublicKey)), name: p.manager.name, sigPublicKey: b64(p.manager.sigPublicKey), peerId: p.manager.peerId, addrs: [...p.manager.addrs] }
  } else if (p.action === 'remove') {
    f = { ...base, hospitalId: p.hospitalId ?? '' }
  } else {
    if (p.manager === undefined) throw new ChangeFileError('rotate needs the new key, peer id and addresses')
    f = { ...base, hospitalId: p.hospitalId ?? '', sigPublicKey: b64(p.manager.sigPublicKey), peerId: p.manager.peerId, addrs: [...p.manager.addrs] }
  }
  changeOf(f) // checks the shape
  return f
}

/** The change a file describes (throws ChangeFileError on a malformed file). */
export function changeOf (f: ChangeFile): ManagerChange {
  if (f?.kind !== 'pqmed-manager-change/1') throw new ChangeFileError('not a pqmed manager change file (kind pqmed-manager-change/1)')
  const hospitalId = hex32(f.hospitalId, 'hospitalId')
  let change: ManagerChange
  const addrs = (): string[] => {
    if (!Array.isArray(f.addrs) || !f.addrs.every((a) => typeof a === 'string')) throw new ChangeFileError('addrs must be a list of multiaddrs')
    return [...f.addrs]
  }
  const peerId = (): string => { if (typeof f.peerId !== 'string' || f.peerId === '') throw new ChangeFileError('peerId is missing'); return f.peerId }
  switch (f.action) {
    case 'add': {
      const sigPublicKey = unb64(f.sigPublicKey, 'sigPublicKey', SIG_PUBLIC_KEY_BYTES)
      if (typeof f.name !== 'string') throw new ChangeFileError('name is missing')
      change = { action: 'add', manager: { hospitalId, name: f.name, sigPublicKey, peerId: peerId(), addrs: addrs() } }
      break
    }
    case 'remove': change = { action: 'remove', hospitalId }; break
    case 'rotate': change = { action: 'rotate', hospitalId, sigPublicKey: unb64(f.sigPublicKey, 'sigPublicKey', SIG_PUBLIC_KEY_BYTES), peerId: peerId(), addrs: addrs() }; break
    default: throw new ChangeFileError('action must be add, remove or rotate')
  }
  try { managerChangeShape(change) } catch (err) { throw new ChangeFileError((err as Error).message) }
  return change
}

/** The bytes each hospital signs for this file's change. */
export function changeSignBytes (f: ChangeFile): Uint8Array {
  return managerChangeSignBytes(f.chainId, hex32(f.baseConfig, 'baseConfig'), changeOf(f), f.time)
}

/**
 * Adds (or replaces) the signature of hospital `hospitalId` (default: SHA-256 of `publicKey`, i.e.
 * a hospital that never rotated), made with its manager secret key. Returns a new file.
 */
export function signChangeFile (pq: PqBackend, f: ChangeFile, keys: { publicKey: Uint8Array, secretKey: Uint8Array }, hospitalId?: Uint8Array): ChangeFile {
  const id = toHex(hospitalId ?? sha256(keys.publicKey))
  const signature = b64(pq.sign(changeSignBytes(f), keys.secretKey))
  return { ...f, signatures: [...f.signatures.filter((s) => s.hospitalId !== id), { hospitalId: id, signature }] }
}

/** Merges the signatures of several copies of one change (each hospital signed its own copy). */
export function mergeChangeFiles (files: ChangeFile[]): ChangeFile {
  const [first, ...rest] = files
  if (first === undefined) throw new ChangeFileError('no change file')
  const bytes = toHex(changeSignBytes(first))
  const out = { ...first, signatures: [...first.signatures] }
  for (const f of rest) {
    if (toHex(changeSignBytes(f)) !== bytes) throw new ChangeFileError('the change files describe different changes (or were proposed against different configurations)')
    for (const s of f.signatures) if (!out.signatures.some((x) => x.hospitalId === s.hospitalId)) out.signatures.push(s)
  }
  return out
}

/** The manager tx of a signed change file. */
export function changeTx (f: ChangeFile): ManagerTx {
  const change = changeOf(f)
  if (!Array.isArray(f.signatures) || f.signatures.length === 0) throw new ChangeFileError('the change carries no signature')
  return {
    type: 'manager',
    action: change.action,
    baseConfig: hex32(f.baseConfig, 'baseConfig'),
    change,
    time: f.time,
    signatures: f.signatures.map((s, i) => ({ hospitalId: hex32(s.hospitalId, `signatures[${i}].hospitalId`), signature: unb64(s.signature, `signatures[${i}].signature`, SIGNATURE_BYTES) }))
  }
}

/** The submission bytes of a signed change file (what `consortium_submitChange` takes). */
export function changeSubmission (f: ChangeFile): Uint8Array {
  return encodeSubmission(changeTx(f), [])
}
