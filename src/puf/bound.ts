/**
 * Analytic reliability and entropy accounting of the fuzzy extractor, under the device model
 * of `SimulatedSramPuf`: every response bit flips independently with probability `ber`
 * (a binary symmetric channel).
 *
 * Reproduction fails exactly when some outer BCH block receives more than t errors after
 * majority decoding (with <= t errors BCH decoding is exact; with more it returns no codeword
 * or a wrong one, which the helper's check tag rejects). So, with
 *   p'  = ber (1 - q) + q (1 - ber),  q = P[Bin(R, ber) > R/2]   (enrolled reference = majority of R reads)
 *   p_in = P[Bin(r, p') > r/2]                                   (inner repetition failure)
 *   P_block = P[Bin(n, p_in) > t]
 *   P_fail = 1 - (1 - P_block)^blocks  (<= blocks * P_block)
 * averaged over enrollments.
 */
import { codeInfo, type CodeParams } from './code.js'
import { PufError } from './errors.js'

const logFactorials: number[] = [0]
function logFactorial (n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push(logFactorials[i - 1]! + Math.log(i))
  return logFactorials[n]!
}

function checkProbability (p: number, name: string): void {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new PufError('BAD_INPUT', `${name} must be a probability in [0, 1], got ${String(p)}`)
}

/** P[X > t] for X ~ Binomial(n, p), summed term by term in the log domain (accurate for tiny tails). */
export function binomialTail (n: number, p: number, t: number): number {
  if (!Number.isInteger(n) || n < 0) throw new PufError('BAD_INPUT', `n must be a non-negative integer, got ${String(n)}`)
  if (!Number.isInteger(t)) throw new PufError('BAD_INPUT', `t must be an integer, got ${String(t)}`)
  checkProbability(p, 'p')
  if (t < 0) return 1
  if (t >= n) return 0
  if (p === 0) return 0
  if (p === 1) return 1
  const lp = Math.log(p)
  const lq = Math.log1p(-p)
  const lfn = logFactorial(n)
  let sum = 0
  for (let k = t + 1; k <= n; k++) {
    sum += Math.exp(lfn - logFactorial(k) - logFactorial(n - k) + k * lp + (n - k) * lq)
  }
  return Math.min(1, sum)
}

/** Probability that majority decoding of an odd-length-r repetition block is wrong. */
export function majorityFailure (r: number, p: number): number {
  return binomialTail(r, p, (r - 1) >> 1)
}

/** Per-bit disagreement between a fresh reading and a reference enrolled as the majority of `reads` readings. */
export function effectiveBitErrorRate (ber: number, enrollmentReads: number): number {
  checkProbability(ber, 'ber')
  if (!Number.isInteger(enrollmentReads) || enrollmentReads < 1 || enrollmentReads % 2 === 0) throw new PufError('BAD_INPUT', 'enrollmentReads must be a positive odd integer')
  const q = majorityFailure(enrollmentReads, ber)
  return ber * (1 - q) + q * (1 - ber)
}

export interface FailureBound {
  /** Device bit error rate per reading. */
  ber: number
  /** Disagreement rate between a reading and the enrolled reference. */
  effectiveBer: number
  /** Error rate of outer-code bits after majority decoding. */
  innerErrorRate: number
  /** P[an outer block has more than t errors]. */
  blockFailure: number
  /** P[reproduction fails] = 1 - (1 - blockFailure)^blocks. */
  failure: number
}

/** The analytic reproduction failure probability of code `p` on a device with bit error rate `ber`. */
export function failureBound (p: CodeParams, ber: number, enrollmentReads: number): FailureBound {
  const info = codeInfo(p)
  const effectiveBer = effectiveBitErrorRate(ber, enrollmentReads)
  const innerErrorRate = majorityFailure(info.repetition, effectiveBer)
  const blockFailure = binomialTail(info.bchN, innerErrorRate, info.bchT)
  const failure = blockFailure >= 1 ? 1 : -Math.expm1(info.blocks * Math.log1p(-blockFailure))
  return { ber, effectiveBer, innerErrorRate, blockFailure, failure }
}

export interface EntropyAccount {
  /** Assumed min-entropy per response bit. */
  minEntropyPerBit: number
  /** Response bits consumed: codeBits. */
  responseBits: number
  /** Bits of the response's min-entropy: responseBits * minEntropyPerBit. */
  responseMinEntropy: number
  /** Upper bound on what the public offset reveals: codeBits - messageBits (the syndrome length). */
  helperLeakageBits: number
  /** Lower bound on the average min-entropy of the response given the helper data. */
  remainingBits: number
}

/**
 * Code-offset leakage accounting (Dodis, Ostrovsky, Reyzin, Smith 2008, Lemma 4.1 / 2.2):
 * H~inf(W | W xor C) >= H_inf(W) - (N - K) for a uniformly chosen codeword of an [N, K] code.
 */
export function entropyAccount (p: CodeParams, minEntropyPerBit: number): EntropyAccount {
  const info = codeInfo(p)
  if (typeof minEntropyPerBit !== 'number' || !(minEntropyPerBit > 0 && minEntropyPerBit <= 1)) {
    throw new PufError('BAD_INPUT', `minEntropyPerBit must be in (0, 1], got ${String(minEntropyPerBit)}`)
  }
  const responseMinEntropy = info.codeBits * minEntropyPerBit
  const helperLeakageBits = info.codeBits - info.messageBits
  return {
    minEntropyPerBit,
    responseBits: info.codeBits,
    responseMinEntropy,
    helperLeakageBits,
    remainingBits: responseMinEntropy - helperLeakageBits
  }
}
