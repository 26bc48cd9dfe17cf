/**
 * Running a planned search over RPC and verifying the answer: every returned entry must be an
 * expected label whose value opens under the client's value key (`verifySearchResults`), and must
 * come with an index position inside the range its certified header commits to. The node (a user
 * node checked each entry's Merkle proof against its certified headers) sends those ranges with
 * the answer (`headers` of `sse_search`), so the client asks for no header; it refuses positions
 * outside them, entries at heights without a range, and ranges that contradict each other
 * (overlapping, out of height order, or two different ones for one height). Expected entries
 * missing from the answer are reported as `omitted`. Answers are paged (`sse_search` `cursor` /
 * `next`): the client follows every page before verifying, so omissions are still detected.
 */
import { encodeSearchToken, tokenLabelCount, verifySearchResults, type QueryPlan, type SearchToken, type StoredEntry, type VerifiedSearch } from '../sse/index.js'
import type { IndexRangeJson, SearchEntryJson } from '../rpc/backend.js'
import { ClientError } from './errors.js'
import { type RpcClient, unb64, unhex } from './rpc.js'

export function entryFromJson (e: SearchEntryJson): StoredEntry {
  return { label: unhex(e.label, 'label'), value: unb64(e.value), position: { height: e.height, index: e.position } }
}

/** Index position ranges of certified headers by height, shared by the queries of one search. */
export type HeaderRanges = Map<number, { start: number, end: number }>

export interface SearchPaging {
  /** Entries per `sse_search` page (the node's default without it, 1,000; at most 10,000). */
  pageSize?: number
}

/** Adds the ranges an answer carries; false if one contradicts a range already known for its height. */
function addRanges (ranges: HeaderRanges, headers: readonly IndexRangeJson[]): boolean {
  let ok = true
  for (const h of headers) {
    const r = { start: h.indexStart, end: h.indexStart + h.indexCount }
    const known = ranges.get(h.height)
    if (known !== undefined && (known.start !== r.start || known.end !== r.end)) ok = false
    if (known === undefined) ranges.set(h.height, r)
  }
  return ok
}

/** Whether the known ranges can all be certified headers: ascending by height, none overlapping. */
export function rangesConsistent (ranges: HeaderRanges): boolean {
  const sorted = [...ranges.entries()].sort((a, b) => a[0] - b[0])
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]?.[1]
    const cur = sorted[i]?.[1]
    if (prev === undefined || cur === undefined || cur.start < prev.end) return false
  }
  return sorted.every(([, r]) => Number.isSafeInteger(r.start) && r.start >= 0 && r.end >= r.start)
}

/**
 * Runs `token` on the node, following every page, and returns its entries, a proof checker for
 * them (the position check against the header ranges the answers carried), and the pages fetched.
 */
export async function querySearch (rpc: RpcClient, token: SearchToken, ranges: HeaderRanges = new Map(), paging: SearchPaging = {}): Promise<{ entries: StoredEntry[], verifyProof: (e: StoredEntry) => boolean, pages: number }> {
  if (token.groups.length === 0 && token.labels.length === 0) return { entries: [], verifyProof: () => false, pages: 0 }
  const encoded = encodeSearchToken(token)
  const labels = tokenLabelCount(token)
  const entries: StoredEntry[] = []
  let consistent = true
  let cursor: number | undefined
  let pages = 0
  for (;;) {
    const page = await rpc.search(encoded, { cursor, limit: paging.pageSize })
    pages++
    entries.push(...page.entries.map(entryFromJson))
    if (!addRanges(ranges, page.headers)) consistent = false
    if (page.next === undefined) break
    if (!Number.isSafeInteger(page.next) || page.next <= (cursor ?? -1) || page.next >= labels) {
      throw new ClientError('VERIFY_FAILED', `sse_search answered a cursor (${String(page.next)}) that does not advance through the token's ${labels} labels`)
    }
    cursor = page.next
  }
  if (!rangesConsistent(ranges)) consistent = false
  const verifyProof = (e: StoredEntry): boolean => {
    const r = ranges.get(e.position.height)
    return consistent && r !== undefined && e.position.index >= r.start && e.position.index < r.end
  }
  return { entries, verifyProof, pages }
}

/** Runs a plan and verifies the answer (omissions, forgeries, positions). */
export async function runSearch (rpc: RpcClient, plan: QueryPlan, ranges?: HeaderRanges, paging?: SearchPaging): Promise<VerifiedSearch & { pages: number }> {
  const { entries, verifyProof, pages } = await querySearch(rpc, plan.token, ranges, paging)
  return { ...verifySearchResults(plan, entries, verifyProof), pages }
}
