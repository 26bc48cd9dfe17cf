/**
 * The pqmed crypto suite: every primitive the project uses, in one place, so that a parameter
 * change is one edit. Symmetric primitives come from `node:crypto`; post-quantum ones from
 * `@oqs/liboqs-js` (fast) or `@noble/post-quantum` (reference, deterministic keygen).
 */
export * from './errors.js'
export * from './hash.js'
export * from './aead.js'
export * from './pq.js'
