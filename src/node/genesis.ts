/**
 * The genesis file: chain id, the fixed manager set (ML-DSA-65 public keys, libp2p peer ids,
 * addresses), the registered doctors' public keys, the user nodes the managers admit (libp2p peer
 * ids, optional) and the consensus parameters. Bytes are base64
 * in the JSON file. Every node of a network loads the same file; its hash is the parent of block 1.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { peerIdFromString } from '@libp2p/peer-id'
import { configHash, genesisConfig, MAX_CONFIG_DELAY, MIN_CONFIG_DELAY, type ConsortiumConfig } from '../blocks/consortium.js'
import { genesisHeader } from '../blocks/hash.js'
import type { Header } from '../blocks/types.js'
import { SUITE, sha256 } from '../crypto/index.js'

export interface GenesisManager {
  name: string
  sigPublicKey: Uint8Array
  peerId: string
  addrs: string[]
}

export interface GenesisDoctor {
  name: string
  sigPublicKey: Uint8Array
  kemPublicKey: Uint8Array
  /**
   * The name of the manager (hospital) the doctor belongs to, which may rotate or revoke it
   * (docs/GOVERNANCE.md). Absent: the first manager's.
   */
  hospital?: string
}

export interface ConsensusParams {
  /** Minimum time between two proposals, ms. */
  blockInterval: number
  /** Maximum records per block. */
  maxBlockRecords: number
  /** Base view-change timeout, ms (doubles with each successive view). */
  viewChangeTimeout: number
  /** Leader heartbeat period when idle, ms. */
  heartbeatInterval: number
  /**
   * Heights between a manager change's commit (height c) and the first height the new manager set
   * certifies (c + configDelay); ≥ 2. Absent: 2 (DEFAULT_CONFIG_DELAY of src/blocks/consortium.ts).
   */
  configDelay?: number
}

export interface Genesis {
  chainId: string
  time: number
  managers: GenesisManager[]
  doctors: GenesisDoctor[]
  /**
   * libp2p peer ids of the user nodes the managers admit (besides the managers themselves and a
   * manager's `--allow-peer` / `--allow-peers-file` lists). Absent: none.
   */
  userNodes?: string[]
  params: ConsensusParams
}

export class GenesisError extends Error {
  readonly code = 'INVALID_GENESIS'
  constructor (message: string) { super(`genesis: ${message}`); this.name = 'GenesisError' }
}

export const DEFAULT_PARAMS: ConsensusParams = { blockInterval: 100, maxBlockRecords: 500, viewChangeTimeout: 2000, heartbeatInterval: 500 }

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
function unb64 (v: unknown, what: string, len: number): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new GenesisError(`${what} must be base64`)
  const b = new Uint8Array(Buffer.from(v, 'base64'))
  if (b.length !== len) throw new GenesisError(`${what} must be ${len} bytes, got ${b.length}`)
  return b
}
function str (v: unknown, what: string, max = 256): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new GenesisError(`${what} must be a non-empty string of at most ${max} characters`)
  return v
}
function int (v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new GenesisError(`${what} must be an integer in [${min}, ${max}]`)
  return v
}
function obj (v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GenesisError(`${what} must be an object`)
  return v as Record<string, unknown>
}

export function genesisToJson (g: Genesis): string {
  return JSON.stringify({
    chainId: g.chainId,
    time: g.time,
    managers: g.managers.map((m) => ({ name: m.name, sigPublicKey: b64(m.sigPublicKey), peerId: m.peerId, addrs: m.addrs })),
    doctors: g.doctors.map((d) => ({ name: d.name, sigPublicKey: b64(d.sigPublicKey), kemPublicKey: b64(d.kemPublicKey), ...(d.hospital !== undefined ? { hospital: d.hospital } : {}) })),
    ...(g.userNodes !== undefined ? { userNodes: g.userNodes } : {}),
    params: g.params
  }, null, 2) + '\n'
}

