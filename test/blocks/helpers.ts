/** Shared fixtures for the src/blocks tests: structurally valid txs and a minimal CBOR writer. */
import { randomBytes, sha256, sigKeygen, SUITE } from '../../src/crypto/index.js'
import type { GrantTx, IndexUpdate, PatientTx, RecordTx } from '../../src/blocks/index.js'

let counter = 0

export function indexUpdate (valueLen = 40): IndexUpdate {
  return { label: randomBytes(32), value: randomBytes(valueLen) }
}

/** A record tx with random ids and a random (structurally valid, cryptographically meaningless) signature. */
export function recordTx (updates = 2, attachments = 1): RecordTx {
  return {
    type: 'record',
    recordId: randomBytes(32),
    doctor: randomBytes(32),
    owner: randomBytes(32),
    fields: [randomBytes(32), randomBytes(32), randomBytes(32)],
    attachments: Array.from({ length: attachments }, () => randomBytes(32)),
    indexUpdates: Array.from({ length: updates }, () => indexUpdate()),
    time: 1_700_000_000_000 + counter++,
    signature: randomBytes(SUITE.sigBytes)
  }
}

const grantorKey = sigKeygen(new Uint8Array(32).fill(9)).publicKey

export function grantTx (fields: number[] = [1, 2]): GrantTx {
  return {
    type: 'grant',
    recordId: randomBytes(32),
    grantor: sha256(grantorKey),
    grantorKey,
    grantee: randomBytes(32),
    fields,
    wrapped: randomBytes(1088 + 3 * 60),
    time: 1_700_000_000_000 + counter++,
    signature: randomBytes(SUITE.sigBytes)
  }
}

const patientKey = sigKeygen(new Uint8Array(32).fill(7)).publicKey

export function patientTx (): PatientTx {
  return {
    type: 'patient',
    patientId: sha256(patientKey),
    sigPublicKey: patientKey,
    kemPublicKey: randomBytes(SUITE.kemPublicKeyBytes),
    time: 1_700_000_000_000 + counter++,
    signature: randomBytes(SUITE.sigBytes)
  }
}

/** Deep copy of a plain value made of objects, arrays, Uint8Arrays and primitives. */
export function clone<T> (v: T): T {
  if (v instanceof Uint8Array) return v.slice() as T
  if (Array.isArray(v)) return v.map(clone) as T
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) as T
  return v
}

// A deliberately small CBOR writer, independent of @ipld/dag-cbor, to produce non-canonical encodings.
export interface CborOpts {
  /** Map key order: 'canonical' (length, then bytewise: dag-cbor's rule) or 'reverse'. */
  keyOrder?: 'canonical' | 'reverse'
  /** Encode every integer with an 8-byte argument (non-minimal). */
  wideInts?: boolean
  /** Encode every integer as a float64. */
  floatInts?: boolean
}

function head (major: number, n: number, wide: boolean): number[] {
  if (wide) {
    const b = new Array<number>(8).fill(0)
    let x = BigInt(n)
    for (let i = 7; i >= 0; i--) { b[i] = Number(x & 0xffn); x >>= 8n }
    return [(major << 5) | 27, ...b]
  }
  if (n < 24) return [(major << 5) | n]
  if (n < 0x100) return [(major << 5) | 24, n]
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff]
  if (n < 0x100000000) return [(major << 5) | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
  return head(major, n, true)
}

function canonicalKeyCompare (a: string, b: string): number {
  const ab = Buffer.from(a); const bb = Buffer.from(b)
  return ab.length !== bb.length ? ab.length - bb.length : Buffer.compare(ab, bb)
}

export function cbor (v: unknown, opts: CborOpts = {}): Uint8Array {
  const out: number[] = []
  const enc = (x: unknown): void => {
    if (typeof x === 'number') {
      if (opts.floatInts) {
        const b = Buffer.alloc(8); b.writeDoubleBE(x); out.push(0xfb, ...b); return
      }
      if (x >= 0) out.push(...head(0, x, opts.wideInts === true)); else out.push(...head(1, -1 - x, opts.wideInts === true))
    } else if (typeof x === 'string') {
      const b = Buffer.from(x); out.push(...head(3, b.length, false), ...b)
    } else if (x instanceof Uint8Array) {
      out.push(...head(2, x.length, false)); for (const byte of x) out.push(byte)
    } else if (Array.isArray(x)) {
      out.push(...head(4, x.length, false)); x.forEach(enc)
    } else if (typeof x === 'object' && x !== null) {
      const keys = Object.keys(x).sort(canonicalKeyCompare)
      if (opts.keyOrder === 'reverse') keys.reverse()
      out.push(...head(5, keys.length, false))
      for (const k of keys) { enc(k); enc((x as Record<string, unknown>)[k]) }
    } else {
      throw new Error(`cbor test writer: unsupported ${typeof x}`)
    }
  }
  enc(v)
  return Uint8Array.from(out)
}
