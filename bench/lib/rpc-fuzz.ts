/**
 * A seeded black-box fuzzer for the JSON-RPC endpoint of a running node (used by
 * test/rpc/fuzz.test.ts and `npm run bench:fuzz`).
 *
 * Request classes: random bytes, invalid JSON, deep nesting, huge strings, batches (empty, huge,
 * mixed), wrong and boundary values for every param of every method of the node's own
 * `rpc.discover` document, mutated real submissions (bytes flipped, truncated, extended; dag-cbor
 * fields re-encoded), wrong content types, wrong HTTP methods and paths, oversized bodies.
 *
 * Every answer is checked: it arrives within the timeout, it leaks no stack frame or file path,
 * and a JSON answer is a JSON-RPC 2.0 response (or a batch of them) whose error codes are standard
 * or listed in the document's `components.errors`.
 */
import { Agent, request } from 'node:http'
import * as cbor from '@ipld/dag-cbor'
import { seededRng } from '../../src/client/synthetic.js'
import type { JsonSchema, OpenRpcDocument } from '../../src/rpc/openrpc.js'
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../src/rpc/server.js'

export { seededRng }

/** One HTTP request of the fuzz run. */
export interface FuzzCase {
  /** Request class (see the module comment), for the report. */
  kind: string
  method: string
  path: string
  headers: Record<string, string>
  body?: Buffer
}

export interface FuzzAnswer { status: number, contentType: string, body: Buffer, ms: number }

export interface FuzzProblem { index: number, kind: string, problem: string, request: string, answer: string }

export interface FuzzReport {
  seed: number
  sent: number
  answered: number
  /** Requests per class. */
  kinds: Record<string, number>
  /** HTTP status counts. */
  statuses: Record<string, number>
  /** JSON-RPC error codes seen (each response of a batch counted), plus `result` for successes. */
  codes: Record<string, number>
  /** Slowest answer, milliseconds. */
  maxMs: number
  /**
   * Requests sent again on a new connection because a kept-alive connection was closed by the
   * server's keep-alive timeout just as the request went out (the race every HTTP/1.1 client
   * has; Node's docs advise exactly this retry).
   */
  retried: number
  /** What the previous request on a reset connection was, per retry. */
  retriedAfter: string[]
  /** Summed answer time per class, milliseconds (where the run's time goes). */
  kindMs: Record<string, number>
  problems: FuzzProblem[]
}

