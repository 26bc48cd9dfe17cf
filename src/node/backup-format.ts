/**
 * The `pqmed backup` file format, version 1: a node's data dir as a stream of sections, each with
 * its own SHA-256, and a manifest at the end that lists them all. LevelDB stores are written
 * generically (every key and value as raw bytes, in key order), so a store whose schema changes
 * needs no change here; other files are written byte for byte.
 *
 * ```
 * file     = "PQMEDBAK" u16:version header section* manifest
 * header   = u32:n JSON[n] sha256(JSON)                        {format, version, createdAt, live, pqmed, dataDir}
 * section  = "S" u32:n JSON[n] chunk* u32:0 sha256(section)    {path, kind: "leveldb"|"file", mode?}
 * chunk    = u32:n bytes[n]                                    leveldb: whole entries u32:klen key u32:vlen value
 * manifest = "M" u32:n JSON[n] sha256(JSON) u32:n "PQMEDEND"  {sections: [{path, kind, entries, bytes, sha256}]}
 * ```
 *
 * Integers are big-endian. sha256(section) covers every byte of the section from its "S" to its
 * terminating u32:0. The manifest's length is repeated before the end marker, so a reader finds
 * it from the end of the file: a file without the end marker is truncated, and a file that has it
 * but whose manifest or sections do not hash to what the manifest says is corrupt.
 */
import { createHash, type Hash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'

export const BACKUP_FORMAT = 'pqmed-backup'
export const BACKUP_VERSION = 1
const MAGIC = Buffer.from('PQMEDBAK')
const END = Buffer.from('PQMEDEND')
const TAG_SECTION = 0x53  // 'S'
const TAG_MANIFEST = 0x4d  // 'M'
/** Largest JSON block (header, section, manifest) a reader accepts. */
const MAX_JSON = 16 * 1024 * 1024
/** Largest chunk a reader accepts (a writer starts a new chunk at 1 MiB; one entry may be larger). */
const MAX_CHUNK = 512 * 1024 * 1024
/** Chunk size a writer aims at. */
const CHUNK_TARGET = 1024 * 1024

export type BackupErrorCode = 'BACKUP_NOT_A_BACKUP' | 'BACKUP_VERSION' | 'BACKUP_TRUNCATED' | 'BACKUP_CORRUPT'

/** A backup file that cannot be used; the message says what is wrong with it. */
export class BackupError extends Error {
  readonly code: BackupErrorCode
  constructor (code: BackupErrorCode, message: string) { super(message); this.name = 'BackupError'; this.code = code }
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: number
  createdAt: string
  /** True when a running node made the snapshot (through its admin socket). */
  live: boolean
  /** pqmed version that wrote the file. */
  pqmed: string
  /** The data dir the backup was taken from (informational). */
  dataDir: string
}

export type SectionKind = 'leveldb' | 'file'

export interface SectionHeader {
  /** Path relative to the data dir, `/`-separated. */
  path: string
  kind: SectionKind
  /** Unix mode bits of a file (e.g. 0o600). */
  mode?: number
}

export interface SectionSummary {
  path: string
  kind: SectionKind
  /** Key/value entries (leveldb) or 0 (file). */
  entries: number
  /** Payload bytes (the chunks' contents). */
  bytes: number
  /** Hex SHA-256 of the whole section as written. */
  sha256: string
}

export interface BackupManifest {
  sections: SectionSummary[]
}

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()

/** A relative path that cannot leave the directory it is restored into. */
export function safeRelativePath (p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 1024) return false
  return p.split('/').every((seg) => /^[A-Za-z0-9._@+=-]+$/.test(seg) && seg !== '.' && seg !== '..')
}

/** Where the bytes of a backup go (a file, a socket), in order; the promise resolves when they may be reused. */
export type ByteSink = (bytes: Uint8Array) => Promise<void>

/**
 * Writes the format to a sink. Call `header`, then per section `begin`, `entry`/`data`, `end`,
 * then `finish`.
 */