/** Parses and validates a genesis JSON document. Throws GenesisError with the offending field. */
export function parseGenesis (json: string): Genesis {
  let raw: unknown
  try { raw = JSON.parse(json) } catch (err) { throw new GenesisError(`not JSON: ${(err as Error).message}`) }
  const r = obj(raw, 'genesis')
  const chainId = str(r.chainId, 'chainId', 64)
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(chainId)) throw new GenesisError('chainId may contain only a-z, 0-9, ".", "_" and "-"')
  if (!Array.isArray(r.managers) || r.managers.length < 1 || r.managers.length > 100) throw new GenesisError('managers must be a list of 1..100 entries')
  const managers = r.managers.map((m: unknown, i: number) => {
    const o = obj(m, `managers[${i}]`)
    if (!Array.isArray(o.addrs) || o.addrs.length > 16) throw new GenesisError(`managers[${i}].addrs must be a list`)
    return {
      name: str(o.name, `managers[${i}].name`, 64),
      sigPublicKey: unb64(o.sigPublicKey, `managers[${i}].sigPublicKey`, SUITE.sigPublicKeyBytes),
      peerId: str(o.peerId, `managers[${i}].peerId`, 128),
      addrs: o.addrs.map((a: unknown, j: number) => str(a, `managers[${i}].addrs[${j}]`, 256))
    }
  })
  if (!Array.isArray(r.doctors) || r.doctors.length > 100_000) throw new GenesisError('doctors must be a list')
  const doctors = r.doctors.map((d: unknown, i: number) => {
    const o = obj(d, `doctors[${i}]`)
    return {
      name: str(o.name, `doctors[${i}].name`, 128),
      sigPublicKey: unb64(o.sigPublicKey, `doctors[${i}].sigPublicKey`, SUITE.sigPublicKeyBytes),
      kemPublicKey: unb64(o.kemPublicKey, `doctors[${i}].kemPublicKey`, SUITE.kemPublicKeyBytes),
      ...(o.hospital !== undefined ? { hospital: str(o.hospital, `doctors[${i}].hospital`, 64) } : {})
    }
  })
  for (const [i, d] of doctors.entries()) {
    if (d.hospital !== undefined && !managers.some((m) => m.name === d.hospital)) throw new GenesisError(`doctors[${i}].hospital ${JSON.stringify(d.hospital)} names no manager`)
  }
  let userNodes: string[] | undefined
  if (r.userNodes !== undefined) {
    if (!Array.isArray(r.userNodes) || r.userNodes.length > 100_000) throw new GenesisError('userNodes must be a list of libp2p peer ids')
    userNodes = r.userNodes.map((u: unknown, i: number) => {
      const id = str(u, `userNodes[${i}]`, 128)
      try { peerIdFromString(id) } catch { throw new GenesisError(`userNodes[${i}] is not a libp2p peer id: ${JSON.stringify(id)}`) }
      return id
    })
    if (new Set(userNodes).size !== userNodes.length) throw new GenesisError('userNodes lists a peer id twice')
  }
  const p = obj(r.params ?? DEFAULT_PARAMS, 'params')
  const params: ConsensusParams = {
    blockInterval: int(p.blockInterval ?? DEFAULT_PARAMS.blockInterval, 'params.blockInterval', 1, 60_000),
    maxBlockRecords: int(p.maxBlockRecords ?? DEFAULT_PARAMS.maxBlockRecords, 'params.maxBlockRecords', 1, 10_000),
    viewChangeTimeout: int(p.viewChangeTimeout ?? DEFAULT_PARAMS.viewChangeTimeout, 'params.viewChangeTimeout', 50, 600_000),
    heartbeatInterval: int(p.heartbeatInterval ?? DEFAULT_PARAMS.heartbeatInterval, 'params.heartbeatInterval', 10, 600_000),
    ...(p.configDelay !== undefined ? { configDelay: int(p.configDelay, 'params.configDelay', MIN_CONFIG_DELAY, MAX_CONFIG_DELAY) } : {})
  }
  const g: Genesis = { chainId, time: int(r.time, 'time', 0, Number.MAX_SAFE_INTEGER), managers, doctors, ...(userNodes !== undefined ? { userNodes } : {}), params }
  const seen = new Set<string>()
  for (const m of managers) {
    const k = Buffer.from(m.sigPublicKey).toString('hex')
    if (seen.has(k) || seen.has(m.peerId)) throw new GenesisError(`duplicate manager ${m.name}`)
    seen.add(k); seen.add(m.peerId)
  }
  return g
}

/**
 * Hash of the canonical (dag-cbor) encoding of the genesis: the chain's root of trust. `userNodes`
 * and a doctor's `hospital` are hashed when present (a genesis without them hashes as before the
 * fields existed).
 */
export function genesisHash (g: Genesis): Uint8Array {
  return sha256(dagCbor.encode({
    chainId: g.chainId,
    time: g.time,
    managers: g.managers.map((m) => ({ name: m.name, sigPublicKey: m.sigPublicKey, peerId: m.peerId, addrs: m.addrs })),
    doctors: g.doctors.map((d) => ({ name: d.name, sigPublicKey: d.sigPublicKey, kemPublicKey: d.kemPublicKey, ...(d.hospital !== undefined ? { hospital: d.hospital } : {}) })),
    ...(g.userNodes !== undefined ? { userNodes: g.userNodes } : {}),
    params: { ...g.params }
  }))
}

/** The genesis consortium configuration (src/blocks/consortium.ts): the genesis managers, in order, from height 1. */
export function genesisConsortium (g: Genesis): ConsortiumConfig { return genesisConfig(g.managers) }

/** The height-0 header of this genesis (its configHash is the genesis consortium configuration's). */
export function genesisHeaderOf (g: Genesis): Header { return genesisHeader(g.chainId, genesisHash(g), configHash(genesisConsortium(g))) }

/** Tolerated faulty managers: f = floor((n - 1) / 3). */
export function faultTolerance (n: number): number { return Math.floor((n - 1) / 3) }

export const topics = (chainId: string): { tx: string, consensus: string, headers: string } => ({
  tx: `/pqmed/${chainId}/tx/1`,
  consensus: `/pqmed/${chainId}/consensus/1`,
  headers: `/pqmed/${chainId}/headers/1`
})

export const protocols = (chainId: string): { status: string, sync: string, query: string, submit: string } => ({
  status: `/pqmed/${chainId}/status/1`,
  sync: `/pqmed/${chainId}/sync/1`,
  query: `/pqmed/${chainId}/query/1`,
  submit: `/pqmed/${chainId}/submit/1`
})
