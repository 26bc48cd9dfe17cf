/**
 * Wire shapes of the request/response protocols and the headers topic (dag-cbor). Every decoder
 * checks shapes and sizes and throws `WireError` on anything unexpected.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { WireError } from './errors.js'
import { decodeCertificate, decodeHeader, encodeCertificate, encodeHeader, type CommitCertificate, type Header } from '../blocks/index.js'

export { WireError } from './errors.js'

export const MAX_HEADERS_PER_REQUEST = 1000
export const MAX_BLOCKS_PER_REQUEST = 8
export const MAX_BLOBS_PER_REQUEST = 64
/** Largest request/response frame on the sync and query protocols. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024
/** Most bytes of blocks and certificates in one `/sync/1 blocks` answer (at least one block): 8 full blocks of 4 MiB would exceed a frame. */
export const MAX_BLOCKS_ANSWER_BYTES = 12 * 1024 * 1024
export const MAX_HEADER_GOSSIP_BYTES = 1024 * 1024

export function obj (v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new WireError(`${what} must be a map`)
  return v as Record<string, unknown>
}
export function bytes (v: unknown, what: string, len?: number): Uint8Array {
  if (!(v instanceof Uint8Array) || (len !== undefined && v.length !== len)) throw new WireError(`${what} must be ${len ?? ''} bytes`)
  return v
}
export function uint (v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new WireError(`${what} must be a non-negative integer`)
  return v
}
export function list<T> (v: unknown, what: string, max: number, item: (x: unknown, i: number) => T): T[] {
  if (!Array.isArray(v) || v.length > max) throw new WireError(`${what} must be a list of at most ${max}`)
  return v.map(item)
}

/** A committed header with its certificate, as gossiped on `/headers/1`. */
export interface CertifiedHeader { header: Header, cert: CommitCertificate, headerBytes: Uint8Array }

export function encodeCertifiedHeader (header: Header, cert: CommitCertificate): Uint8Array {
  return dagCbor.encode({ cert: encodeCertificate(cert), header: encodeHeader(header) })
}

export function decodeCertifiedHeader (data: Uint8Array): CertifiedHeader {
  const { headerBytes, certBytes } = splitCertifiedHeader(data)
  return { header: decodeHeader(headerBytes), cert: decodeCertificate(certBytes), headerBytes }
}

/**
 * The two encodings inside a headers-topic message, not decoded: a light node decodes the header
 * first and the certificate only if the header is new to it.
 */
export function splitCertifiedHeader (data: Uint8Array): { headerBytes: Uint8Array, certBytes: Uint8Array } {
  if (data.length > MAX_HEADER_GOSSIP_BYTES) throw new WireError('header message too large')
  const o = obj(dagCbor.decode(data), 'certified header')
  return { headerBytes: bytes(o.header, 'header'), certBytes: bytes(o.cert, 'cert') }
}
