/**
 * The node's typed errors. Every failure of the node layer that a caller may act on is a
 * `NodeError` whose `code` is one of `NodeErrorCode`; the RPC backend maps these codes to
 * JSON-RPC errors (`src/node/rpc-backend.ts`, `domain`), request/response carries them between
 * nodes (`src/node/reqresp.ts`), and the light node decides from them whether another manager is
 * worth asking. Subclasses keep a name for where the error arose (mempool, wire decoding,
 * request/response); they are all `NodeError`s.
 *
 * Configuration files (genesis, identity, allow lists) have their own message-only errors
 * (`GenesisError`, `IdentityError`, `PeerListError`): they stop a node at start and are never
 * mapped to a protocol code.
 */

/** Verdict codes of tx validation (`validation/tx.ts`), also the codes of a refused submission. */
export type ValidationCode =
  | 'MALFORMED' // not a well-formed message
  | 'TOO_LARGE' // above its size limit
  | 'INVALID_TX' // the tx fails its shape or limit checks
  | 'BLOB_MISMATCH' // ciphertexts differ from the hashes the tx commits to
  | 'UNREGISTERED_DOCTOR' // the record's doctor is not in genesis
  | 'BAD_SIGNATURE' // an ML-DSA signature does not verify
  | 'UNKNOWN_RECORD' // a grant of a record that is not committed (yet)
  | 'UNAUTHORIZED_GRANTOR' // a grant by someone other than the record's doctor or owner
  | 'DUPLICATE' // the tx, its record id or its patient is committed or pending already
  | 'DUPLICATE_LABEL' // an index label is committed or pending already
  | 'INACTIVE_DOCTOR' // a record or grant signed by a doctor key that was revoked or rotated (docs/GOVERNANCE.md)
  | 'UNAUTHORIZED_HOSPITAL' // a governance tx not signed by a current hospital, or about another hospital's doctor or user node
  | 'GOVERNANCE_CONFLICT' // a governance tx that does not apply (unknown or inactive doctor, key in use, peer admitted already, a cap on active doctors or user nodes reached)
  | 'STALE' // a consensus message for a height this node has decided
  | 'STALE_CONFIG' // a manager change signed against another consortium configuration than the one in effect
  | 'CHANGE_PENDING' // a manager change while another one is committed but not yet in effect
  | 'BAD_MANAGER_CHANGE' // a manager change that does not apply or lacks 2f+1 current managers' signatures

export type NodeErrorCode =
  | ValidationCode
  | 'MEMPOOL_FULL' // the mempool holds its capacity; retry later
  | 'NOT_COMMITTED' // a waited-for tx was not committed in time (it stays pending; resubmitting is safe)
  | 'BLOB_MISSING' // a committed ciphertext is not (yet) stored on this manager
  | 'STORE_INCONSISTENT' // the chain store contradicts itself or a certified block cannot be applied
  | 'MALFORMED_TOKEN' // a search token that does not parse
  | 'TOKEN_LIMIT' // a search token beyond the limits
  | 'UNKNOWN_METHOD' // a request/response method the server does not have
  | 'FORBIDDEN' // a request only another manager may make (a consensus message sent directly)
  | 'NO_MANAGER' // a user node is connected to no manager (or none accepted)
  | 'UNVERIFIABLE' // no manager's answer passed the light node's verification
  // request/response transport
  | 'TIMEOUT' | 'TRANSPORT' | 'UNREACHABLE' | 'STOPPED' | 'BUSY'
  | 'REMOTE' // a remote error whose code this node does not know
  | 'INTERNAL' // a bug or an unexpected failure

const CODES: ReadonlySet<string> = new Set<NodeErrorCode>([
  'MALFORMED', 'TOO_LARGE', 'INVALID_TX', 'BLOB_MISMATCH', 'UNREGISTERED_DOCTOR', 'BAD_SIGNATURE', 'UNKNOWN_RECORD', 'UNAUTHORIZED_GRANTOR',
  'DUPLICATE', 'DUPLICATE_LABEL', 'INACTIVE_DOCTOR', 'UNAUTHORIZED_HOSPITAL', 'GOVERNANCE_CONFLICT', 'STALE', 'MEMPOOL_FULL', 'NOT_COMMITTED', 'BLOB_MISSING', 'STORE_INCONSISTENT', 'MALFORMED_TOKEN', 'TOKEN_LIMIT',
  'UNKNOWN_METHOD', 'FORBIDDEN', 'NO_MANAGER', 'UNVERIFIABLE', 'TIMEOUT', 'TRANSPORT', 'UNREACHABLE', 'STOPPED', 'BUSY', 'REMOTE', 'INTERNAL'
])

/** A code received from another node: itself if this node knows it, else `REMOTE`. */
export function nodeErrorCode (code: unknown): NodeErrorCode {
  return typeof code === 'string' && CODES.has(code) ? code as NodeErrorCode : 'REMOTE'
}

export class NodeError<C extends NodeErrorCode = NodeErrorCode> extends Error {
  readonly code: C
  /** Structured detail for the caller (e.g. a replayed tx's `{ txHash, committed, height }`). */
  readonly data?: unknown
  constructor (code: C, message: string, data?: unknown) {
    super(message)
    this.name = 'NodeError'
    this.code = code
    this.data = data
  }
}

/** The mempool refused a submission. */
export class MempoolError extends NodeError<'MEMPOOL_FULL' | 'DUPLICATE_LABEL' | 'DUPLICATE'> {
  constructor (code: MempoolError['code'], message: string) { super(code, message); this.name = 'MempoolError' }
}

/** A request/response message or a gossiped header has the wrong shape. */
export class WireError extends NodeError<'MALFORMED'> {
  constructor (message: string) { super('MALFORMED', message); this.name = 'WireError' }
}

/** A request/response call failed: remotely (the server's code), by timeout, or in transport. */
export class ReqRespError extends NodeError {
  constructor (code: NodeErrorCode, message: string, data?: unknown) { super(code, message, data); this.name = 'ReqRespError' }
}

/** `err` as a NodeError: itself, or `INTERNAL` with its message. */
export function asNodeError (err: unknown): NodeError {
  return err instanceof NodeError ? err : new NodeError('INTERNAL', err instanceof Error ? err.message : String(err))
}
