// pqmed explorer: a read-only view of the chain through the JSON-RPC API of the origin that served
// this page (a node's own port, or `pqmed explorer --rpc URL`, which passes the calls on). No
// library, no request to any other origin: charts are SVG drawn here. Pages are hash routes:
// #/ overview, #/blocks, #/block/H, #/block/H/tx/I, #/consortium, #/peers, #/verify.

const RPC_URL = new URL('/', location.href).href
/** The node's JSON-RPC request limit (16 MiB) holds a base64 file of at most this many bytes. */
const MAX_FILE_BYTES = Math.floor((16 * 1024 * 1024 - 1024) / 4) * 3
const CHART_BLOCKS = 60
const LATENCY_BLOCKS = 30
const THROUGHPUT_WINDOW = 5
const PAGE = 25
const FIELD_NAMES = ['personal info (cip1)', 'symptoms (cip2)', 'prescriptions (cip3)']
const SVG_NS = 'http://www.w3.org/2000/svg'

// ---------------------------------------------------------------------------------------------
// JSON-RPC

class RpcError extends Error {
  constructor (code, message, data) { super(message); this.code = code; this.data = data }
}

let nextId = 1
async function post (body) {
  let res
  try {
    res = await fetch(RPC_URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  } catch (err) {
    throw new RpcError(0, `the node does not answer (${err.message})`)
  }
  let json
  try { json = await res.json() } catch { throw new RpcError(0, `the node answered HTTP ${res.status} without JSON`) }
  return json
}

function unwrap (r) {
  if (r.error !== undefined) {
    const reason = r.error.data && typeof r.error.data.reason === 'string' ? `: ${r.error.data.reason}` : ''
    throw new RpcError(r.error.code, `${r.error.message}${reason}`, r.error.data)
  }
  return r.result
}

async function rpc (method, params = {}) {
  const r = await post({ jsonrpc: '2.0', id: nextId++, method, params })
  if (Array.isArray(r) || r === null || typeof r !== 'object') throw new RpcError(0, 'malformed answer')
  return unwrap(r)
}

/** Several calls in one JSON-RPC batch; each entry is a result or an RpcError. */
async function rpcBatch (calls) {
  if (calls.length === 0) return []
  const reqs = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: nextId++, method, params }))
  const r = await post(reqs)
  if (!Array.isArray(r)) { unwrap(r); throw new RpcError(0, 'malformed batch answer') }
  const byId = new Map(r.map((x) => [x.id, x]))
  return reqs.map((q) => {
    const a = byId.get(q.id)
    if (a === undefined) return new RpcError(0, 'missing answer')
    try { return unwrap(a) } catch (e) { return e }
  })
}

// ---------------------------------------------------------------------------------------------
// DOM helpers (text only: nothing from the node is ever parsed as HTML)

function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('data-')) { if (v !== undefined && v !== null) el.setAttribute(k, String(v)); continue }
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

function s (tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v))
  for (const c of children) el.append(c instanceof Node ? c : String(c))
  return el
}