/** Text that must never appear in an answer unless the request itself carried it. */
export const LEAK_MARKERS: ReadonlyArray<{ name: string, re: RegExp }> = [
  { name: 'stack frame', re: /\bat (?:async )?[\w$.<>[\]]+ \(|\n\s+at \S/ },
  { name: 'path /work/', re: /\/work\// },
  { name: 'source path .ts:', re: /\.ts:\d/ },
  { name: 'node:internal', re: /node:internal/ },
  { name: 'file:// URL', re: /file:\/\// },
  { name: 'home/tmp path', re: /\/(?:home|tmp|root|usr)\/[\w.-]+\// }
]

const STANDARD_CODES = [-32700, -32600, -32601, -32602, -32603]

export type Rng = () => number

const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T
const bytesOf = (rng: Rng, n: number): Buffer => {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256)
  return b
}
/** A string from a safe alphabet (never forms a leak marker). */
const word = (rng: Rng, n: number): string => {
  const a = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'
  let s = ''
  for (let i = 0; i < n; i++) s += a[Math.floor(rng() * a.length)] as string
  return s
}
const hexOf = (rng: Rng, nBytes: number): string => bytesOf(rng, nBytes).toString('hex')

const JSON_HEADERS = { 'content-type': 'application/json' }
const post = (kind: string, body: string | Buffer, headers: Record<string, string> = JSON_HEADERS): FuzzCase =>
  ({ kind, method: 'POST', path: '/', headers, body: typeof body === 'string' ? Buffer.from(body) : body })
const call = (method: string, params?: unknown, id: unknown = 1): Record<string, unknown> =>
  params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params }

/** Resolves `#/components/schemas/X` refs against the document. */
function resolveSchema (doc: OpenRpcDocument, s: JsonSchema): JsonSchema {
  let cur = s
  for (let i = 0; i < 10 && typeof cur.$ref === 'string'; i++) {
    const name = cur.$ref.replace('#/components/schemas/', '')
    const { $ref: _, ...rest } = cur
    cur = { ...(doc.components.schemas[name] ?? {}), ...rest }
  }
  return cur
}

/**
 * Values of every JSON type and at every edge of `schema` that it must refuse, plus a few
 * values it accepts (random hex ids, random base64) so that the call reaches the backend.
 */
export function paramValues (doc: OpenRpcDocument, schemaIn: JsonSchema, rng: Rng): unknown[] {
  const schema = resolveSchema(doc, schemaIn)
  const out: unknown[] = [null, true, false, 0, -1, 1.5, -0.5, 2 ** 53, -(2 ** 63), 1e308, '', 'x', [], [1, 'a'], {}, { a: 1 }, word(rng, 40)]
  if (Array.isArray(schema.anyOf)) for (const sub of schema.anyOf as JsonSchema[]) out.push(...paramValues(doc, sub, rng).slice(17))
  if (Array.isArray(schema.enum)) out.push(...(schema.enum as unknown[]), `${String((schema.enum as unknown[])[0])}x`, 'LATEST')
  const type = schema.type
  if (type === 'integer' || type === 'number') {
    const min = typeof schema.minimum === 'number' ? schema.minimum : 0
    const max = typeof schema.maximum === 'number' ? schema.maximum : Number.MAX_SAFE_INTEGER
    out.push(min, min - 1, max, max + 1, String(min), int(rng, 0, 1000), int(rng, 0, 2 ** 31), Math.floor(rng() * max), 1e21)
  }
  if (type === 'boolean') out.push('true', 1, 0)
  if (type === 'string') {
    const pattern = typeof schema.pattern === 'string' ? schema.pattern : ''
    if (pattern.includes('0-9a-f]{64}')) {
      const h = hexOf(rng, 32)
      out.push(h, h, '0'.repeat(64), 'f'.repeat(64), h.toUpperCase(), h.slice(1), `${h}0`, `${h.slice(2)}zz`, ` ${h.slice(1)}`, `0x${h.slice(2)}`)
    }
    if (schema.format === 'base64') {
      const b = bytesOf(rng, int(rng, 0, 300)).toString('base64')
      out.push(b, b, '', 'AA==', 'A', 'AAA', '====', 'AA=A', '@@@@', 'AAAA'.repeat(int(rng, 1, 2000)), b.replace(/=/g, ''), `${b}\n`, Buffer.from(word(rng, 30)).toString('base64url'))
    }
  }
  return out
}

export interface FuzzContext {
  /** The node's OpenRPC document (`rpc.discover`). */
  doc: OpenRpcDocument
  /** Real, valid `ehr_submitRecord` submissions (dag-cbor bytes) to mutate. Never submitted unmodified. */
  submissions: Uint8Array[]
  /** Largest request body the node accepts (oversized cases send one byte more). Default 16 MiB. */
  maxBodyBytes?: number
  /** Scale of huge-string cases: 1 = bodies up to the limit. Default 1. */
  scale?: number
  /** Only these request classes (`FUZZ_KINDS`); default all. */
  kinds?: readonly string[]
}

/** One mutation of a dag-cbor submission: bytes flipped/truncated/extended/inserted, or a field re-encoded. */
export function mutateSubmission (rng: Rng, orig: Uint8Array): Uint8Array {
  const b = Buffer.from(orig)
  switch (int(rng, 0, 6)) {
    case 0: { // flip 1..8 bits
      for (let k = int(rng, 1, 8); k > 0; k--) { const i = int(rng, 0, b.length - 1); b[i] = (b[i] as number) ^ (1 << int(rng, 0, 7)) }
      return b
    }
    case 1: return b.subarray(0, int(rng, 0, b.length - 1))
    case 2: return Buffer.concat([b, bytesOf(rng, int(rng, 1, 64))])
    case 3: { const i = int(rng, 0, b.length); return Buffer.concat([b.subarray(0, i), bytesOf(rng, int(rng, 1, 16)), b.subarray(i)]) }
    case 4: { const i = int(rng, 0, b.length - 1); return Buffer.concat([b.subarray(0, i), b.subarray(i + int(rng, 1, 16))]) }
    case 5: { // overwrite a random byte run with 0x00 / 0xff
      const i = int(rng, 0, b.length - 1)
      b.fill(rng() < 0.5 ? 0 : 0xff, i, Math.min(b.length, i + int(rng, 1, 32)))
      return b
    }
    default: return reencode(rng, orig)
  }
}

type Cbor = unknown
/** Decodes, changes one field somewhere in the tree (type, length, value, presence) and re-encodes. */
function reencode (rng: Rng, orig: Uint8Array): Uint8Array {
  let root: Cbor
  try { root = cbor.decode(orig) } catch { return orig.subarray(1) } // not dag-cbor to begin with
  const paths: Array<{ parent: Record<string, Cbor> | Cbor[], key: string | number }> = []
  const walk = (v: Cbor, depth: number): void => {
    if (depth > 6 || v === null || typeof v !== 'object' || v instanceof Uint8Array) return
    if (Array.isArray(v)) v.forEach((x, i) => { paths.push({ parent: v, key: i }); walk(x, depth + 1) })
    else for (const [k, x] of Object.entries(v as Record<string, Cbor>)) { paths.push({ parent: v as Record<string, Cbor>, key: k }); walk(x, depth + 1) }
  }
  walk(root, 0)
  if (paths.length === 0) return orig
  const { parent, key } = pick(rng, paths)
  const get = (): Cbor => (parent as Record<string | number, Cbor>)[key]
  const set = (x: Cbor): void => { (parent as Record<string | number, Cbor>)[key] = x }
  const cur = get()
  switch (int(rng, 0, 9)) {
    case 0: if (Array.isArray(parent)) parent.splice(key as number, 1); else delete parent[key as string]; break
    case 1: set(null); break
    case 2: set(cur instanceof Uint8Array ? cur.subarray(0, Math.max(0, cur.length - int(rng, 1, 8))) : new Uint8Array(0)); break
    case 3: set(cur instanceof Uint8Array ? new Uint8Array([...cur, ...bytesOf(rng, int(rng, 1, 8))]) : bytesOf(rng, 32)); break
    case 4: set(typeof cur === 'number' ? cur + int(rng, 1, 1000) : int(rng, 0, 2 ** 31)); break
    case 5: set(typeof cur === 'number' ? -cur - 1 : -1); break
    case 6: set(word(rng, int(rng, 0, 50))); break
    case 7: set(Array.isArray(cur) ? [] : [cur, cur]); break
    case 8: if (!Array.isArray(parent)) parent[`${String(key)}x`] = cur; else parent.push(cur); break
    default: set(cur instanceof Uint8Array ? new Uint8Array(cur.length) : { [word(rng, 4)]: cur })
  }
  try { return cbor.encode(root) } catch { return orig.subarray(1) } // e.g. undefined left in an array
}

/** Every (method, param, value) combination and the structural param cases of every method. */
export function paramCases (ctx: FuzzContext, rng: Rng): FuzzCase[] {
  const out: FuzzCase[] = []
  for (const m of ctx.doc.methods) {
    const names = m.params.map((p) => p.name)
    for (const p of m.params) {
      for (const v of paramValues(ctx.doc, p.schema, rng)) {
        out.push(post('param-type', JSON.stringify(call(m.name, { [p.name]: v }, int(rng, 0, 1e6)))))
        // by position: the param at its index, the others left out or null
        const pos = names.map((n) => (n === p.name ? v : null)).slice(0, names.indexOf(p.name) + 1)
        out.push(post('param-type', JSON.stringify(call(m.name, pos, word(rng, 8)))))
      }
    }
    for (const params of [null, 'x', 7, true, [], {}, [1, 2, 3, 4, 5], { [word(rng, 6)]: 1 }, Object.fromEntries(names.map((n) => [n, null]))]) {
      out.push(post('param-shape', JSON.stringify(call(m.name, params))))
    }
    out.push(post('param-shape', JSON.stringify(call(m.name))))
    out.push(post('param-shape', JSON.stringify({ jsonrpc: '2.0', method: m.name, params: {} }))) // notification
  }
  return out
}

let oversizedBody: Buffer | undefined

/** Every request class: the systematic param cases, then the random ones. */
export const FUZZ_KINDS = ['param-type', 'param-shape', 'random-bytes', 'invalid-json', 'deep-nesting', 'huge-string', 'batch', 'mutated-submission', 'crafted-cbor', 'mutated-json', 'content-type', 'http-method', 'oversized'] as const

/** The request classes drawn at random (after the systematic param cases). */
const CLASSES: ReadonlyArray<{ kind: string, weight: number, make: (rng: Rng, ctx: FuzzContext) => FuzzCase }> = [
  { kind: 'random-bytes', weight: 8, make: (rng) => post('random-bytes', bytesOf(rng, int(rng, 0, rng() < 0.9 ? 512 : 64 * 1024))) },
  {
    kind: 'invalid-json',
    weight: 8,
    make: (rng) => {
      const valid = JSON.stringify(call(pick(rng, ['chain_status', 'node_info', 'chain_getHeader']), { height: 'latest' }))
      const variants = [
        valid.slice(0, int(rng, 0, valid.length - 1)), `${valid}${word(rng, 3)}`, valid.replace(/"/g, "'"), `${valid},`,
        '{"jsonrpc":"2.0","id":1,"method":"chain_status",}', '{"id":NaN}', '{"id":Infinity}', '/* c */ {}', '\uFEFF' + valid,
        '{"a":"\\ud800"}', '{"a":"\\u00"}', '"\\x41"', 'nul', 'tru', '-', '1e', '01', '[1,]', '{"a" 1}', ' ', '',
        `{"jsonrpc":"2.0","id":1,"method":"chain_status","params":{"height":${'9'.repeat(int(rng, 20, 400))}}}`
      ]
      if (rng() < 0.3) {
        // invalid UTF-8 inside an otherwise valid request
        const b = Buffer.from(JSON.stringify(call('ehr_getRecord', { recordId: 'XX' })))
        b[b.indexOf('XX')] = pick(rng, [0xc0, 0xff, 0xed, 0x80, 0xf5])
        return post('invalid-json', b)
      }
      return post('invalid-json', pick(rng, variants))
    }
  },
  {
    kind: 'deep-nesting',
    weight: 3,
    make: (rng, ctx) => {
      const depth = int(rng, 10_000, Math.max(10_000, Math.floor(100_000 * (ctx.scale ?? 1))))
      const open = pick(rng, ['[', '{"a":'])
      const close = open === '[' ? ']' : '}'
      const closed = rng() < 0.5
      const nest = `${open.repeat(depth)}${closed ? '1' + close.repeat(depth) : ''}`
      const where = int(rng, 0, 3)
      const body = where === 0
        ? nest
        : where === 1
          ? `{"jsonrpc":"2.0","id":1,"method":"${pick(rng, ctx.doc.methods).name}","params":${nest}${closed ? '}' : ''}`
          : where === 2
            ? `{"jsonrpc":"2.0","id":${nest}${closed ? ',"method":"chain_status"}' : ''}`
            : `[${JSON.stringify(call('chain_status'))},{"jsonrpc":"2.0","id":2,"method":"ehr_getRecord","params":{"recordId":${nest}${closed ? '}}]' : ''}`
      return post('deep-nesting', body)
    }
  },
  {
    kind: 'huge-string',
    weight: 3,
    make: (rng, ctx) => {
      const cap = Math.floor((ctx.maxBodyBytes ?? 16 * 1024 * 1024) * (ctx.scale ?? 1)) - 256
      const n = rng() < 0.8 ? int(rng, 64 * 1024, 1024 * 1024) : int(rng, 1024 * 1024, Math.max(1024 * 1024, cap))
      const s = pick(rng, ['A', 'a', '0', 'é', '\\u0000'])
      const big = s.repeat(Math.floor(n / Buffer.byteLength(s)))
      const m = pick(rng, ctx.doc.methods.filter((x) => x.params.length > 0))
      const p = pick(rng, m.params).name
      const body = pick(rng, [
        `{"jsonrpc":"2.0","id":1,"method":"${m.name}","params":{"${p}":"${big}"}}`,
        `{"jsonrpc":"2.0","id":"${big}","method":"chain_status"}`,
        `{"jsonrpc":"2.0","id":1,"method":"${big}"}`,
        `{"jsonrpc":"2.0","id":1,"method":"chain_status","${big}":1}`,
        `{"jsonrpc":"2.0","id":1,"method":"ehr_submitRecord","params":{"submission":"${'AAAA'.repeat(Math.floor(n / 4))}"}}`
      ])
      return post('huge-string', body)
    }
  },
  {
    kind: 'batch',
    weight: 6,
    make: (rng, ctx) => {
      const one = (): unknown => {
        const m = pick(rng, ctx.doc.methods)
        return pick(rng, [
          call(m.name, {}, int(rng, 0, 1e6)), { jsonrpc: '2.0', method: m.name }, 7, null, 'x', [], {}, [call('chain_status')],
          call(m.name, Object.fromEntries(m.params.map((p) => [p.name, pick(rng, paramValues(ctx.doc, p.schema, rng))])), word(rng, 5)),
          { jsonrpc: '1.0', id: 1, method: m.name }, { jsonrpc: '2.0', id: {}, method: m.name }
        ])
      }
      const size = pick(rng, [0, 1, 2, 5, 20, 99, 100, 101, 1000, int(rng, 0, 150)])
      const batch = Array.from({ length: size }, one)
      if (size > 0 && rng() < 0.2) batch[0] = { jsonrpc: '2.0', method: 'chain_status' } // a notification
      return post('batch', JSON.stringify(batch))
    }
  },
  {
    kind: 'mutated-submission',
    weight: 12,
    make: (rng, ctx) => {
      const orig = pick(rng, ctx.submissions)
      const mutated = mutateSubmission(rng, orig)
      const method = rng() < 0.7 ? 'ehr_submitRecord' : pick(rng, ['ehr_registerPatient', 'ehr_grantAccess', 'ehr_verifyFile'])
      const key = method === 'ehr_verifyFile' ? 'file' : 'submission'
      const params: Record<string, unknown> = { [key]: Buffer.from(mutated).toString('base64') }
      if (key === 'submission' && rng() < 0.3) params.wait = true
      return post('mutated-submission', JSON.stringify(call(method, params, int(rng, 0, 1e6))))
    }
  },
  {
    kind: 'crafted-cbor',
    weight: 4,
    make: (rng, ctx) => {
      const depth = int(rng, 1000, 100_000)
      const head = (major: number, n: number): Buffer => n < 24 ? Buffer.from([major << 5 | n]) : Buffer.from([major << 5 | 27, 0, 0, 0, 0, n >>> 24 & 255, n >>> 16 & 255, n >>> 8 & 255, n & 255])
      const variants: Array<() => Buffer> = [
        () => Buffer.alloc(depth, 0x81), // [[[[...
        () => Buffer.concat([Buffer.alloc(depth, 0xa1).fill(Buffer.from([0xa1, 0x61, 0x61]))]), // {"a":{"a":...
        () => Buffer.from([0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // bytes of length 2^64-1
        () => Buffer.from([0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]), // array of 2^32 items
        () => Buffer.from([0xbf, 0x61, 0x61, 0x01, 0xff]), // indefinite-length map
        () => Buffer.from([0xd8, 0x2a, 0x45, 0x00, 0x01, 0x02, 0x03, 0x04]), // tag 42 (CID) over junk
        () => Buffer.from([0xd9, 0xd9, 0xf7, 0xa0]), // self-describe tag
        () => Buffer.from([0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), // NaN
        () => Buffer.from([0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]), // duplicate map key
        () => Buffer.from([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02]), // keys out of order
        () => Buffer.concat([head(5, 2), head(3, 2), Buffer.from('tx'), head(5, 0), head(3, 5), Buffer.from('blobs'), head(4, 70_000), Buffer.alloc(70_000, 0x40)]), // 70,000 empty blobs
        () => Buffer.concat([head(5, 2), head(3, 2), Buffer.from('tx'), head(2, 4), Buffer.from('junk'), head(3, 5), Buffer.from('blobs'), head(4, 0)]),
        () => bytesOf(rng, int(rng, 1, 2000))
      ]
      const method = pick(rng, ['ehr_submitRecord', 'ehr_registerPatient', 'ehr_grantAccess', 'ehr_submitRecord'])
      const body = pick(rng, variants)()
      void ctx
      return post('crafted-cbor', JSON.stringify(call(method, { submission: body.toString('base64'), ...(rng() < 0.3 ? { wait: true } : {}) }, int(rng, 0, 1e6))))
    }
  },
  {
    kind: 'mutated-json',
    weight: 4,
    make: (rng, ctx) => {
      const m = pick(rng, ctx.doc.methods)
      const b = Buffer.from(JSON.stringify(call(m.name, Object.fromEntries(m.params.map((p) => [p.name, pick(rng, paramValues(ctx.doc, p.schema, rng).slice(17))])))))
      for (let k = int(rng, 1, 4); k > 0; k--) b[int(rng, 0, b.length - 1)] = pick(rng, [0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x5c, 0x00, 0x30, 0x20, int(rng, 0, 255)])
      return post('mutated-json', b)
    }
  },
  {
    kind: 'content-type',
    weight: 3,
    make: (rng) => {
      const ct = pick(rng, [undefined, 'text/plain', 'application/json; charset=latin1', 'application/json-rpc', 'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded', 'APPLICATION/JSON', 'application/json;charset=UTF-8', 'application/json; charset="utf-16"', '', `application/json; ${'x'.repeat(4000)}`])
      return post('content-type', JSON.stringify(call('chain_status')), ct === undefined ? {} : { 'content-type': ct })
    }
  },
  {
    kind: 'http-method',
    weight: 3,
    make: (rng) => {
      const method = pick(rng, ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'POST', 'PROPFIND'])
      const path = pick(rng, ['/', '/', '/x', '/?a=1', '/../../etc/passwd', '//', `/${word(rng, 200)}`, '/%00', '/rpc'])
      const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.from(JSON.stringify(call('node_info')))
      return { kind: 'http-method', method, path, headers: { 'content-type': 'application/json' }, body }
    }
  },
  {
    kind: 'oversized',
    weight: 1,
    make: (rng, ctx) => {
      const max = ctx.maxBodyBytes ?? 16 * 1024 * 1024
      if (oversizedBody === undefined || oversizedBody.length < max + 1024) oversizedBody = Buffer.alloc(max + 1024, 0x20)
      const body = oversizedBody.subarray(0, max + int(rng, 1, 1024))
      // declared Content-Length over the limit, or chunked (no length: the server counts while reading)
      return rng() < 0.5 ? post('oversized', body) : { ...post('oversized', body), headers: { ...JSON_HEADERS, 'transfer-encoding': 'chunked' } }
    }
  }
]

/**
 * The cases of one run, drawn lazily (huge bodies are not all held at once): every systematic
 * param case first (shuffled), then random classes by weight; `n` in all.
 */
export function * generateCases (ctx: FuzzContext, seed: number, n: number): Generator<FuzzCase> {
  const rng = seededRng(seed)
  const want = (kind: string): boolean => ctx.kinds === undefined || ctx.kinds.includes(kind)
  const systematic = paramCases(ctx, rng).filter((c) => want(c.kind))
  for (let i = systematic.length - 1; i > 0; i--) { const j = int(rng, 0, i); [systematic[i], systematic[j]] = [systematic[j] as FuzzCase, systematic[i] as FuzzCase] }
  let k = 0
  for (const c of systematic) { if (k++ >= n) return; yield c }
  const classes = CLASSES.filter((c) => want(c.kind))
  if (classes.length === 0) return
  const total = classes.reduce((s, c) => s + c.weight, 0)
  for (; k < n; k++) {
    let r = rng() * total
    const c = classes.find((x) => (r -= x.weight) < 0) ?? classes[0]!
    yield c.make(rng, ctx)
  }
}

/** Sends one case; resolves with the answer or rejects (timeout, connection error). */
/** The class of the last request sent on each socket (to tell what preceded a reset). */
const lastOnSocket = new WeakMap<object, string>()

export async function send (url: string, c: FuzzCase, timeoutMs: number, agent?: Agent): Promise<FuzzAnswer & { reusedSocket: boolean }> {
  const u = new URL(url)
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: c.method, path: c.path, headers: c.body === undefined || c.headers['transfer-encoding'] !== undefined ? c.headers : { ...c.headers, 'content-length': String(c.body.length) }, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks), ms: performance.now() - t0, reusedSocket: req.reusedSocket }) })
      res.on('error', (err) => { clearTimeout(timer); reject(Object.assign(err, { reusedSocket: req.reusedSocket })) })
    })
    const timer = setTimeout(() => { req.destroy(new Error(`no answer in ${timeoutMs} ms`)) }, timeoutMs)
    let previous: string | undefined
    req.once('socket', (s) => { previous = lastOnSocket.get(s); lastOnSocket.set(s, `${c.kind} ${c.method} ${c.body?.length ?? 0}B`) })
    req.on('error', (err) => { clearTimeout(timer); reject(Object.assign(err, { reusedSocket: req.reusedSocket, previous, elapsedMs: performance.now() - t0 })) })
    req.end(c.body)
  })
}

