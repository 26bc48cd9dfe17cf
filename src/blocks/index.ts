/**
 * Chain primitives of pqmed: a pure library (no I/O, no clock) used by managers, light clients and
 * the consensus engine.
 *
 * - `types.ts` — the data model (txs, headers, blocks, commit certificates); `vote.ts` — vote sign bytes.
 * - `codec.ts` — canonical dag-cbor `encode*` / `decode*` (decoders reject oversize, malformed,
 *   non-canonical and wrongly shaped input with a typed `BlockError`).
 * - `hash.ts` — `headerHash`, `txHash`, `indexLeaf`, CIDs, `genesisHeader`.
 * - `merkle.ts` — RFC 6962 Merkle roots, audit paths and their verification.
 * - `validate.ts` — `validateTx` / `validateHeader` / `validateBlock` (structural, no signatures).
 * - `certificate.ts` — `quorumSize`, `verifyCertificate`, `MemoVerifier` (each signature verified once).
 * - `consortium.ts` — the consortium configuration (manager set), `configHash`, `ManagerTx` and its checks.
 * - `light.ts` — `verifyHeaderLink`, `verifyHeaderChain` (light-client sequential verification).
 * - `builder.ts` — `buildBlock`, per-tx and per-index-update inclusion proofs and their checks.
 * - `governance.ts` — hospital-signed doctor and user-node txs (docs/GOVERNANCE.md).
 * - `proposal.ts` — the compact block of a PRE-PREPARE (header + tx hashes), `encodeBlockFromParts`.
 *
 * Validators and verifiers return a `Check` (`{ ok: true }` or `{ ok: false, code, reason, at? }`)
 * and never throw on bad input; codecs and builders throw `BlockError`.
 *
 * @example
 * ```ts
 * import { buildBlock, decodeBlock, encodeBlock, genesisHeader, headerHash, recordInclusion,
 *   validateBlock, verifyCertificate, verifyHeaderChain, verifyRecordInclusion } from './blocks/index.js'
 *
 * const genesis = genesisHeader('pqmed-dev', genesisDocHash)
 * const block = buildBlock({ chainId: 'pqmed-dev', height: 1, prevHash: headerHash(genesis), time: now,
 *   proposer: 0, view: 0, indexStart: 0, txs })
 * const wire = encodeBlock(block)
 * const received = decodeBlock(wire)                // throws BlockError on bad bytes
 * validateBlock(received)                           // { ok: true } or { ok: false, code: 'MISMATCH', ... }
 *
 * // a light client holding `genesis` and the managers' keys:
 * const ctx = { chainId: 'pqmed-dev', managers, verifier: await loadPqBackend() }
 * verifyHeaderChain(genesis, [block.header], cert, ctx)          // { ok: true }
 * verifyRecordInclusion(block.header, recordInclusion(block, 0))  // true
 * ```
 */
export * from './types.js'
export * from './governance.js'
export * from './vote.js'
export * from './errors.js'
export * from './limits.js'
export * from './merkle.js'
export {
  encodeTx, decodeTx, encodeHeader, decodeHeader, encodeBlock, decodeBlock, encodeCertificate, decodeCertificate,
  encodeCanonical, decodeCanonical, TX_TYPES
} from './codec.js'
export * from './hash.js'
export * from './validate.js'
export * from './certificate.js'
export * from './light.js'
export * from './builder.js'
export * from './consortium.js'
export { encodeSubmission } from './submission.js'
export * from './key-epoch.js'
export { encodeCompactBlock, decodeCompactBlock, encodeBlockFromParts, compactOf, MAX_COMPACT_BLOCK_BYTES, type CompactBlock } from './proposal.js'