const short = (hex, n = 10) => typeof hex === 'string' && hex.length > 2 * n ? `${hex.slice(0, n)}…${hex.slice(-4)}` : String(hex)
const mono = (text, title) => h('span', { class: 'mono', title: title ?? text }, text)
const fmtTime = (ms) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
const fmtBytes = (n) => n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`
function ago (ms) {
  const d = Math.max(0, Date.now() - ms) / 1000
  if (d < 60) return `${d.toFixed(0)} s ago`
  if (d < 3600) return `${(d / 60).toFixed(0)} min ago`
  if (d < 86400) return `${(d / 3600).toFixed(1)} h ago`
  return `${(d / 86400).toFixed(1)} d ago`
}
const fieldName = (f) => f < 3 ? FIELD_NAMES[f] : `attachment ${f - 3}`
const badge = (text, kind = '') => h('span', { class: `badge ${kind}` }, text)
const card = (label, value, id) => h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value))
const b64len = (b64) => Math.floor(b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0)

function table (id, headers, rows) {
  return h('table', { id },
    h('thead', {}, h('tr', {}, headers.map((x) => typeof x === 'string' ? h('th', {}, x) : h('th', { class: x.class }, x.text)))),
    h('tbody', {}, rows))
}

function linkRow (href, cells) {
  return h('tr', { class: 'link', 'data-href': href, onclick: () => { location.hash = href } }, cells)
}

function showError (msg) {
  const el = document.getElementById('error')
  if (msg === undefined || msg === null) { el.hidden = true; el.textContent = ''; return }
  el.hidden = false
  el.textContent = msg
}

// ---------------------------------------------------------------------------------------------
// charts: inline SVG, drawn here

/**
 * A line chart of points {x, y} (x: block height). The element carries data-chart (its id) and
 * data-points (how many points it draws).
 */
function lineChart (id, title, sub, points, unit) {
  const W = 560; const H = 210; const L = 58; const R = 12; const T = 12; const B = 30
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title })
  const box = h('div', { class: 'chart', 'data-chart': id, 'data-points': points.length }, h('h3', {}, title), h('div', { class: 'sub' }, sub), svg)
  svg.append(s('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }), s('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }))
  if (points.length === 0) {
    svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no data yet'))
    return box
  }
  const xs = points.map((p) => p.x)
  const x0 = Math.min(...xs); const x1 = Math.max(...xs)
  const yMax = Math.max(...points.map((p) => p.y), 0) * 1.1 || 1
  const sx = (x) => x1 === x0 ? (L + W - R) / 2 : L + (x - x0) / (x1 - x0) * (W - R - L)
  const sy = (y) => H - B - y / yMax * (H - B - T)
  for (let i = 0; i <= 4; i++) {
    const v = yMax * i / 4
    svg.append(s('line', { class: 'grid', x1: L, y1: sy(v), x2: W - R, y2: sy(v) }))
    svg.append(s('text', { x: L - 4, y: sy(v) + 3, 'text-anchor': 'end' }, v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)))
  }
  svg.append(s('text', { x: L, y: H - 8, 'text-anchor': 'start' }, `#${x0}`), s('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, `#${x1}`),
    s('text', { x: (L + W - R) / 2, y: H - 8, 'text-anchor': 'middle' }, `block height · ${unit}`))
  svg.append(s('polyline', { class: 'series', points: points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ') }))
  for (const p of points) {
    const c = s('circle', { class: 'dot', cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 2.5 })
    c.append(s('title', {}, `block ${p.x}: ${p.y.toFixed(p.y >= 100 ? 0 : 2)} ${unit}`))
    svg.append(c)
  }
  return box
}

// ---------------------------------------------------------------------------------------------
// chain data shared by the pages

/** Block summaries by height (blocks never change once committed). */
const summaries = new Map()
async function blockSummaries (heights) {
  const missing = heights.filter((x) => !summaries.has(x))
  for (let i = 0; i < missing.length; i += 50) {
    const part = missing.slice(i, i + 50)
    const got = await rpcBatch(part.map((height) => ['chain_getBlockSummary', { height }]))
    got.forEach((r, j) => { if (!(r instanceof Error)) summaries.set(part[j], r) })
  }
  if (summaries.size > 2000) for (const k of [...summaries.keys()].slice(0, summaries.size - 2000)) summaries.delete(k)
  return heights.map((x) => summaries.get(x)).filter((x) => x !== undefined)
}

/** Up to `n` headers ending at `top`, oldest first (chain_getHeaders returns at most 100 per call). */
async function headersUpTo (top, n) {
  const from = Math.max(1, top - n + 1)
  if (top < 1) return []
  const out = []
  for (let f = from; f <= top; f += 100) out.push(...await rpc('chain_getHeaders', { from: f, count: Math.min(100, top - f + 1) }))
  return out
}

/** The three series of the charts, from consecutive headers (and the summaries of recent blocks). */
async function chartSeries (headers) {
  const interval = []
  const throughput = []
  for (let i = 1; i < headers.length; i++) {
    const a = headers[i - 1]; const b = headers[i]
    if (b.height !== a.height + 1) continue
    interval.push({ x: b.height, y: b.time - a.time })
    const k = Math.min(THROUGHPUT_WINDOW, i)
    const first = headers[i - k]
    const span = (b.time - first.time) / 1000
    let records = 0
    for (let j = i - k + 1; j <= i; j++) records += headers[j].recordIds.length
    if (span > 0) throughput.push({ x: b.height, y: records / span })
  }
  const recent = headers.slice(-LATENCY_BLOCKS).filter((x) => x.txCount > 0)
  const latency = []
  for (const sm of await blockSummaries(recent.map((x) => x.height))) {
    if (sm.txs.length === 0) continue
    const mean = sm.txs.reduce((acc, t) => acc + Math.max(0, sm.header.time - t.time), 0) / sm.txs.length
    latency.push({ x: sm.header.height, y: mean })
  }
  latency.sort((p, q) => p.x - q.x)
  return { interval, throughput, latency }
}

const median = (xs) => { if (xs.length === 0) return undefined; const v = [...xs].sort((a, b) => a - b); return v[Math.floor(v.length / 2)] }

// ---------------------------------------------------------------------------------------------
// pages

async function overviewPage (root) {
  const [status, info] = await Promise.all([rpc('chain_status'), rpc('node_info')])
  const headers = await headersUpTo(status.height, CHART_BLOCKS)
  const series = await chartSeries(headers)
  const last = headers.at(-1)
  const recordsShown = headers.reduce((a, x) => a + x.recordIds.length, 0)
  const spanS = headers.length > 1 ? (headers.at(-1).time - headers[0].time) / 1000 : 0
  const medInterval = median(series.interval.map((p) => p.y))
  const medLatency = median(series.latency.map((p) => p.y))
  const cards = h('div', { class: 'cards' },
    card('Height', String(status.height), 'card-height'),
    card('Head hash', mono(short(status.headerHash, 8), status.headerHash)),
    card('Last block', last === undefined ? '—' : ago(last.time)),
    card('Managers', `${status.managers} (f = ${status.faultTolerance})`),
    status.view !== undefined ? card('View / leader', `${status.view} / ${status.leader}`) : card('This node', info.role),
    status.mempool !== undefined ? card('Mempool', String(status.mempool)) : card('Node height', String(info.height)),
    card('Median block interval', medInterval === undefined ? '—' : `${medInterval} ms`),
    card('Records/s (shown blocks)', spanS > 0 ? (recordsShown / spanS).toFixed(2) : '—'))
  const charts = h('div', { class: 'charts' },
    lineChart('latency', 'Commit latency', `per block: its header time − the mean signing time of its txs (last ${LATENCY_BLOCKS} blocks${medLatency === undefined ? '' : `; median ${medLatency.toFixed(0)} ms`})`, series.latency, 'ms'),
    lineChart('interval', 'Block interval', `time between consecutive headers (last ${CHART_BLOCKS} blocks)`, series.interval, 'ms'),
    lineChart('throughput', 'Throughput', `records per second over the last ${THROUGHPUT_WINDOW} blocks`, series.throughput, 'records/s'))
  const latest = headers.slice(-10).reverse()
  root.replaceChildren(
    h('h1', {}, `Chain ${info.chainId}`),
    cards,
    h('h2', {}, 'Live charts ', h('span', { class: 'muted' }, '(refresh every 2 s)')),
    charts,
    h('h2', {}, 'Latest blocks'),
    blocksTable(latest),
    h('p', {}, h('a', { href: '#/blocks' }, 'All blocks →')))
}

function blocksTable (headers) {
  return table('blocks-table', [{ text: 'Height', class: 'num' }, 'Time', { text: 'Txs', class: 'num' }, { text: 'Records', class: 'num' }, { text: 'Proposer', class: 'num' }, { text: 'View', class: 'num' }, 'Hash'],
    headers.map((x) => linkRow(`#/block/${x.height}`, [
      h('td', { class: 'num' }, h('a', { href: `#/block/${x.height}` }, String(x.height))),
      h('td', {}, `${fmtTime(x.time)} `, h('span', { class: 'muted' }, `(${ago(x.time)})`)),
      h('td', { class: 'num' }, String(x.txCount)),
      h('td', { class: 'num' }, String(x.recordIds.length)),
      h('td', { class: 'num' }, String(x.proposer)),
      h('td', { class: 'num' }, String(x.view)),
      h('td', {}, mono(short(x.hash), x.hash))])))
}

async function blocksPage (root, query) {
  const status = await rpc('chain_status')
  const wanted = Number(query.get('top'))
  const top = Number.isInteger(wanted) && wanted >= 1 ? Math.min(wanted, status.height) : status.height
  const headers = (await headersUpTo(top, PAGE)).reverse()
  const go = h('form', { class: 'pager', onsubmit: (e) => { e.preventDefault(); const v = Number(e.target.elements.height.value); if (Number.isInteger(v) && v >= 0) location.hash = `#/block/${v}` } },
    h('a', { class: 'button', href: `#/blocks?top=${Math.min(status.height, top + PAGE)}`, 'aria-disabled': top >= status.height }, '← Newer'),
    h('a', { class: 'button', href: `#/blocks?top=${Math.max(1, top - PAGE)}`, 'aria-disabled': top - PAGE < 1 }, 'Older →'),
    h('span', { class: 'muted' }, `blocks ${Math.max(1, top - PAGE + 1)}–${top} of ${status.height}`),
    h('label', {}, 'Go to height ', h('input', { name: 'height', type: 'number', min: 0, max: status.height, size: 8 })))
  root.replaceChildren(h('h1', {}, 'Blocks'), go, headers.length === 0 ? h('p', { class: 'muted' }, 'No blocks yet (only the genesis).') : blocksTable(headers))
}

async function blockPage (root, height) {
  const [sm, status] = await Promise.all([rpc('chain_getBlockSummary', { height }), rpc('chain_status')])
  summaries.set(height, sm)
  const x = sm.header
  const nav = h('div', { class: 'pager' },
    height > 1 ? h('a', { class: 'button', href: `#/block/${height - 1}` }, `← Block ${height - 1}`) : null,
    height < status.height ? h('a', { class: 'button', href: `#/block/${height + 1}` }, `Block ${height + 1} →`) : null)
  const kv = h('dl', { class: 'kv', id: 'block-header' },
    h('dt', {}, 'Height'), h('dd', {}, String(x.height)),
    h('dt', {}, 'Hash'), h('dd', {}, mono(x.hash)),
    h('dt', {}, 'Previous hash'), h('dd', {}, height > 1 ? h('a', { href: `#/block/${height - 1}` }, mono(x.prevHash)) : mono(x.prevHash)),
    h('dt', {}, 'Time'), h('dd', {}, `${fmtTime(x.time)} (${ago(x.time)})`),
    h('dt', {}, 'Proposer / view'), h('dd', {}, `manager ${x.proposer} / view ${x.view}`),
    h('dt', {}, 'Txs / records'), h('dd', {}, `${x.txCount} / ${x.recordIds.length}`),
    h('dt', {}, 'Size'), h('dd', {}, `${fmtBytes(sm.size)} (header and txs; ciphertexts are stored off chain)`),
    h('dt', {}, 'Tx root'), h('dd', {}, mono(x.txRoot)),
    h('dt', {}, 'Index root'), h('dd', {}, mono(x.indexRoot), ` (${x.indexCount} entries from position ${x.indexStart})`),
    h('dt', {}, 'Certificate'), h('dd', {}, sm.certificate === null
      ? h('span', { class: 'muted' }, 'not held by this node (a user node keeps only its newest; the hash chain certifies the rest)')
      : `view ${sm.certificate.view}, signed by managers ${sm.certificate.signers.join(', ')}`))
  const txs = table('block-txs', [{ text: '#', class: 'num' }, 'Kind', 'Id', 'Tx hash', { text: 'Size', class: 'num' }, 'Signer'],
    sm.txs.map((t) => linkRow(`#/block/${height}/tx/${t.index}`, [
      h('td', { class: 'num' }, h('a', { href: `#/block/${height}/tx/${t.index}` }, String(t.index))),
      h('td', {}, badge(t.type)),
      h('td', {}, mono(short(t.id), t.id)),
      h('td', {}, mono(short(t.txHash), t.txHash)),
      h('td', { class: 'num' }, fmtBytes(t.size)),
      h('td', {}, mono(short(t.signer), t.signer))])))
  root.replaceChildren(h('h1', {}, `Block ${height}`), nav, kv, h('h2', {}, `Transactions (${sm.txs.length})`), sm.txs.length === 0 ? h('p', { class: 'muted' }, 'No transactions.') : txs)
}

async function txPage (root, height, index) {
  const [sm, block] = await Promise.all([rpc('chain_getBlockSummary', { height }), rpc('chain_getBlock', { height })])
  const t = sm.txs[index]
  const tx = block.txs[index]
  if (t === undefined || tx === undefined) throw new RpcError(0, `block ${height} has no tx ${index} (it has ${sm.txs.length})`)
  const rows = [
    ['Kind', badge(t.type)],
    ['Block / position', h('span', {}, h('a', { href: `#/block/${height}` }, `block ${height}`), ` / tx ${index}`)],
    ['Tx hash', mono(t.txHash)],
    ['Size', `${fmtBytes(t.size)} (canonical encoding)`],
    ['Signed at', `${fmtTime(t.time)} (${ago(t.time)})`]
  ]
  if (tx.type === 'record') {
    rows.push(['Record id', mono(tx.recordId)], ['Doctor (signer)', mono(tx.doctor)], ['Owner id', mono(tx.owner)])
    tx.fields.forEach((f, i) => rows.push([`SHA-256 of ${FIELD_NAMES[i]}`, mono(f)]))
    tx.attachments.forEach((f, i) => rows.push([`SHA-256 of attachment ${i}`, mono(f)]))
    rows.push(['Search-index entries', String(tx.indexUpdates.length)], ['ML-DSA-65 signature', `${b64len(tx.signature)} bytes`])
  } else if (tx.type === 'grant') {
    rows.push(['Record id', mono(tx.recordId)], ['Grantor (signer)', mono(tx.grantor)], ['Grantee', mono(tx.grantee)],
      ['Granted fields', tx.fields.map(fieldName).join(', ')], ['Wrapped keys', `${b64len(tx.wrapped)} bytes (ML-KEM-768 + AEAD)`], ['ML-DSA-65 signature', `${b64len(tx.signature)} bytes`])
  } else if (tx.type === 'key-epoch') {
    rows.push(['Key epoch', String(tx.epoch)], ['Key id', mono(tx.keyId)], ['Hospital (signer)', mono(tx.hospital)],
      ['Wrapped to doctors', String(tx.recipients.length)], ['ML-DSA-65 signature', `${b64len(tx.signature)} bytes`])
  } else {
    rows.push(['Patient id (signer)', mono(tx.patientId)], ['ML-DSA-65 public key', `${b64len(tx.sigPublicKey)} bytes`], ['ML-KEM-768 public key', `${b64len(tx.kemPublicKey)} bytes`])
  }
  const kv = h('dl', { class: 'kv', id: 'tx-detail' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
  const out = h('div', { id: 'record-verification' })
  const parts = [h('h1', {}, `Transaction ${index} of block ${height}`), kv]
  if (tx.type === 'record') {
    parts.push(h('p', { class: 'muted' }, 'The fields are encrypted on the doctor\'s client; the chain holds only their hashes and no node can show their content.'),
      h('button', { id: 'verify-record', onclick: async () => {
        out.replaceChildren(h('p', { class: 'muted' }, 'Verifying…'))
        try {
          const v = await rpc('ehr_verifyRecord', { recordId: tx.recordId })
          const c = v.checks
          out.replaceChildren(h('div', { class: `result ${v.valid ? 'ok' : 'bad'}`, 'data-valid': v.valid },
            h('h2', {}, v.valid ? 'Record verified' : 'Record verification failed'),
            h('ul', {},
              h('li', {}, `doctor's signature: ${c.signature ? 'valid' : 'INVALID'}`),
              h('li', {}, `doctor registered in the genesis: ${c.doctorRegistered ? 'yes' : 'NO'}`),
              h('li', {}, `ciphertext hashes: ${c.ciphertextHashes.filter(Boolean).length} of ${c.ciphertextHashes.length} match`),
              h('li', {}, `Merkle inclusion under the header's tx root: ${c.inclusion ? 'yes' : 'NO'}`),
              h('li', {}, `commit certificate: ${c.certificate ? 'valid' : 'INVALID'}`))))
        } catch (e) { out.replaceChildren(h('div', { class: 'result bad' }, `Could not verify: ${e.message}`)) }
      } }, 'Verify this record'), out)
  }
  root.replaceChildren(...parts)
}

async function consortiumPage (root) {
  const c = await rpc('chain_consortium')
  const top = Math.max(0, ...c.managers.map((m) => m.height ?? 0))
  const managers = table('managers-table', [{ text: '#', class: 'num' }, 'Name', 'Id', 'Peer id', 'State', { text: 'Height', class: 'num' }, { text: 'View', class: 'num' }, 'Last commit'],
    c.managers.map((m) => h('tr', { 'data-manager': m.index },
      h('td', { class: 'num' }, String(m.index)),
      h('td', {}, m.name, m.self ? ' ' : '', m.self ? badge('this node') : ''),
      h('td', {}, mono(short(m.id), m.id)),
      h('td', {}, mono(short(m.peerId, 8), m.peerId)),
      h('td', {}, m.error !== undefined ? badge(m.connected ? 'no answer' : 'not connected', 'bad') : m.height < top ? badge(`${top - m.height} behind`, 'warn') : badge('in sync', 'ok'),
        m.error !== undefined ? h('div', { class: 'muted' }, m.error) : null),
      h('td', { class: 'num' }, m.height === undefined ? '—' : h('a', { href: `#/block/${m.height}` }, String(m.height))),
      h('td', { class: 'num' }, m.view === undefined ? '—' : String(m.view)),
      h('td', {}, m.lastCommitTime === undefined ? '—' : `${fmtTime(m.lastCommitTime)} (${ago(m.lastCommitTime)})`))))
  const doctors = table('doctors-table', [{ text: '#', class: 'num' }, 'Name', 'Id (signer id of their records)', 'Status', { text: 'Since height', class: 'num' }],
    c.doctors.map((d) => h('tr', {}, h('td', { class: 'num' }, String(d.index)), h('td', {}, d.name), h('td', {}, mono(d.id)),
      h('td', {}, d.status ?? ''), h('td', { class: 'num' }, d.since === undefined ? '' : String(d.since)))))
  root.replaceChildren(
    h('h1', {}, 'Consortium'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Chain id'), h('dd', {}, c.chainId),
      h('dt', {}, 'Genesis hash'), h('dd', {}, mono(c.genesisHash)),
      h('dt', {}, 'Managers'), h('dd', {}, `${c.managers.length}, tolerating f = ${c.faultTolerance} faulty (a block needs ${2 * c.faultTolerance + 1} signatures)`),
      h('dt', {}, 'Block interval'), h('dd', {}, `at least ${c.blockInterval} ms between proposals`)),
    h('h2', {}, 'Managers ', h('span', { class: 'muted' }, '(each asked for its state by this node; refresh every 3 s)')),
    managers,
    h('h2', {}, `Registered doctors (${c.doctors.length})`),
    doctors)
}

async function peersPage (root) {
  const [info, peers] = await Promise.all([rpc('node_info'), rpc('net_peers')])
  root.replaceChildren(
    h('h1', {}, 'Peers'),
    h('dl', { class: 'kv', id: 'node-info' },
      h('dt', {}, 'This node'), h('dd', {}, `${info.role} node, pqmed ${info.version}, ${info.pqBackend}`),
      h('dt', {}, 'Peer id'), h('dd', {}, mono(info.peerId)),
      h('dt', {}, 'Listening on'), h('dd', {}, info.addrs.length === 0 ? '—' : h('div', {}, info.addrs.map((a) => h('div', {}, mono(a))))),
      h('dt', {}, 'Height'), h('dd', {}, String(info.height))),
    h('h2', {}, `Connected peers (${peers.length}) `, h('span', { class: 'muted' }, '(refresh every 5 s)')),
    table('peers-table', ['Peer id', 'Role', 'Remote addresses'],
      peers.map((p) => h('tr', {}, h('td', {}, mono(p.peerId)), h('td', {}, p.manager ? badge('manager', 'ok') : badge('other')), h('td', {}, p.addrs.map((a) => h('div', {}, mono(a))))))))
}

function bytesToBase64 (bytes) {
  let bin = ''
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000))
  return btoa(bin)
}

const toHex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('')

async function verifyFile (file, out) {
  out.replaceChildren(h('p', { class: 'muted' }, `Checking ${file.name}…`))
  if (file.size > MAX_FILE_BYTES) {
    out.replaceChildren(h('div', { class: 'result bad', id: 'verify-result', 'data-match': 'error' },
      h('h2', {}, 'File too large to check here'),
      h('p', {}, `${file.name} is ${fmtBytes(file.size)}; the node's JSON-RPC accepts files of at most ${fmtBytes(MAX_FILE_BYTES)} (its 16 MiB request limit, base64-encoded). ` +
        'No committed ciphertext is that large (a whole submission is at most 2 MiB), so this file is not a committed record field or attachment.')))
    return
  }
  const bytes = new Uint8Array(await file.arrayBuffer())
  const local = globalThis.crypto?.subtle !== undefined ? toHex(await crypto.subtle.digest('SHA-256', bytes)) : undefined
  let r
  try { r = await rpc('ehr_verifyFile', { file: bytesToBase64(bytes) }) } catch (e) {
    out.replaceChildren(h('div', { class: 'result bad', id: 'verify-result', 'data-match': 'error' }, h('h2', {}, 'The node could not check this file'), h('p', {}, e.message)))
    return
  }
  const hashLine = h('p', {}, 'SHA-256: ', mono(r.sha256), local === undefined ? '' : local === r.sha256 ? ' (the same hash computed in this browser)' : h('strong', {}, ` — differs from this browser's ${local}`))
  if (r.match) {
    out.replaceChildren(h('div', { class: 'result ok', id: 'verify-result', 'data-match': 'true', 'data-record': r.recordId },
      h('h2', {}, 'Committed'),
      h('p', {}, `${file.name} (${fmtBytes(file.size)}) is exactly the ${fieldName(r.field)} ciphertext of record `, mono(r.recordId),
        r.height === undefined ? '' : h('span', {}, ', committed in ', h('a', { href: `#/block/${r.height}` }, `block ${r.height}`)), '.'),
      hashLine))
  } else {
    out.replaceChildren(h('div', { class: 'result bad', id: 'verify-result', 'data-match': 'false' },
      h('h2', {}, 'Not found: not committed'),
      h('p', {}, `${file.name} (${fmtBytes(file.size)}) is not a committed record field or attachment: no committed record commits to its hash. ` +
        'A ciphertext changed by even one bit no longer matches.'),
      hashLine))
  }
}

async function verifyPage (root) {
  const out = h('div', { id: 'verify-out' })
  const input = h('input', { type: 'file', id: 'verify-input', onchange: () => { if (input.files[0] !== undefined) void verifyFile(input.files[0], out) } })
  const drop = h('div', { class: 'drop', id: 'drop',
    ondragover: (e) => { e.preventDefault(); drop.classList.add('over') },
    ondragleave: () => { drop.classList.remove('over') },
    ondrop: (e) => { e.preventDefault(); drop.classList.remove('over'); const f = e.dataTransfer.files[0]; if (f !== undefined) void verifyFile(f, out) }
  }, h('p', {}, 'Drop a file here, or pick one: '), input)
  root.replaceChildren(
    h('h1', {}, 'Verify a file'),
    h('p', {}, 'Is this exact file a committed ciphertext — an encrypted field or attachment of a record on the chain — and of which record? ' +
      'The file goes to this node, which hashes it (SHA-256) and looks the hash up among the committed records; the file is not stored. ' +
      `Files up to ${fmtBytes(MAX_FILE_BYTES)}.`),
    drop, out)
}

// ---------------------------------------------------------------------------------------------
// router

let timer
let generation = 0

async function nodeLine () {
  try {
    const info = await rpc('node_info')
    document.getElementById('node').textContent = `${info.role} node · ${info.chainId} · height ${info.height}`
  } catch {
    document.getElementById('node').textContent = 'node unreachable'
  }
}

function route () {
  const raw = location.hash.replace(/^#/, '') || '/'
  const [path, qs] = raw.split('?')
  const query = new URLSearchParams(qs ?? '')
  const parts = path.split('/').filter((x) => x !== '')
  const root = document.getElementById('view')
  const int = (v) => /^\d+$/.test(v ?? '') ? Number(v) : NaN
  let render; let every; let nav
  if (parts.length === 0) { render = overviewPage; every = 2000; nav = 'overview' } else if (parts[0] === 'blocks' && parts.length === 1) { render = (r) => blocksPage(r, query); every = 5000; nav = 'blocks' } else if (parts[0] === 'block' && parts.length === 2 && !Number.isNaN(int(parts[1]))) { render = (r) => blockPage(r, int(parts[1])); nav = 'blocks' } else if (parts[0] === 'block' && parts.length === 4 && parts[2] === 'tx' && !Number.isNaN(int(parts[1])) && !Number.isNaN(int(parts[3]))) { render = (r) => txPage(r, int(parts[1]), int(parts[3])); nav = 'blocks' } else if (parts[0] === 'consortium') { render = consortiumPage; every = 3000; nav = 'consortium' } else if (parts[0] === 'peers') { render = peersPage; every = 5000; nav = 'peers' } else if (parts[0] === 'verify') { render = verifyPage; nav = 'verify' } else { render = async (r) => { r.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview'))) } }
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.nav === nav)
  clearTimeout(timer)
  const mine = ++generation
  const run = async () => {
    // render into a detached node, then swap: a refresh never shows a half-built page
    const next = h('div', { id: 'page', 'data-route': raw })
    try {
      await render(next)
      if (mine !== generation) return
      root.replaceChildren(next)
      showError()
    } catch (e) {
      if (mine !== generation) return
      if (e instanceof RpcError && e.code !== 0) root.replaceChildren(h('div', { id: 'page', 'data-route': raw }, h('h1', {}, 'Error'), h('p', { class: 'result bad' }, `${e.message} (JSON-RPC error ${e.code})`)))
      else showError(`The node does not answer: ${e.message}`)
    }
    void nodeLine()
    if (every !== undefined && mine === generation) timer = setTimeout(() => { if (mine === generation) void run() }, every)
  }
  void run()
}

window.addEventListener('hashchange', route)
route()