const excerpt = (b: Buffer | string | undefined, n = 300): string => {
  if (b === undefined) return ''
  const s = typeof b === 'string' ? b : b.subarray(0, n * 4).toString('utf8')
  return s.length > n ? `${s.slice(0, n)}… (${typeof b === 'string' ? b.length : b.length} bytes)` : s
}

/** The codes an answer may carry: the standard ones and the document's domain errors. */
export function allowedCodes (doc: OpenRpcDocument): Set<number> {
  return new Set([...STANDARD_CODES, ...Object.values(doc.components.errors).map((e) => e.code)])
}

function checkResponse (r: unknown, allowed: Set<number>): string | undefined {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'response is not an object'
  const o = r as Record<string, unknown>
  if (o.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"'
  if (!('id' in o) || !(o.id === null || typeof o.id === 'string' || typeof o.id === 'number')) return 'bad or missing id'
  const keys = Object.keys(o).sort().join(',')
  if (keys !== 'error,id,jsonrpc' && keys !== 'id,jsonrpc,result') return `members ${keys}`
  if ('error' in o) {
    const e = o.error as Record<string, unknown> | null
    if (e === null || typeof e !== 'object') return 'error is not an object'
    if (!Number.isInteger(e.code) || typeof e.message !== 'string') return 'error without integer code and string message'
    if (!allowed.has(e.code as number)) return `undocumented error code ${String(e.code)}`
  }
  return undefined
}

/**
 * Checks one answer; returns the problems found and tallies codes into `codes`.
 * An answer may not contain a leak marker that the request did not itself contain (some
 * errors echo the method name, and random bytes may spell anything).
 */
export function checkAnswer (c: FuzzCase, a: FuzzAnswer, allowed: Set<number>, codes: Record<string, number>): string[] {
  const problems: string[] = []
  const text = a.body.toString('utf8')
  let sent: string | undefined // the request as text, only when needed (bodies reach 16 MiB)
  for (const m of LEAK_MARKERS) {
    if (m.re.test(text) && !m.re.test(sent ??= c.body?.toString('latin1') ?? '') && !m.re.test(c.path)) problems.push(`leaks a ${m.name}`)
  }
  // 503 is the server's documented answer when busy (in-flight or buffered-bytes cap, -32030)
  if (a.status >= 500 && !(a.status === 503 && /"code":-32030\b/.test(text))) problems.push(`HTTP ${a.status}`)
  if (a.contentType.startsWith('application/json')) {
    let j: unknown
    try { j = JSON.parse(text) } catch { problems.push('JSON content type but not JSON'); return problems }
    const list = Array.isArray(j) ? j : [j]
    if (Array.isArray(j) && j.length === 0) problems.push('empty batch answer')
    for (const r of list) {
      const bad = checkResponse(r, allowed)
      if (bad !== undefined) { problems.push(bad); continue }
      const o = r as { error?: { code: number } }
      const key = o.error === undefined ? 'result' : String(o.error.code)
      codes[key] = (codes[key] ?? 0) + 1
    }
  } else if (a.status === 204) {
    if (a.body.length > 0) problems.push('204 with a body')
  } else if (!(a.contentType.startsWith('text/plain') || (c.method === 'HEAD' && a.body.length === 0))) {
    problems.push(`unexpected content type "${a.contentType}" (HTTP ${a.status})`)
  }
  return problems
}

export interface RunOptions {
  url: string
  ctx: FuzzContext
  seed: number
  requests: number
  /** Requests in flight at once. Default 8. */
  concurrency?: number
  /** Per-request timeout (a hang). Default 60 s. */
  timeoutMs?: number
  /** The node's request timeout (a connection closed after it is the server's limit at work). Default the server's default, 30 s. */
  serverRequestTimeoutMs?: number
  /** Called after each answer (progress). */
  onAnswer?: (done: number) => void
}

/** Runs `requests` fuzz cases against `url` and checks every answer. */
export async function runFuzz (o: RunOptions): Promise<FuzzReport> {
  const cases = generateCases(o.ctx, o.seed, o.requests)
  let index = 0
  const allowed = allowedCodes(o.ctx.doc)
  const timeoutMs = o.timeoutMs ?? 60_000
  // idle sockets are dropped after 1 s, well before the server's keep-alive timeout
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency ?? 8, timeout: 1000 })
  const report: FuzzReport = { seed: o.seed, sent: 0, answered: 0, kinds: {}, statuses: {}, codes: {}, maxMs: 0, kindMs: {}, retried: 0, retriedAfter: [], problems: [] }
  const worker = async (): Promise<void> => {
    for (;;) {
      const it = cases.next()
      if (it.done === true) return
      const c = it.value
      const i = index++
      report.sent++
      report.kinds[c.kind] = (report.kinds[c.kind] ?? 0) + 1
      let a: FuzzAnswer
      try {
        try {
          a = await send(o.url, c, timeoutMs, agent)
        } catch (err) {
          const e = err as NodeJS.ErrnoException & { reusedSocket?: boolean, previous?: string }
          // an oversized body is cut off by the server's early 413 (handled below), not retried
          if (c.kind === 'oversized' || e.reusedSocket !== true || (e.code !== 'ECONNRESET' && e.code !== 'EPIPE')) throw err
          report.retried++
          report.retriedAfter.push(`${e.code ?? '?'} on ${c.kind} after ${e.previous ?? '?'}`)
          a = await send(o.url, c, timeoutMs) // a fresh connection
        }
      } catch (err) {
        // an early 413 closes the connection while a huge body is still being written
        const e = err as NodeJS.ErrnoException & { elapsedMs?: number }
        const reset = e.code === 'EPIPE' || e.code === 'ECONNRESET'
        if (c.kind === 'oversized' && reset) { report.answered++; report.statuses.reset = (report.statuses.reset ?? 0) + 1; continue }
        // a client so starved of CPU that its upload outlasts the server's request timeout gets a 408 and a closed connection
        if (reset && (e.elapsedMs ?? 0) >= (o.serverRequestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) - 1000) { report.answered++; report.statuses['request timeout'] = (report.statuses['request timeout'] ?? 0) + 1; continue }
        report.problems.push({ index: i, kind: c.kind, problem: `no answer: ${e.message}`, request: `${c.method} ${c.path} ${excerpt(c.body)}`, answer: '' })
        continue
      }
      report.answered++
      report.maxMs = Math.max(report.maxMs, a.ms)
      report.kindMs[c.kind] = (report.kindMs[c.kind] ?? 0) + a.ms
      report.statuses[a.status] = (report.statuses[a.status] ?? 0) + 1
      for (const p of checkAnswer(c, a, allowed, report.codes)) {
        report.problems.push({ index: i, kind: c.kind, problem: p, request: `${c.method} ${c.path} ${excerpt(c.body)}`, answer: excerpt(a.body) })
      }
      o.onAnswer?.(report.answered)
    }
  }
  try {
    await Promise.all(Array.from({ length: o.concurrency ?? 8 }, worker))
  } finally {
    agent.destroy()
  }
  return report
}

/** `PQMED_FUZZ_SEED` if set (decimal), else a fresh random seed. */
export function fuzzSeed (env = process.env.PQMED_FUZZ_SEED): number {
  if (env !== undefined && env !== '') {
    const s = Number(env)
    if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) throw new RangeError('PQMED_FUZZ_SEED must be an integer in [0, 2^32)')
    return s
  }
  return Math.floor(Math.random() * 0x100000000)
}