export class BackupWriter {
  private readonly sink: ByteSink
  private readonly sections: SectionSummary[] = []
  private cur?: { header: SectionHeader, hash: Hash, entries: number, bytes: number, pending: Buffer[], pendingBytes: number }

  constructor (sink: ByteSink) { this.sink = sink }

  async header (h: Omit<BackupHeader, 'format' | 'version'>): Promise<void> {
    const json = Buffer.from(JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, ...h }))
    await this.sink(Buffer.concat([MAGIC, u16(BACKUP_VERSION), u32(json.length), json, sha(json)]))
  }

  async begin (h: SectionHeader): Promise<void> {
    if (this.cur !== undefined) throw new Error(`section ${this.cur.header.path} not ended`)
    if (!safeRelativePath(h.path)) throw new Error(`unsafe section path ${JSON.stringify(h.path)}`)
    const json = Buffer.from(JSON.stringify(h))
    const head = Buffer.concat([Buffer.from([TAG_SECTION]), u32(json.length), json])
    this.cur = { header: h, hash: createHash('sha256').update(head), entries: 0, bytes: 0, pending: [], pendingBytes: 0 }
    await this.sink(head)
  }

  /** One key/value entry of a leveldb section. */
  async entry (key: Uint8Array, value: Uint8Array): Promise<void> {
    const c = this.section('leveldb')
    c.pending.push(u32(key.length), Buffer.from(key.buffer, key.byteOffset, key.byteLength), u32(value.length), Buffer.from(value.buffer, value.byteOffset, value.byteLength))
    c.pendingBytes += 8 + key.length + value.length
    c.entries++
    if (c.pendingBytes >= CHUNK_TARGET) await this.flush()
  }

  /** Bytes of a file section. */
  async data (bytes: Uint8Array): Promise<void> {
    const c = this.section('file')
    for (let off = 0; off < bytes.length; off += CHUNK_TARGET) {
      c.pending.push(Buffer.from(bytes.subarray(off, off + CHUNK_TARGET)))
      c.pendingBytes += Math.min(CHUNK_TARGET, bytes.length - off)
      await this.flush()
    }
  }

  async end (): Promise<SectionSummary> {
    const c = this.section()
    await this.flush()
    const term = u32(0)
    c.hash.update(term)
    const digest = c.hash.digest()
    await this.sink(Buffer.concat([term, digest]))
    const s: SectionSummary = { path: c.header.path, kind: c.header.kind, entries: c.entries, bytes: c.bytes, sha256: digest.toString('hex') }
    this.sections.push(s)
    this.cur = undefined
    return s
  }

  async finish (): Promise<BackupManifest> {
    if (this.cur !== undefined) throw new Error(`section ${this.cur.header.path} not ended`)
    const manifest: BackupManifest = { sections: this.sections }
    const json = Buffer.from(JSON.stringify(manifest))
    await this.sink(Buffer.concat([Buffer.from([TAG_MANIFEST]), u32(json.length), json, sha(json), u32(json.length), END]))
    return manifest
  }

  private section (kind?: SectionKind): NonNullable<BackupWriter['cur']> {
    if (this.cur === undefined) throw new Error('no section begun')
    if (kind !== undefined && this.cur.header.kind !== kind) throw new Error(`section ${this.cur.header.path} is a ${this.cur.header.kind} section`)
    return this.cur
  }

  private async flush (): Promise<void> {
    const c = this.cur
    if (c === undefined || c.pendingBytes === 0) return
    const chunk = Buffer.concat([u32(c.pendingBytes), ...c.pending])
    c.hash.update(chunk)
    c.bytes += c.pendingBytes
    c.pending = []
    c.pendingBytes = 0
    await this.sink(chunk)
  }
}

/** What a reader hands to its consumer, section by section (all of it before the section's checksum is known). */
export interface BackupConsumer {
  begin?: (s: SectionHeader) => Promise<void>
  entries?: (s: SectionHeader, entries: Array<[Uint8Array, Uint8Array]>) => Promise<void>
  data?: (s: SectionHeader, bytes: Uint8Array) => Promise<void>
  /** Called once the section's checksum matched. */
  end?: (s: SectionSummary) => Promise<void>
}

