/**
 * The index holder's side: an append-only map `label → value`, each entry remembering where it
 * was committed (block height and chain-wide index position, `Header.indexStart + i`), so that
 * the node can attach an inclusion proof to every search result. `MemoryIndexStore` keeps entries
 * in flat pages (about 200 bytes an entry), enough for millions of entries in a test or bench;
 * the node supplies a persistent implementation of `IndexStore`.
 */
import { assertBytes, SseError } from './errors.js'
import { LABEL_BYTES } from './ggm.js'
import { MAX_VALUE_BYTES, type IndexUpdate } from './value.js'

/** Where an index update was committed: block height and chain-wide index position. */
export interface IndexPosition {
  height: number
  index: number
}

export interface StoredEntry {
  label: Uint8Array
  value: Uint8Array
  position: IndexPosition
}

export interface IndexStore {
  /** The entry with this label, if committed. */
  get: (label: Uint8Array) => StoredEntry | undefined
  /**
   * Appends a committed update. Throws `DUPLICATE_LABEL` for a label already present and
   * `BAD_POSITION` unless heights never decrease and chain-wide indexes strictly increase.
   */
  append: (update: IndexUpdate, position: IndexPosition) => void
  readonly size: number
}

/**
 * An index held elsewhere (on disk, by the node), looked up many labels at a time: what
 * `serverSearchAsync` walks. Entries may carry more than `StoredEntry` (`E`), e.g. the stored
 * proof the node answers with.
 */
export interface AsyncIndexStore<E extends StoredEntry = StoredEntry> {
  /** The entries with these labels, in order (undefined where none is committed). */
  getMany: (labels: Uint8Array[]) => Promise<Array<E | undefined>>
}

export function checkPosition (p: IndexPosition): void {
  if (p === null || typeof p !== 'object' || !Number.isSafeInteger(p.height) || p.height < 0 || !Number.isSafeInteger(p.index) || p.index < 0) {
    throw new SseError('BAD_POSITION', 'position needs non-negative safe integers height and index')
  }
}

export function checkIndexUpdate (u: IndexUpdate): void {
  if (u === null || typeof u !== 'object') throw new SseError('BAD_INPUT', 'index update must be an object')
  assertBytes(u.label, 'label', LABEL_BYTES)
  assertBytes(u.value, 'value')
  if (u.value.length === 0 || u.value.length > MAX_VALUE_BYTES) throw new SseError('BAD_INPUT', `value must be 1..${MAX_VALUE_BYTES} bytes`)
}

const PAGE_ENTRIES = 1 << 16
const SLOT = LABEL_BYTES + 1 + MAX_VALUE_BYTES

interface Page {
  data: Uint8Array
  heights: Float64Array
  indexes: Float64Array
}

export function labelKey (label: Uint8Array): string {
  return Buffer.from(label.buffer, label.byteOffset, label.byteLength).toString('latin1')
}

export class MemoryIndexStore implements IndexStore {
  private readonly byLabel = new Map<string, number>()
  private readonly pages: Page[] = []
  private count = 0
  private lastHeight = -1
  private lastIndex = -1

  get size (): number { return this.count }

  get (label: Uint8Array): StoredEntry | undefined {
    if (!(label instanceof Uint8Array) || label.length !== LABEL_BYTES) return undefined
    const n = this.byLabel.get(labelKey(label))
    return n === undefined ? undefined : this.at(n)
  }

  append (update: IndexUpdate, position: IndexPosition): void {
    checkIndexUpdate(update)
    checkPosition(position)
    if (position.height < this.lastHeight || position.index <= this.lastIndex) {
      throw new SseError('BAD_POSITION', `position (${position.height}, ${position.index}) does not follow (${this.lastHeight}, ${this.lastIndex})`)
    }
    const key = labelKey(update.label)
    if (this.byLabel.has(key)) throw new SseError('DUPLICATE_LABEL', 'label already committed (the index is append-only)')
    const n = this.count
    const p = n >>> 16
    if (p === this.pages.length) {
      this.pages.push({ data: new Uint8Array(PAGE_ENTRIES * SLOT), heights: new Float64Array(PAGE_ENTRIES), indexes: new Float64Array(PAGE_ENTRIES) })
    }
    const page = this.pages[p] as Page
    const i = n & (PAGE_ENTRIES - 1)
    const o = i * SLOT
    page.data.set(update.label, o)
    page.data[o + LABEL_BYTES] = update.value.length
    page.data.set(update.value, o + LABEL_BYTES + 1)
    page.heights[i] = position.height
    page.indexes[i] = position.index
    this.byLabel.set(key, n)
    this.count++
    this.lastHeight = position.height
    this.lastIndex = position.index
  }

  /** Every entry, in append order (copies). */
  * entries (): IterableIterator<StoredEntry> {
    for (let n = 0; n < this.count; n++) yield this.at(n)
  }

  private at (n: number): StoredEntry {
    const page = this.pages[n >>> 16] as Page
    const i = n & (PAGE_ENTRIES - 1)
    const o = i * SLOT
    const len = page.data[o + LABEL_BYTES] as number
    return {
      label: page.data.slice(o, o + LABEL_BYTES),
      value: page.data.slice(o + LABEL_BYTES + 1, o + LABEL_BYTES + 1 + len),
      position: { height: page.heights[i] as number, index: page.indexes[i] as number }
    }
  }
}
