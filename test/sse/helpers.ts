import { randomBytes, sha256, concatBytes, u32be } from '../../src/crypto/index.js'
import { MemoryIndexStore, type IndexUpdate, type StoredEntry } from '../../src/sse/index.js'

/** Deterministic PRNG (mulberry32, shared with the synthetic record generator) so failures are reproducible. */
export { seededRng as prng } from '../../src/client/synthetic.js'

export function pick<T> (rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T
}

/**
 * A stand-in for the chain: appends committed updates to a store and records, per chain-wide
 * position, a commitment to (label, value) — what an inclusion proof would establish. The fake
 * proof verifier accepts an entry iff it is exactly what was committed at its position.
 */
export class FakeChain {
  readonly store = new MemoryIndexStore()
  private readonly committed = new Map<number, Uint8Array>()
  private next = 0
  height = 0

  commit (updates: IndexUpdate[]): void {
    this.height++
    for (const u of updates) {
      const position = { height: this.height, index: this.next++ }
      this.store.append(u, position)
      this.committed.set(position.index, commitment(u.label, u.value, position.height))
    }
  }

  readonly verifyProof = (e: StoredEntry): boolean => {
    const c = this.committed.get(e.position.index)
    return c !== undefined && Buffer.from(c).equals(commitment(e.label, e.value, e.position.height))
  }
}

function commitment (label: Uint8Array, value: Uint8Array, height: number): Uint8Array {
  return sha256(concatBytes(u32be(height), label, value))
}

export function ids (n: number): Uint8Array[] {
  return Array.from({ length: n }, () => randomBytes(32))
}