/** Sequential reads of a file with a buffer; `need` fails with what was being read when the file ends. */
class Reader {
  private buf = Buffer.alloc(0)
  private filePos = 0
  pos = 0
  constructor (private readonly fh: FileHandle, private readonly size: number, private readonly onShort: (what: string) => BackupError) {}

  async need (n: number, what: string): Promise<Buffer> {
    if (this.pos + n > this.size) throw this.onShort(what)
    while (this.buf.length < n) {
      const want = Math.max(n - this.buf.length, 1024 * 1024)
      const b = Buffer.alloc(Math.min(want, this.size - this.filePos))
      const { bytesRead } = await this.fh.read(b, 0, b.length, this.filePos)
      if (bytesRead === 0) throw this.onShort(what)
      this.filePos += bytesRead
      this.buf = this.buf.length === 0 ? b.subarray(0, bytesRead) : Buffer.concat([this.buf, b.subarray(0, bytesRead)])
    }
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    this.pos += n
    return out
  }
}

function parseJson<T> (b: Buffer, what: string, corrupt: (m: string) => BackupError): T {
  try { return JSON.parse(b.toString('utf8')) as T } catch { throw corrupt(`${what} is not valid JSON`) }
}

/**
 * Reads and checks a whole backup file, handing each section's contents to `consumer`. Throws
 * `BackupError` saying what is wrong (not a backup, a version this pqmed does not read,
 * truncated, or which part is corrupt). Returns the header and manifest of a valid file.
 */
