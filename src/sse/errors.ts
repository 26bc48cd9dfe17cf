/** Typed errors of the searchable-encryption library. Every failure carries a stable `code`. */
export type SseErrorCode =
  | 'BAD_INPUT' // wrong type, length or range at an API boundary
  | 'MALFORMED_TOKEN' // a search token that does not parse or is not well formed (lengths, depth, index, overlap, order)
  | 'TOKEN_LIMIT' // a well-formed token beyond the configured limits (groups, nodes, labels, leaves)
  | 'DUPLICATE_LABEL' // an append of a label the store already holds (the store is append-only)
  | 'BAD_POSITION' // a commit position that is not a valid, increasing chain-wide position
  | 'MALFORMED_STATE' // serialized client counter state that does not parse
  | 'COUNTER_OVERFLOW' // more than 2^32 updates for one (writer, term)

export class SseError extends Error {
  readonly code: SseErrorCode
  constructor (code: SseErrorCode, message: string) {
    super(message)
    this.name = 'SseError'
    this.code = code
  }
}

export function assertBytes (value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new SseError('BAD_INPUT', `${name} must be a Uint8Array`)
  if (length !== undefined && value.length !== length) {
    throw new SseError('BAD_INPUT', `${name} must be ${length} bytes, got ${value.length}`)
  }
}
