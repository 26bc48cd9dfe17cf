/**
 * The index holder's search: derive every leaf below the token's nodes, compute each label with
 * one HMAC, look it up. About 3 HMAC-SHA256 per covered leaf (2 for the tree, 1 for the label).
 */
import { forEachLeaf, leafLabel } from './ggm.js'
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
