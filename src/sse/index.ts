/**
 * pqmed searchable encryption: a forward-private dynamic SSE index in the style of Diana
 * (Bost, Minaud, Ohrimenko, CCS 2017), built from HMAC-SHA256 and AES-256-GCM only.
 *
 * - Writers (doctors) turn (term, location) into `IndexUpdate`s (`SseClient.update`,
 *   `SseClient.indexRecord`); the node commits them in blocks and appends them to an `IndexStore`.
 * - Searchers plan a token per set of terms over every writer (`planSearch`, `planConjunction`),
 *   send `encodeSearchToken(plan.token)`; the index holder runs `serverSearch`; the client checks
 *   the answer with `verifySearchResults` (omissions, forgeries, inclusion proofs) and intersects
 *   conjunctions with `intersectClauses`.
 * - Index 1 (`patient:<id>`) lives under the patient's own key, index 2 (`kw:`, `type:`, `year:`)
 *   under the consortium index key. See docs/SSE.md for the scheme and its leakage.
 *
 * @example
 * ```ts
 * import { SseClient, MemoryIndexStore, serverSearch, verifySearchResults, keywordTerm,
 *   encodeSearchToken, decodeSearchToken } from './sse/index.js'
 * const doctor = new SseClient()
 * const updates = doctor.indexRecord({ writer: doctorId, recordId, fieldHashes: [h0, h1, h2],
 *   consortiumKey, patient: { id: patientId, key: patientIndexKey },
 *   keywords: ['Fever', 'cough'], fileType: 'lab report', birthYear: 1984 })
 * updates.forEach((u, i) => store.append(u, { height: 7, index: indexStart + i }))  // node side
 *
 * const plan = doctor.planSearch([{ indexKey: consortiumKey, term: keywordTerm('FEVER') }], [doctorId])
 * const answer = serverSearch(store, decodeSearchToken(encodeSearchToken(plan.token)))  // node side
 * const { locations, omitted, forged } = verifySearchResults(plan, answer, (e) => proofOk(e))
 * // locations[0].location → { recordId, field: 1, ciphertextHash: h1 }
 * ```
 */
export * from './errors.js'
export * from './ggm.js'
export * from './normalize.js'
export * from './value.js'
export * from './token.js'
export * from './store.js'
export * from './server.js'
export * from './counters.js'
export * from './client.js'
export * from './query.js'
export * from './recover.js'
