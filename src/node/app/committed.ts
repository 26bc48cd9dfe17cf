/**
 * What is committed, served from the chain store with bounded memory.
 *
 * The committed state (tx hashes, record ids and their parties, patient keys, index labels) lives
 * on disk (`ChainStore`: `txk/`, `rec/`, `pat/`, `idx/`). PBFT's app port is synchronous, so the
 * facts a synchronous check needs are loaded beforehand (`ensure`, async) and pinned to their
 * owner until it is done with them:
 *
 * - a pending tx pins the facts of its claims while it is in the mempool (`buildProposal`,
 *   `stillValid` and the mempool prune after a commit read them);
 * - a proposed value pins the facts of its block from when the manager receives it (the manager
 *   `prepare`s it before feeding it to PBFT) until it is committed or forgotten.
 *
 * Every commit writes the facts it creates into the pinned entries and into a recent-commits LRU
 * (`maxFacts` entries, unpinned facts included), so a fact loaded before a commit never goes stale:
 * commits are serialized and the chain is append-only (an absent fact can only become present, and
 * the commit that makes it present updates every copy held here). A read that overlaps a commit is
 * repeated for what it found absent (`epoch`).
 *
 * On a fresh store (head at genesis) nothing is on disk: the state starts `complete` (an unknown
 * fact is an absent one) and stays so until the LRU first forgets a committed fact; from then on,
 * and after a restart on a non-empty store, a synchronous check on a fact nobody loaded answers
 * "unknown" (a proposal is then refused, never wrongly accepted).
 *
 * Memory: pinned facts (bounded by the mempool's capacity and `MAX_VALUES` prepared values) plus
 * the LRU (`maxFacts`, default 100,000 facts), whatever the chain's length.
 *
 * `conflict` checks everything `apply` (and `ChainStore.append`) assume of a block against what is
 * committed; `validateProposal` refuses a block for which it finds anything, so a committed block
 * always applies (docs/CONSENSUS.md, "A committed block always applies").
 */
import { encodeTx, type Block, type Tx } from '../../blocks/index.js'
import { toHex } from '../../crypto/index.js'
import { checkIndexUpdate, type IndexPosition } from '../../sse/index.js'
import { decodeStoredRecord, type ChainStore } from '../chain-store.js'
import { Mempool } from '../mempool.js'

/** Each tx's hash (hex SHA-256 of its canonical encoding; `encodeTx` keeps the bytes it decoded or built). */
export function txKeys (block: Block): string[] {
  return block.txs.map((tx) => Mempool.key(encodeTx(tx)))
}

/** Doctor and owner ids of a committed record (who may grant access to it). */
export interface RecordParties { doctor: Uint8Array, owner: Uint8Array }

/**
 * A committed fact, by key: `t:<tx hash>` → commit height; `r:<record id>` → its parties;
 * `p:<patient id>` → the patient's signing key; `l:<label>` → where the label was committed.
 * null: known to be absent.
 */
export type Fact = number | RecordParties | Uint8Array | IndexPosition
type Known = Fact | null

/** A fact to load: its key, and for a tx the tx's bytes (older stores find txs by their Merkle leaf hash). */
export interface FactWant { k: string, txBytes?: Uint8Array }

/** What a block's checks read, per tx kind (a new kind adds its branch). */
export function factsOf (tx: Tx, key: string): FactWant[] {
  const out: FactWant[] = [{ k: `t:${key}`, txBytes: encodeTx(tx) }]
  if (tx.type === 'record') {
    out.push({ k: `r:${toHex(tx.recordId)}` })
    for (const u of tx.indexUpdates) out.push({ k: `l:${toHex(u.label)}` })
  } else if (tx.type === 'patient') {
    out.push({ k: `p:${toHex(tx.patientId)}` })
  } else if (tx.type === 'grant') {
    out.push({ k: `r:${toHex(tx.recordId)}` })
  }
  return out
}

