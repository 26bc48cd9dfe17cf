/**
 * The index holder's search: derive every leaf below the token's nodes, compute each label with
 * one HMAC, look it up. About 3 HMAC-SHA256 per covered leaf (2 for the tree, 1 for the label).
 *
 * Paging (`serverSearchPage`): the token's labels are numbered in token order (groups, their
 * nodes' leaves left to right, then bare labels), and a page resumes at a label number (its
 * cursor). Skipped labels below the cursor cost nothing but the path down to it, so every page
 * costs about what its own labels cost. The cursor is a count of the client's own token labels:
 * it tells the holder nothing the token does not.
 */
import { SseError } from './errors.js'
import { childKey, forEachLeaf, leafLabel, nodeSpan, TREE_DEPTH } from './ggm.js'
import type { AsyncIndexStore, IndexStore, StoredEntry } from './store.js'
import { validateSearchToken, type SearchToken, type TokenLimits } from './token.js'

export interface ServerSearchOptions {
  limits?: Partial<TokenLimits>
}

/**
 * Runs a (validated) token against a store and returns the committed entries it reaches, in
 * token order (groups, then leaves, then bare labels). Labels with no entry are skipped.
 * Throws `MALFORMED_TOKEN` / `TOKEN_LIMIT` before doing any work on a bad token.
 */
export function serverSearch (store: IndexStore, token: SearchToken, opts: ServerSearchOptions = {}): StoredEntry[] {
  validateSearchToken(token, opts.limits)
  const out: StoredEntry[] = []
  for (const group of token.groups) {
    for (const node of group) {
      forEachLeaf(node, (_i, leaf) => {
        const e = store.get(leafLabel(leaf))
        if (e !== undefined) out.push(e)
      })
    }
  }
  for (const label of token.labels) {
    const e = store.get(label)
    if (e !== undefined) out.push(e)
  }
  return out
}

/**
 * The labels of a (validated) token in token order, each with its number (0-based over the whole
 * token), starting at number `from`. Subtrees wholly below `from` are not derived.
 */
export function * tokenLabels (token: SearchToken, from = 0): Generator<{ ordinal: number, label: Uint8Array }> {
  let base = 0
  for (const group of token.groups) {
    for (const node of group) {
      const { size } = nodeSpan(node)
      if (base + size > from) {
        // depth-first, left to right; a pending subtree is (key, height, first label number)
        const stack: Array<[Uint8Array, number, number]> = [[node.key, TREE_DEPTH - node.depth, base]]
        while (stack.length > 0) {
          const [key, height, start] = stack.pop() as [Uint8Array, number, number]
          if (start + 2 ** height <= from) continue
          if (height === 0) { yield { ordinal: start, label: leafLabel(key) }; continue }
          const half = 2 ** (height - 1)
          if (start + half > from) stack.push([childKey(key, 1), height - 1, start + half], [childKey(key, 0), height - 1, start])
          else stack.push([childKey(key, 1), height - 1, start + half])
        }
      }
      base += size
    }
  }
  for (let i = Math.max(0, from - base); i < token.labels.length; i++) yield { ordinal: base + i, label: token.labels[i] as Uint8Array }
}

/** Number of labels a token covers (leaves of its nodes plus bare labels). */
export function tokenLabelCount (token: SearchToken): number {
  let n = token.labels.length
  for (const group of token.groups) for (const node of group) n += nodeSpan(node).size
  return n
}

export interface SearchPage {
  /** At most `limit` committed entries, in token order. */
  entries: StoredEntry[]
  /** The label number to continue from (the next page's cursor); absent when the token is exhausted. */
  next?: number
}

/**
 * One page of `serverSearch`: the committed entries among the token's labels numbered `cursor`
 * and up, at most `limit` of them. Throws `MALFORMED_TOKEN` / `TOKEN_LIMIT` on a bad token and
 * `BAD_INPUT` on a bad cursor or limit, before doing any work.
 */
export function serverSearchPage (store: IndexStore, token: SearchToken, page: { cursor?: number, limit: number }, opts: ServerSearchOptions = {}): SearchPage {
  validateSearchToken(token, opts.limits)
  const cursor = page.cursor ?? 0
  checkPage(cursor, page.limit)
  const entries: StoredEntry[] = []
  for (const { ordinal, label } of tokenLabels(token, cursor)) {
    const e = store.get(label)
    if (e === undefined) continue
    if (entries.length === page.limit) return { entries, next: ordinal }
    entries.push(e)
  }
  return { entries }
}

function checkPage (cursor: number, limit: number): void {
  if (!Number.isSafeInteger(cursor) || cursor < 0) throw new SseError('BAD_INPUT', 'cursor must be a non-negative integer')
  if (!Number.isSafeInteger(limit) || limit < 1) throw new SseError('BAD_INPUT', 'limit must be a positive integer')
}

/** Labels looked up per `getMany` call by `serverSearchAsync`. */
export const SEARCH_BATCH = 1024

/**
 * `serverSearch` against an `AsyncIndexStore` (e.g. the node's on-disk index): the token's labels
 * are derived in token order and looked up `SEARCH_BATCH` at a time. Same answers, same errors.
 */
export async function serverSearchAsync<E extends StoredEntry> (store: AsyncIndexStore<E>, token: SearchToken, opts: ServerSearchOptions = {}): Promise<E[]> {
  validateSearchToken(token, opts.limits)
  const out: E[] = []
  let batch: Uint8Array[] = []
  const flush = async (): Promise<void> => {
    const got = await store.getMany(batch)
    batch = []
    for (const e of got) if (e !== undefined) out.push(e)
  }
  const labels: Uint8Array[] = []
  for (const group of token.groups) {
    for (const node of group) forEachLeaf(node, (_i, leaf) => { labels.push(leafLabel(leaf)) })
  }
  labels.push(...token.labels)
  for (const l of labels) {
    batch.push(l)
    if (batch.length >= SEARCH_BATCH) await flush()
  }
  if (batch.length > 0) await flush()
  return out
}

/**
 * `serverSearchPage` against an `AsyncIndexStore` (the node's on-disk index): the labels from the
 * cursor on, looked up `SEARCH_BATCH` at a time, until the page is full. Same answers, same errors.
 */
export async function serverSearchPageAsync<E extends StoredEntry> (store: AsyncIndexStore<E>, token: SearchToken, page: { cursor?: number, limit: number }, opts: ServerSearchOptions = {}): Promise<{ entries: E[], next?: number }> {
  validateSearchToken(token, opts.limits)
  const cursor = page.cursor ?? 0
  checkPage(cursor, page.limit)
  const entries: E[] = []
  let batch: Array<{ ordinal: number, label: Uint8Array }> = []
  /** Looks the batch up; the number of the first entry the page has no room for, if any. */
  const flush = async (): Promise<number | undefined> => {
    const got = await store.getMany(batch.map((b) => b.label))
    for (let i = 0; i < got.length; i++) {
      const e = got[i]
      if (e === undefined) continue
      if (entries.length === page.limit) return (batch[i] as { ordinal: number }).ordinal
      entries.push(e)
    }
    batch = []
    return undefined
  }
  for (const l of tokenLabels(token, cursor)) {
    batch.push(l)
    if (batch.length >= Math.min(SEARCH_BATCH, page.limit + 1)) {
      const next = await flush()
      if (next !== undefined) return { entries, next }
    }
  }
  const next = batch.length > 0 ? await flush() : undefined
  return next === undefined ? { entries } : { entries, next }
}
