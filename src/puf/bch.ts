/**
 * Binary primitive narrow-sense BCH codes of length n = 2^m - 1 correcting t errors:
 * systematic encoding by the generator polynomial, decoding by syndromes, Berlekamp–Massey and
 * Chien search. An error-correcting code is not a cryptographic primitive; its correctness is
 * tested in test/puf/bch.test.ts (known generators and dimensions, correction up to t).
 *
 * Bit vectors hold one 0/1 per element; element i of a codeword is the coefficient of x^i.
 * Parity occupies positions 0 .. n-k-1 and the message positions n-k .. n-1.
 */
import { PufError } from './errors.js'
import { galoisField, gfMul, MAX_FIELD_M, MIN_FIELD_M, type GaloisField } from './gf.js'

/** Exponents i (0 < i < n) of the roots alpha^i of the generator: the cyclotomic cosets of 1 .. 2t. */
function generatorRootExponents (m: number, t: number): number[] {
  const n = (1 << m) - 1
  const seen = new Uint8Array(n)
  const roots: number[] = []
  for (let i = 1; i <= 2 * t; i++) {
    const c = i % n
    if (seen[c] === 1) continue
    let x = c
    do {
      seen[x] = 1
      roots.push(x)
      x = (x * 2) % n
    } while (x !== c)
  }
  return roots
}

/** Dimension k of the BCH code (m, t), or 0 if the generator has degree >= n. */
export function bchDimension (m: number, t: number): number {
  const n = (1 << m) - 1
  return Math.max(0, n - generatorRootExponents(m, t).length)
}

/** Throws PufError('BAD_PARAMETERS') unless (m, t) define a BCH code with k >= 1. */
export function checkBchParameters (m: number, t: number): void {
  if (!Number.isInteger(m) || m < MIN_FIELD_M || m > MAX_FIELD_M) {
    throw new PufError('BAD_PARAMETERS', `BCH m must be an integer in [${MIN_FIELD_M}, ${MAX_FIELD_M}], got ${String(m)}`)
  }
  const n = (1 << m) - 1
  if (!Number.isInteger(t) || t < 1 || 2 * t + 1 > n) throw new PufError('BAD_PARAMETERS', `BCH t must be an integer in [1, ${(n - 1) >> 1}], got ${String(t)}`)
  if (bchDimension(m, t) < 1) throw new PufError('BAD_PARAMETERS', `BCH(m=${m}, t=${t}) has no message bits`)
}

export interface BchDecodeResult {
  /** The corrected codeword (a fresh array). */
  codeword: Uint8Array
  /** Number of bit errors corrected (<= t). */
  corrected: number
}

export class BchCode {
  readonly m: number
  readonly n: number
  readonly k: number
  readonly t: number
  private readonly field: GaloisField
  private readonly rootExponents: number[]
  private generatorBits: Uint8Array | undefined

  constructor (m: number, t: number) {
    checkBchParameters(m, t)
    this.m = m
    this.t = t
    this.field = galoisField(m)
    this.n = this.field.n
    this.rootExponents = generatorRootExponents(m, t)
    this.k = this.n - this.rootExponents.length
  }

  /** Generator polynomial g(x) = prod (x - alpha^i) over the roots; coefficient bits, degree n-k. */
  generator (): Uint8Array {
    if (this.generatorBits !== undefined) return this.generatorBits.slice()
    const f = this.field
    let g = [1] // coefficients in GF(2^m), g[i] = coefficient of x^i
    for (const e of this.rootExponents) {
      const root = f.exp[e]!
      const next = new Array<number>(g.length + 1).fill(0)
      for (let i = 0; i < g.length; i++) {
        next[i + 1]! ^= g[i]! // x * g
        next[i]! ^= gfMul(f, g[i]!, root) // root * g (minus = plus in characteristic 2)
      }
      g = next
    }
    const bits = new Uint8Array(g.length)
    for (let i = 0; i < g.length; i++) {
      if (g[i]! > 1) throw new PufError('BAD_PARAMETERS', 'BCH generator is not binary (internal error)')
      bits[i] = g[i]!
    }
    this.generatorBits = bits
    return bits.slice()
  }

  /** Systematic encoding of k message bits into an n-bit codeword. */
  encode (message: Uint8Array): Uint8Array {
    if (!(message instanceof Uint8Array) || message.length !== this.k) throw new PufError('BAD_INPUT', `BCH message must be ${this.k} bits`)
    const g = this.generatorBits ?? (this.generator(), this.generatorBits!)
    const r = this.n - this.k
    const work = new Uint8Array(this.n)
    for (let j = 0; j < this.k; j++) work[r + j] = message[j]! & 1
    // Remainder of m(x) * x^(n-k) modulo g(x), by long division from the top degree down.
    for (let i = this.n - 1; i >= r; i--) {
      if (work[i] === 1) {
        const shift = i - r
        for (let j = 0; j <= r; j++) work[shift + j]! ^= g[j]!
      }
    }
    const codeword = new Uint8Array(this.n)
    codeword.set(work.subarray(0, r), 0)
    for (let j = 0; j < this.k; j++) codeword[r + j] = message[j]! & 1
    return codeword
  }