/** The facts a committed block creates (the keys `factsOf` names, now present). */
function factsWritten (block: Block, keys: string[]): Array<[string, Fact]> {
  const h = block.header
  let pos = h.indexStart
  const out: Array<[string, Fact]> = []
  for (const [i, tx] of block.txs.entries()) {
    out.push([`t:${keys[i] as string}`, h.height])
    if (tx.type === 'record') {
      out.push([`r:${toHex(tx.recordId)}`, { doctor: tx.doctor, owner: tx.owner }])
      for (const u of tx.indexUpdates) out.push([`l:${toHex(u.label)}`, { height: h.height, index: pos++ }])
    } else if (tx.type === 'patient') {
      out.push([`p:${toHex(tx.patientId)}`, tx.sigPublicKey])
    }
  }
  return out
}

export interface CommittedOptions {
  /** Unpinned facts kept in memory (recent commits and recent loads), at most. Default 100,000. */
  maxFacts?: number
}

/** Prepared values whose facts stay pinned (oldest released first). */
export const MAX_VALUES = 64

export class Committed {
  private readonly chain: ChainStore
  private readonly maxFacts: number
  /** Facts pinned by owners, with their pin counts. */
  private readonly pinned = new Map<string, { fact: Known, pins: number }>()
  /** Unpinned facts, least recently used first. */
  private readonly lru = new Map<string, Known>()
  /** Owner → the fact keys it pinned. */
  private readonly owners = new Map<string, string[]>()
  /** Prepared values (owner `v:<hash>`) → their height, oldest first. */
  private readonly values = new Map<string, number>()
  /** True while every committed fact is in memory (a fact not held here is absent). */
  private complete: boolean
  /** Bumped by every commit (a read that overlaps one is repeated for what it found absent). */
  private epoch = 0
  /** Committed records (counted in the store's head record). */
  get records (): number { return this.chain.head.records }
  /** Committed txs: how many (the store's head), and the height of one committed recently or loaded (`fact`). */
  get txs (): { size: number, get: (key: string) => number | undefined } {
    return { size: this.chain.head.txs, get: (key) => (this.fact(`t:${key}`) as number | null | undefined) ?? undefined }
  }
  /** Disk reads of facts, for tests and metrics. */
  readonly stats = { reads: 0, loads: 0 }

  constructor (chain: ChainStore, opts: CommittedOptions = {}) {
    this.chain = chain
    this.maxFacts = opts.maxFacts ?? 100_000
    this.complete = chain.head.height === 0
  }

  /** Facts held in memory: pinned, and in the LRU (both bounded, see the file comment). */
  get size (): { pinned: number, lru: number, owners: number } { return { pinned: this.pinned.size, lru: this.lru.size, owners: this.owners.size } }

  /** A fact if known in memory; undefined if it must be loaded first. */
  fact (k: string): Known | undefined {
    const p = this.pinned.get(k)
    if (p !== undefined) return p.fact
    const l = this.lru.get(k)
    if (l !== undefined) return l
    return this.complete ? null : undefined
  }

  private remember (k: string, f: Known): void {
    const p = this.pinned.get(k)
    if (p !== undefined) { if (f !== null) p.fact = f; return }
    if (f === null && this.complete) return // (absence is implied)
    this.lru.delete(k)
    this.lru.set(k, f)
    while (this.lru.size > this.maxFacts) {
      const [ok, of] = this.lru.entries().next().value as [string, Known]
      this.lru.delete(ok)
      if (of !== null) this.complete = false
    }
  }