export async function readBackup (path: string, consumer: BackupConsumer = {}): Promise<{ header: BackupHeader, manifest: BackupManifest }> {
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    const corrupt = (m: string): BackupError => new BackupError('BACKUP_CORRUPT', `${path} is corrupt: ${m}; the backup cannot be used`)
    const headBytes = Buffer.alloc(Math.min(size, 10))
    await fh.read(headBytes, 0, headBytes.length, 0)
    if (size < 10 || !headBytes.subarray(0, 8).equals(MAGIC)) throw new BackupError('BACKUP_NOT_A_BACKUP', `${path} is not a pqmed backup file (it does not start with the PQMEDBAK marker)`)
    const version = headBytes.readUInt16BE(8)
    if (version !== BACKUP_VERSION) throw new BackupError('BACKUP_VERSION', `${path} is a pqmed backup of format version ${version}; this pqmed reads version ${BACKUP_VERSION}`)

    // the end first: a file cut short has no end marker
    const truncated = (m: string): BackupError => new BackupError('BACKUP_TRUNCATED', `${path} is truncated: ${m} (the backup was not written completely or was cut short; it cannot be used)`)
    const tail = Buffer.alloc(Math.min(size, 12))
    await fh.read(tail, 0, tail.length, size - tail.length)
    if (size < 12 + 10 || !tail.subarray(tail.length - 8).equals(END)) throw truncated(`it does not end with the PQMEDEND marker (${size} bytes)`)
    const mLen = tail.readUInt32BE(0)
    const mStart = size - 12 - 32 - mLen - 5
    if (mLen > MAX_JSON || mStart < 10) throw corrupt('the manifest length before the end marker is impossible')
    const mBlock = Buffer.alloc(5 + mLen + 32)
    await fh.read(mBlock, 0, mBlock.length, mStart)
    if (mBlock[0] !== TAG_MANIFEST || mBlock.readUInt32BE(1) !== mLen) throw corrupt('the manifest is not where the end of the file says')
    const mJson = mBlock.subarray(5, 5 + mLen)
    if (!sha(mJson).equals(mBlock.subarray(5 + mLen))) throw corrupt('the manifest does not match its SHA-256')
    const manifest = parseJson<BackupManifest>(mJson, 'the manifest', corrupt)
    if (!Array.isArray(manifest?.sections)) throw corrupt('the manifest lists no sections')

    // from the start: sections, each checked against its own digest and the manifest
    const r = new Reader(fh, mStart, (what) => corrupt(`${what} runs past the manifest`))
    await r.need(10, 'the start marker')
    const hLen = (await r.need(4, 'the header length')).readUInt32BE(0)
    if (hLen > MAX_JSON) throw corrupt('the header length is impossible')
    const hJson = await r.need(hLen, 'the header')
    if (!sha(hJson).equals(await r.need(32, 'the header checksum'))) throw corrupt('the header does not match its SHA-256')
    const header = parseJson<BackupHeader>(hJson, 'the header', corrupt)
    if (header.format !== BACKUP_FORMAT || header.version !== BACKUP_VERSION) throw corrupt('the header names another format or version than the start marker')

    const seen = new Set<string>()
    for (let i = 0; i < manifest.sections.length; i++) {
      const want = manifest.sections[i] as SectionSummary
      const label = `section ${i + 1} of ${manifest.sections.length} (${typeof want.path === 'string' ? want.path : '?'})`
      const hash = createHash('sha256')
      const tag = await r.need(1, `${label}`)
      if (tag[0] !== TAG_SECTION) throw corrupt(`${label} does not start with its marker at byte ${r.pos - 1}`)
      const lenB = await r.need(4, `${label}'s header`)
      const len = lenB.readUInt32BE(0)
      if (len > MAX_JSON) throw corrupt(`${label} has an impossible header length`)
      const json = await r.need(len, `${label}'s header`)
      hash.update(tag).update(lenB).update(json)
      const s = parseJson<SectionHeader>(json, `${label}'s header`, corrupt)
      if (!safeRelativePath(s.path) || (s.kind !== 'leveldb' && s.kind !== 'file')) throw corrupt(`${label} has an invalid path or kind`)
      if (s.path !== want.path || s.kind !== want.kind) throw corrupt(`${label} is ${s.kind} ${s.path}, the manifest says ${String(want.kind)} ${String(want.path)}`)
      if ([...seen].some((p) => p === s.path || p.startsWith(s.path + '/') || s.path.startsWith(p + '/'))) throw corrupt(`${s.path} appears twice, or inside another section`)
      seen.add(s.path)
      await consumer.begin?.(s)
      let entries = 0
      let bytes = 0
      for (;;) {
        const nB = await r.need(4, `${label}'s data`)
        hash.update(nB)
        const n = nB.readUInt32BE(0)
        if (n === 0) break
        if (n > MAX_CHUNK) throw corrupt(`${label} has an impossible chunk length at byte ${r.pos - 4}`)
        const chunk = await r.need(n, `${label}'s data`)
        hash.update(chunk)
        bytes += n
        if (s.kind === 'file') {
          await consumer.data?.(s, chunk)
          continue
        }
        const list: Array<[Uint8Array, Uint8Array]> = []
        for (let off = 0; off < n;) {
          if (off + 4 > n) throw corrupt(`${label} has a cut entry`)
          const kl = chunk.readUInt32BE(off); off += 4
          if (off + kl + 4 > n) throw corrupt(`${label} has a cut entry`)
          const key = chunk.subarray(off, off + kl); off += kl
          const vl = chunk.readUInt32BE(off); off += 4
          if (off + vl > n) throw corrupt(`${label} has a cut entry`)
          list.push([key, chunk.subarray(off, off + vl)]); off += vl
        }
        entries += list.length
        await consumer.entries?.(s, list)
      }
      const digest = hash.digest()
      if (!digest.equals(await r.need(32, `${label}'s checksum`))) throw corrupt(`${label} does not match its SHA-256 (its data was changed)`)
      if (digest.toString('hex') !== want.sha256 || entries !== want.entries || bytes !== want.bytes) throw corrupt(`${label} does not match the manifest`)
      await consumer.end?.({ path: s.path, kind: s.kind, entries, bytes, sha256: want.sha256 })
    }
    if (r.pos !== mStart) throw corrupt(`${mStart - r.pos} bytes between the last section and the manifest`)
    return { header, manifest }
  } finally {
    await fh.close()
  }
}
