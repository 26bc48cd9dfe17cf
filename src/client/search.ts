/**
 * Running a planned search over RPC and verifying the answer: every returned entry must be an
 * expected label whose value opens under the client's value key (`verifySearchResults`), and must
 * come with an index position inside the range its certified header commits to (the node or user
 * node checked the Merkle proof itself; the client re-checks the position against
 * `chain_getHeader`). Expected entries missing from the answer are reported as `omitted`.
 */
import { encodeSearchToken, verifySearchResults, type QueryPlan, type SearchToken, type StoredEntry, type VerifiedSearch } from '../sse/index.js'
import type { SearchEntryJson } from '../rpc/backend.js'
import { type RpcClient, unb64, unhex } from './rpc.js'

export function entryFromJson (e: SearchEntryJson): StoredEntry {
  return { label: unhex(e.label, 'label'), value: unb64(e.value), position: { height: e.height, index: e.position } }
}

/** Index position ranges of certified headers by height, shared by the queries of one search (each header is fetched once). */
export type HeaderRanges = Map<number, { start: number, end: number }>

/** Runs `token` on the node and returns its entries plus a proof checker for them. */
export async function querySearch (rpc: RpcClient, token: SearchToken, ranges: HeaderRanges = new Map()): Promise<{ entries: StoredEntry[], verifyProof: (e: StoredEntry) => boolean }> {
  if (token.groups.length === 0 && token.labels.length === 0) return { entries: [], verifyProof: () => false }
  const answer = await rpc.search(encodeSearchToken(token))
  const entries = answer.map(entryFromJson)
  for (const h of new Set(entries.map((e) => e.position.height))) {
    if (ranges.has(h)) continue
    try {
      const { header } = await rpc.getHeader(h)
      ranges.set(h, { start: header.indexStart, end: header.indexStart + header.indexCount })
    } catch { /* an unknown height fails the check below */ }
  }
  const verifyProof = (e: StoredEntry): boolean => {
    const r = ranges.get(e.position.height)
    return r !== undefined && e.position.index >= r.start && e.position.index < r.end
  }
  return { entries, verifyProof }
}

/** Runs a plan and verifies the answer (omissions, forgeries, positions). */
export async function runSearch (rpc: RpcClient, plan: QueryPlan, ranges?: HeaderRanges): Promise<VerifiedSearch> {
  const { entries, verifyProof } = await querySearch(rpc, plan.token, ranges)
  return verifySearchResults(plan, entries, verifyProof)
}
