/**
 * Counter recovery: a client that lost its counters (or never had another writer's) finds the
 * number of updates of each (writer, term) tree by probing the index holder.
 *
 * Probes are bare labels, never GGM nodes: a node would reveal every leaf below it, including
 * leaves of updates not made yet, and so break forward privacy for all of them. Per tree, from
 * the known count `c0`: an exponential phase probes update numbers c0, c0+2, c0+6, …, c0+2^k−2
 * until one is absent, then a binary search between the last present and the first absent one.
 * All trees are probed in the same rounds. Cost per tree with `n = c − c0` new updates and
 * `K = ⌊log2(n+1)⌋`: K + 1 exponential rounds and at most K binary ones, one label per round, so at
 * most 2K + 1 rounds and labels (0 new updates: 1 round, 1 label; 1,000: 19), plus 32 HMACs per
 * label for the client. Leakage: every probed number ≥ c is absent now, and the future update
 * that takes that number will be linkable to this recovery: at most K + 1 numbers per tree, all in
 * `[c, c0 + 2n]`. Presence is verified (value key and proof), so a lying holder can only make a
 * count smaller; probe f+1 managers and take the union to defeat that.
 */
import { proofAccepted, type ForgedEntry, type ProofVerifier, type SseClient } from './client.js'
import { SseError } from './errors.js'
import { deriveNode, leafLabel, TREE_DEPTH, TREE_LEAVES } from './ggm.js'
import { labelKey, type StoredEntry } from './store.js'
import { DEFAULT_TOKEN_LIMITS, type SearchToken } from './token.js'
import { openValue, type TreeKeys } from './value.js'

export interface RecoverOptions {
  indexKey: Uint8Array
  writers: readonly Uint8Array[]
  terms: readonly string[]
  /** Runs a token against the index holder(s) (e.g. `serverSearch` over RPC). */
  probe: (token: SearchToken) => Promise<readonly StoredEntry[]> | readonly StoredEntry[]
  verifyProof: ProofVerifier
  /** Labels per probe call (default: the default token limit, 4096). */
  labelsPerProbe?: number
}

export interface RecoveredCount {
  writer: Uint8Array
  term: string
  id: string
  count: number
}

export interface RecoveryReport {
  counts: RecoveredCount[]
  rounds: number
  labelsProbed: number
  /** Probed update numbers that were absent (each will be linkable to this recovery when written). */
  absentProbed: number
  forged: ForgedEntry[]
}

interface Pending {
  writer: Uint8Array
  term: string
  keys: TreeKeys
  lo: number // every update number < lo is taken to be present
  hi: number // first update number known absent (Infinity while unknown)
  step: number
  probe: number
  leaf?: Uint8Array
  label?: Uint8Array
}

/** Recovers counts and raises the client's counters to them. See the module comment for the cost. */
export async function recoverCounters (client: SseClient, opts: RecoverOptions): Promise<RecoveryReport> {
  const per = opts.labelsPerProbe ?? DEFAULT_TOKEN_LIMITS.maxLabels
  if (!Number.isInteger(per) || per < 1) throw new SseError('BAD_INPUT', 'labelsPerProbe must be a positive integer')
  const all: Pending[] = []
  for (const term of opts.terms) {
    for (const writer of opts.writers) {
      const keys = client.tree(opts.indexKey, writer, term)
      all.push({ writer, term, keys, lo: client.counters.get(keys.id), hi: Infinity, step: 1, probe: 0 })
    }
  }
  const report: RecoveryReport = { counts: [], rounds: 0, labelsProbed: 0, absentProbed: 0, forged: [] }
  let active = all.filter((p) => p.lo < TREE_LEAVES)
  while (active.length > 0) {
    report.rounds++
    for (const p of active) {
      p.probe = p.hi === Infinity ? Math.min(p.lo + p.step - 1, TREE_LEAVES - 1) : p.lo + Math.floor((p.hi - p.lo) / 2)
      p.leaf = deriveNode(p.keys.root, { depth: TREE_DEPTH, index: p.probe })
      p.label = leafLabel(p.leaf)
    }
    const present = new Set<Pending>()
    for (let i = 0; i < active.length; i += per) {
      const chunk = active.slice(i, i + per)
      const byLabel = new Map(chunk.map((p) => [labelKey(p.label as Uint8Array), p]))
      const answer = await opts.probe({ groups: [], labels: chunk.map((p) => p.label as Uint8Array) })
      report.labelsProbed += chunk.length
      for (const entry of answer) {
        const p = entry?.label instanceof Uint8Array ? byLabel.get(labelKey(entry.label)) : undefined
        if (p === undefined) { report.forged.push({ entry, reason: 'UNEXPECTED_LABEL' }); continue }
        if (openValue(p.keys.valueKey, p.leaf as Uint8Array, p.label as Uint8Array, entry.value) === undefined) {
          report.forged.push({ entry, reason: 'BAD_VALUE' }); continue
        }
        if (!proofAccepted(opts.verifyProof, entry)) { report.forged.push({ entry, reason: 'BAD_PROOF' }); continue }
        present.add(p)
      }
    }
    for (const p of active) {
      if (present.has(p)) {
        p.lo = p.probe + 1
        if (p.hi === Infinity) p.step *= 2
      } else {
        p.hi = p.probe
        report.absentProbed++
      }
    }
    active = active.filter((p) => p.lo < p.hi && p.lo < TREE_LEAVES)
  }
  for (const p of all) {
    client.counters.raise(p.keys.id, p.lo)
    report.counts.push({ writer: p.writer, term: p.term, id: p.keys.id, count: p.lo })
  }
  return report
}
