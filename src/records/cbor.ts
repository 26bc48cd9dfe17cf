/**
 * dag-cbor encoding for signing payloads. `@ipld/dag-cbor` returns a Node `Buffer` under Node, and
 * the liboqs backend refuses any message whose constructor is not exactly `Uint8Array`; this
 * returns a plain `Uint8Array` view of the same bytes (no copy).
 */
import * as dagCbor from '@ipld/dag-cbor'

export function encodeCanonical (value: unknown): Uint8Array {
  const out = dagCbor.encode(value)
  return out.constructor === Uint8Array ? out : new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}