  /**
   * Loads the facts `want` names that are not in memory, and pins all of them to `owner` (if
   * given; `release` unpins). After it resolves, `fact` answers each synchronously, whatever
   * commits happen meanwhile.
   */
  async ensure (want: FactWant[], owner?: string): Promise<void> {
    const got = new Map<string, { f: Known, epoch: number }>()
    const lookup = (k: string): Known | undefined => {
      const f = this.fact(k)
      if (f !== undefined) return f
      const g = got.get(k)
      // an absence read before the last commit may be stale; a presence never is
      return g === undefined || (g.f === null && g.epoch !== this.epoch) ? undefined : g.f
    }
    for (;;) {
      const missing = want.filter((w) => lookup(w.k) === undefined)
      if (missing.length === 0) break
      const epoch = this.epoch
      const read = await this.read(missing)
      for (const [k, f] of read) got.set(k, { f, epoch })
    }
    if (owner === undefined) {
      for (const w of want) { const f = lookup(w.k); if (f !== undefined) this.remember(w.k, f) }
      return
    }
    this.pin(owner, want.map((w) => [w.k, lookup(w.k) as Known]))
  }

  /** Pins facts already known (`fact` defined for each) to `owner`; false if one is not known. */
  pinKnown (owner: string, keys: string[]): boolean {
    const facts: Array<[string, Known]> = []
    for (const k of keys) {
      const f = this.fact(k)
      if (f === undefined) return false
      facts.push([k, f])
    }
    this.pin(owner, facts)
    return true
  }

  private pin (owner: string, facts: Array<[string, Known]>): void {
    this.release(owner)
    const keys: string[] = []
    for (const [k, f] of facts) {
      const p = this.pinned.get(k)
      if (p !== undefined) { p.pins++; if (f !== null) p.fact = f } else { this.pinned.set(k, { fact: f, pins: 1 }); this.lru.delete(k) }
      keys.push(k)
    }
    this.owners.set(owner, keys)
  }

  /** Unpins what `owner` pinned (its facts stay in the LRU while it has room). */
  release (owner: string): void {
    const keys = this.owners.get(owner)
    if (keys === undefined) return
    this.owners.delete(owner)
    this.values.delete(owner)
    for (const k of keys) {
      const p = this.pinned.get(k)
      if (p === undefined) continue
      if (--p.pins > 0) continue
      this.pinned.delete(k)
      this.remember(k, p.fact)
    }
  }

  /** Whether `owner` has pinned facts. */
  holds (owner: string): boolean { return this.owners.has(owner) }

  /** Loads and pins the facts of a proposed block (owner `v:<value hash>`, released when committed or among the oldest). */
  async prepareValue (valueHash: string, block: Block, keys: string[]): Promise<void> {
    const owner = `v:${valueHash}`
    await this.ensure(block.txs.flatMap((tx, i) => factsOf(tx, keys[i] as string)), owner)
    this.noteValue(owner, block.header.height)
  }

  /** Pins the facts of a block built from pending txs (their facts are pinned already); false if one is not known. */
  pinValue (valueHash: string, block: Block, keys: string[]): boolean {
    const owner = `v:${valueHash}`
    if (!this.pinKnown(owner, block.txs.flatMap((tx, i) => factsOf(tx, keys[i] as string).map((w) => w.k)))) return false
    this.noteValue(owner, block.header.height)
    return true
  }

  private noteValue (owner: string, height: number): void {
    this.values.set(owner, height)
    while (this.values.size > MAX_VALUES) this.release(this.values.keys().next().value as string)
  }

  /** Releases the owners of pending txs that left the mempool. */
  sweepPending (pending: (key: string) => boolean): void {
    for (const o of [...this.owners.keys()]) if (o.startsWith('m:') && !pending(o.slice(2))) this.release(o)
  }

