/**
 * Canonical dag-cbor encoding of consensus messages and write-ahead-log records, with strict,
 * bounded decoding: a decoded value has exactly the shape of its TypeScript type (or decoding
 * throws `ConsensusError('MALFORMED')`), so the state machine never sees a malformed message.
 */
import * as dagCbor from '@ipld/dag-cbor'
import type { CommitSignature } from '../blocks/types.js'
import { ConsensusError } from './errors.js'
import type { ConsensusMessage, NewViewMsg, PreparedCert, PrePrepareMsg, Value, ViewChangeMsg, VoteMsg, WalRecord } from './types.js'

export interface DecodeLimits {
  /** Largest proposed value (encoded block) accepted, in bytes. Default 16 MiB. */
  maxValueBytes: number
  /** Largest signature accepted, in bytes (ML-DSA-65: 3309). Default 8192. */
  maxSigBytes: number
  /** Most signatures in a certificate and view-changes in a NEW-VIEW. Default 1024. */
  maxManagers: number
  /** Largest encoded message or WAL record accepted, in bytes. Default 32 MiB. */
  maxMessageBytes: number
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxValueBytes: 16 * 1024 * 1024,
  maxSigBytes: 8192,
  maxManagers: 1024,
  maxMessageBytes: 32 * 1024 * 1024
})

type Obj = Record<string, unknown>

function bad (what: string): never {
  throw new ConsensusError('MALFORMED', what)
}

function obj (x: unknown, what: string, keys: string[]): Obj {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) bad(`${what}: not a map`)
  const o = x as Obj
  const have = Object.keys(o).sort()
  const want = [...keys].sort()
  if (have.length !== want.length || have.some((k, i) => k !== want[i])) bad(`${what}: expected keys ${want.join(',')}`)
  return o
}

function uint (x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) bad(`${what}: not a non-negative integer`)
  return x
}

function bytes (x: unknown, what: string, max: number, exact?: number): Uint8Array {
  if (!(x instanceof Uint8Array)) bad(`${what}: not bytes`)
  if (exact !== undefined && x.length !== exact) bad(`${what}: expected ${exact} bytes`)
  if (x.length > max) bad(`${what}: longer than ${max} bytes`)
  return x
}

function hash (x: unknown, what: string): Uint8Array { return bytes(x, what, 32, 32) }

function list (x: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(x)) bad(`${what}: not a list`)
  if (x.length > max) bad(`${what}: more than ${max} entries`)
  return x
}

function value (x: unknown, lim: DecodeLimits): Value {
  const o = obj(x, 'value', ['hash', 'bytes'])
  return { hash: hash(o.hash, 'value.hash'), bytes: bytes(o.bytes, 'value.bytes', lim.maxValueBytes) }
}

function sigs (x: unknown, what: string, lim: DecodeLimits): CommitSignature[] {
  return list(x, what, lim.maxManagers).map((e) => {
    const o = obj(e, what, ['validator', 'signature'])
    return { validator: uint(o.validator, `${what}.validator`), signature: bytes(o.signature, `${what}.signature`, lim.maxSigBytes) }
  })
}

function preparedCert (x: unknown, lim: DecodeLimits): PreparedCert {
  const o = obj(x, 'prepared', ['view', 'hash', 'prePrepareSig', 'prepares'])
  return {
    view: uint(o.view, 'prepared.view'),
    hash: hash(o.hash, 'prepared.hash'),
    prePrepareSig: bytes(o.prePrepareSig, 'prepared.prePrepareSig', lim.maxSigBytes),
    prepares: sigs(o.prepares, 'prepared.prepares', lim)
  }
}

const HEAD = ['type', 'height', 'view', 'from', 'sig']

function head (o: Obj, lim: DecodeLimits): { height: number, view: number, from: number, sig: Uint8Array } {
  return { height: uint(o.height, 'height'), view: uint(o.view, 'view'), from: uint(o.from, 'from'), sig: bytes(o.sig, 'sig', lim.maxSigBytes) }
}

function prePrepare (x: unknown, lim: DecodeLimits): PrePrepareMsg {
  const o = obj(x, 'pre-prepare', [...HEAD, 'value'])
  if (o.type !== 'pre-prepare') bad('pre-prepare: wrong type')
  return { type: 'pre-prepare', ...head(o, lim), value: value(o.value, lim) }
}

function viewChange (x: unknown, lim: DecodeLimits): ViewChangeMsg {
  const o = obj(x, 'view-change', [...HEAD, 'prepared', 'value'])
  if (o.type !== 'view-change') bad('view-change: wrong type')
  const prepared = o.prepared === null ? null : preparedCert(o.prepared, lim)
  const v = o.value === null ? null : bytes(o.value, 'view-change.value', lim.maxValueBytes)
  return { type: 'view-change', ...head(o, lim), prepared, value: v }
}