  /** The k message bits of a codeword (systematic positions). */
  message (codeword: Uint8Array): Uint8Array {
    if (!(codeword instanceof Uint8Array) || codeword.length !== this.n) throw new PufError('BAD_INPUT', `BCH codeword must be ${this.n} bits`)
    return codeword.slice(this.n - this.k)
  }

  /** Odd-index syndromes S_1, S_3, ..., S_{2t-1} of a word (even ones follow by squaring). */
  private oddSyndromes (word: Uint8Array): Int32Array {
    const exp = this.field.exp
    const n = this.n
    const t = this.t
    const s = new Int32Array(t)
    for (let i = 0; i < n; i++) {
      if (word[i] !== 1) continue
      // alpha^(i*j) for j = 1, 3, 5, ...: start at i, step 2i (mod n).
      let e = i
      const step = (2 * i) % n
      for (let q = 0; q < t; q++) {
        s[q]! ^= exp[e]!
        e += step
        if (e >= n) e -= n
      }
    }
    return s
  }

  /** True iff `word` is a codeword (all syndromes zero). */
  isCodeword (word: Uint8Array): boolean {
    if (!(word instanceof Uint8Array) || word.length !== this.n) throw new PufError('BAD_INPUT', `BCH word must be ${this.n} bits`)
    return this.oddSyndromes(word).every((x) => x === 0)
  }

  /**
   * Decodes a received n-bit word. Returns the unique codeword within Hamming distance t, or null
   * when there is none (more than t errors detected). With more than t errors the result is
   * either null or a different codeword (a miscorrection), never the transmitted one.
   */
  decode (received: Uint8Array): BchDecodeResult | null {
    if (!(received instanceof Uint8Array) || received.length !== this.n) throw new PufError('BAD_INPUT', `BCH received word must be ${this.n} bits`)
    const f = this.field
    const n = this.n
    const t = this.t
    const odd = this.oddSyndromes(received)
    if (odd.every((x) => x === 0)) return { codeword: received.slice(), corrected: 0 }

    // Full syndrome list S[1..2t]; S_2j = S_j^2 for binary codes.
    const S = new Int32Array(2 * t + 1)
    for (let q = 0; q < t; q++) S[2 * q + 1] = odd[q]!
    for (let j = 2; j <= 2 * t; j += 2) S[j] = gfMul(f, S[j >> 1]!, S[j >> 1]!)

    // Berlekamp–Massey: shortest LFSR C(x) generating S_1 .. S_2t (arithmetic inlined via log tables).
    const exp = f.exp
    const log = f.log
    const C = new Int32Array(2 * t + 2); C[0] = 1
    let B = new Int32Array(2 * t + 2); B[0] = 1
    let L = 0
    let shift = 1
    let b = 1
    for (let r = 0; r < 2 * t; r++) {
      let d = S[r + 1]!
      for (let i = 1; i <= L; i++) {
        const c = C[i]!
        const sv = S[r + 1 - i]!
        if (c !== 0 && sv !== 0) d ^= exp[log[c]! + log[sv]!]!
      }
      if (d === 0) { shift++; continue }
      const logCoef = log[d]! - log[b]! + n // log(d / b), kept non-negative
      const T = 2 * L <= r ? C.slice() : undefined
      for (let i = 0; i + shift < C.length; i++) {
        const bi = B[i]!
        if (bi !== 0) C[i + shift]! ^= exp[(logCoef + log[bi]!) % n]!
      }
      if (T !== undefined) {
        L = r + 1 - L
        B = T
        b = d
        shift = 1
      } else {
        shift++
      }
    }
    if (L > t) return null
    for (let i = L + 1; i < C.length; i++) if (C[i] !== 0) return null

    // Chien search: position p is in error iff C(alpha^-p) = sum_j C_j alpha^(-p*j) = 0.
    let terms = 0
    const degs = new Int32Array(L + 1)
    const cur = new Int32Array(L + 1) // exponent of the term C_j alpha^(-p*j) at the current p
    for (let j = 0; j <= L; j++) {
      if (C[j] !== 0) { degs[terms] = j; cur[terms] = f.log[C[j]!]!; terms++ }
    }
    const positions: number[] = []
    for (let p = 0; p < n; p++) {
      let sum = 0
      for (let q = 0; q < terms; q++) {
        const e = cur[q]!
        sum ^= exp[e]!
        const next = e - degs[q]!
        cur[q] = next < 0 ? next + n : next
      }
      if (sum === 0) {
        positions.push(p)
        if (positions.length > L) return null
      }
    }
    if (positions.length !== L) return null

    // Check that the located error pattern reproduces every syndrome, so the output is a codeword.
    for (let q = 0; q < t; q++) {
      const j = 2 * q + 1
      let s = 0
      for (const p of positions) s ^= exp[(p * j) % n]!
      if (s !== odd[q]) return null
    }
    const codeword = received.slice()
    for (const p of positions) codeword[p]! ^= 1
    return { codeword, corrected: L }
  }
}

const codes = new Map<string, BchCode>()

/** Memoized BchCode(m, t). */
export function bchCode (m: number, t: number): BchCode {
  const key = `${m}/${t}`
  let c = codes.get(key)
  if (c === undefined) {
    c = new BchCode(m, t)
    codes.set(key, c)
  }
  return c
}