  /** Reads facts from the store. */
  private async read (want: FactWant[]): Promise<Map<string, Known>> {
    this.stats.loads++
    this.stats.reads += want.length
    const out = new Map<string, Known>()
    const labels = want.filter((w) => w.k.startsWith('l:'))
    const at = await this.chain.indexPositions(labels.map((w) => hexBytes(w.k.slice(2))))
    labels.forEach((w, i) => { out.set(w.k, at[i] ?? null) })
    await Promise.all(want.filter((w) => !w.k.startsWith('l:')).map(async (w) => {
      const id = w.k.slice(2)
      let f: Known = null
      if (w.k.startsWith('t:')) {
        f = (await this.chain.txLocation(id, w.txBytes))?.height ?? null
      } else if (w.k.startsWith('r:')) {
        const raw = await this.chain.recordRaw(hexBytes(id))
        const tx = raw === undefined ? undefined : decodeStoredRecord(raw).tx
        f = tx?.type === 'record' ? { doctor: tx.doctor, owner: tx.owner } : null
      } else if (w.k.startsWith('p:')) {
        const raw = await this.chain.patientRaw(hexBytes(id))
        const tx = raw === undefined ? undefined : decodeStoredRecord(raw).tx
        f = tx?.type === 'patient' ? tx.sigPublicKey : null
      }
      out.set(w.k, f)
    }))
    return out
  }

  /**
   * Why `block` cannot be applied on top of the committed state, or undefined if it can: a tx
   * committed already or twice in the block, a record id or patient committed already or twice, a
   * grant for a record that is not committed, an index label committed already or twice; or that
   * a fact it needs is not loaded (`ensure` / `prepareValue` first).
   * `labelCommitted` may overrule that a committed label counts as committed (fault injection only).
   */
  conflict (block: Block, opts: { labelCommitted?: (label: Uint8Array) => boolean, keys?: string[] } = {}): string | undefined {
    const keys = opts.keys ?? txKeys(block)
    const unknown = block.txs.flatMap((tx, i) => factsOf(tx, keys[i] as string)).filter((w) => this.fact(w.k) === undefined)
    if (unknown.length > 0) return `the committed state this block is checked against is not loaded (${unknown.length} facts, e.g. ${unknown[0]?.k.slice(0, 18) ?? ''}…)`
    const txs = new Set<string>()
    const records = new Set<string>()
    const patients = new Set<string>()
    const labels = new Set<string>()
    for (const [i, tx] of block.txs.entries()) {
      const at = `tx ${i}`
      const key = keys[i] as string
      if (this.fact(`t:${key}`) !== null || txs.has(key)) return `${at}: tx ${key} is already committed or twice in the block`
      txs.add(key)
      if (tx.type === 'record') {
        const id = toHex(tx.recordId)
        if (this.fact(`r:${id}`) !== null || records.has(id)) return `${at}: record ${id} is already committed or twice in the block`
        records.add(id)
        for (const [j, u] of tx.indexUpdates.entries()) {
          const l = toHex(u.label)
          const prior = this.fact(`l:${l}`) as IndexPosition | null
          if (prior !== null && (opts.labelCommitted?.(u.label) ?? true)) return `${at} (record ${id}), index update ${j}: label ${l} is already committed at height ${prior.height} (position ${prior.index})`
          if (labels.has(l)) return `${at} (record ${id}), index update ${j}: label ${l} is written twice in the block`
          labels.add(l)
          try { checkIndexUpdate(u) } catch (err) { return `${at} (record ${id}), index update ${j}: ${(err as Error).message}` }
        }
      } else if (tx.type === 'patient') {
        const id = toHex(tx.patientId)
        if (this.fact(`p:${id}`) !== null || patients.has(id)) return `${at}: patient ${id} is already enrolled or twice in the block`
        patients.add(id)
      } else if (tx.type === 'grant') {
        if (this.fact(`r:${toHex(tx.recordId)}`) === null) return `${at}: grant for record ${toHex(tx.recordId)}, which is not committed`
      }
    }
    return undefined
  }

  /**
   * Notes a block just made durable (called right after `ChainStore.append`, before any other
   * await): its facts become present everywhere they are held, and the prepared values of its
   * height and below are released.
   */
  apply (block: Block, keys: string[] = txKeys(block)): void {
    this.epoch++
    for (const [k, f] of factsWritten(block, keys)) this.remember(k, f)
    for (const [o, h] of [...this.values]) if (h <= block.header.height) this.release(o)
  }
}

function hexBytes (hex: string): Uint8Array { return Uint8Array.from(Buffer.from(hex, 'hex')) }