function message (x: unknown, lim: DecodeLimits): ConsensusMessage {
  const type = (typeof x === 'object' && x !== null) ? (x as Obj).type : undefined
  switch (type) {
    case 'pre-prepare': return prePrepare(x, lim)
    case 'prepare':
    case 'commit': {
      const o = obj(x, type, [...HEAD, 'hash'])
      const vote: VoteMsg = { type, ...head(o, lim), hash: hash(o.hash, 'hash') }
      return vote
    }
    case 'view-change': return viewChange(x, lim)
    case 'new-view': {
      const o = obj(x, 'new-view', [...HEAD, 'viewChanges', 'prePrepare'])
      const nv: NewViewMsg = {
        type: 'new-view',
        ...head(o, lim),
        viewChanges: list(o.viewChanges, 'new-view.viewChanges', lim.maxManagers).map((vc) => viewChange(vc, lim)),
        prePrepare: o.prePrepare === null ? null : prePrepare(o.prePrepare, lim)
      }
      return nv
    }
    case 'heartbeat': {
      const o = obj(x, 'heartbeat', [...HEAD, 'seq'])
      if (typeof o.seq !== 'number' || !Number.isFinite(o.seq)) bad('heartbeat.seq: not a number')
      return { type: 'heartbeat', ...head(o, lim), seq: o.seq }
    }
    default: return bad(`unknown message type ${String(type)}`)
  }
}

function decodeCbor (data: Uint8Array, max: number): unknown {
  if (!(data instanceof Uint8Array)) bad('not bytes')
  if (data.length > max) bad(`longer than ${max} bytes`)
  try {
    return dagCbor.decode(data)
  } catch (err) {
    return bad(`not dag-cbor: ${(err as Error).message}`)
  }
}

/** Canonical dag-cbor bytes of a message (the signature travels inside; see `signing.ts` for what it signs). */
export function encodeMessage (msg: ConsensusMessage): Uint8Array {
  return dagCbor.encode(msg)
}

/** Decodes and shape-checks a message (signatures are the state machine's business). Throws MALFORMED. */
export function decodeMessage (data: Uint8Array, limits: Partial<DecodeLimits> = {}): ConsensusMessage {
  const lim = { ...DEFAULT_DECODE_LIMITS, ...limits }
  return message(decodeCbor(data, lim.maxMessageBytes), lim)
}

export function encodeWalRecord (record: WalRecord): Uint8Array {
  return dagCbor.encode(record)
}

export function decodeWalRecord (data: Uint8Array, limits: Partial<DecodeLimits> = {}): WalRecord {
  const lim = { ...DEFAULT_DECODE_LIMITS, ...limits }
  const x = decodeCbor(data, lim.maxMessageBytes)
  const kind = (typeof x === 'object' && x !== null) ? (x as Obj).kind : undefined
  switch (kind) {
    case 'view': {
      const o = obj(x, 'wal view', ['kind', 'height', 'view'])
      return { kind, height: uint(o.height, 'height'), view: uint(o.view, 'view') }
    }
    case 'new-view': {
      const o = obj(x, 'wal new-view', ['kind', 'height', 'view', 'hash'])
      return { kind, height: uint(o.height, 'height'), view: uint(o.view, 'view'), hash: o.hash === null ? null : hash(o.hash, 'hash') }
    }
    case 'pre-prepare': {
      const o = obj(x, 'wal pre-prepare', ['kind', 'height', 'view', 'value'])
      return { kind, height: uint(o.height, 'height'), view: uint(o.view, 'view'), value: value(o.value, lim) }
    }
    case 'prepare': {
      const o = obj(x, 'wal prepare', ['kind', 'height', 'view', 'hash'])
      return { kind, height: uint(o.height, 'height'), view: uint(o.view, 'view'), hash: hash(o.hash, 'hash') }
    }
    case 'commit': {
      const o = obj(x, 'wal commit', ['kind', 'height', 'view', 'hash', 'prepared', 'bytes'])
      return {
        kind,
        height: uint(o.height, 'height'),
        view: uint(o.view, 'view'),
        hash: hash(o.hash, 'hash'),
        prepared: preparedCert(o.prepared, lim),
        bytes: bytes(o.bytes, 'bytes', lim.maxValueBytes)
      }
    }
    case 'leaders': {
      const o = obj(x, 'wal leaders', ['kind', 'height', 'at', 'entries'])
      const entries = list(o.entries, 'entries', lim.maxManagers).map((e) => {
        const y = obj(e, 'leaders entry', ['manager', 'strikes', 'until', 'forgetAt'])
        return { manager: uint(y.manager, 'entry.manager'), strikes: uint(y.strikes, 'entry.strikes'), until: uint(y.until, 'entry.until'), forgetAt: uint(y.forgetAt, 'entry.forgetAt') }
      })
      return { kind, height: uint(o.height, 'height'), at: uint(o.at, 'at'), entries }
    }
    default: return bad(`unknown WAL record kind ${String(kind)}`)
  }
}
