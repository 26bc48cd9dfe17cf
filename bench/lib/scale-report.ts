/**
 * `bench:scale` output: the console/Markdown table, the Markdown report (where time and memory
 * go, targets) and a log-log SVG (time and memory against records; drawn like bench/table4's).
 */
import type { MachineInfo } from './report.js'
import { machineLine } from './report.js'
import type { MemoryParts, ProcFigures, RowFigures } from './scale-measure.js'
import { markdownTable } from './table.js'

export interface ScaleRow {
  records: number
  blocks: number
  /** True when the filled store was reused from an earlier run (`--keep`); `fill` then describes that run. */
  reused: boolean
  fill: { seconds: number, cpuSeconds?: number, buildSeconds: number, commitSeconds: number, recordsPerSecond: number, submissionBytesPerRecord: number, filledAt: string, commit: string }
  figures: RowFigures
  measureSeconds: number
  /** Wall time of this row in this run (fill, unless reused, plus measurements), s. */
  rowSeconds: number
}

export interface ScaleReport {
  machine: MachineInfo
  command: string
  options: Record<string, unknown>
  complete: boolean
  runSeconds?: number
  emptyStart?: ProcFigures
  rows: ScaleRow[]
}

const f1 = (x: number): string => x.toFixed(1)
const f2 = (x: number): string => x.toFixed(2)
const pp = (s: { p50: number, p95: number }): string => `${f2(s.p50)} / ${f2(s.p95)}`
const recs = (n: number): string => n >= 1000 && Math.log10(n) % 1 === 0 ? `10^${Math.log10(n)}` : String(n)

export function rowTable (rows: ScaleRow[]): string {
  return markdownTable(
    ['records', 'blocks', 'fill s', 'manager RSS MiB', 'start→ready ms', 'first answer ms', 'disk KB/record', 'record p50/p95 ms (manager)', 'record p50/p95 ms (user node)', 'search p50/p95 ms (manager)', 'search p50/p95 ms (user node)', 'light sync s', 'row s'],
    rows.map((r) => [String(r.records), String(r.blocks), `${f1(r.fill.seconds)}${r.reused ? ' (reused)' : ''}`, f1(r.figures.manager.rssMiB), r.figures.manager.readyMs.toFixed(0), r.figures.manager.firstAnswerMs.toFixed(0),
      (r.figures.disk.bytesPerRecord / 1000).toFixed(2), pp(r.figures.record.manager), pp(r.figures.record.user), pp(r.figures.search.manager), pp(r.figures.search.user), f2(r.figures.lightSync.syncMs / 1000), f1(r.rowSeconds)]),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right']
  )
}

function targets (rep: ScaleReport): string[] {
  const rows = [...rep.rows].sort((a, b) => a.records - b.records)
  const big = rows[rows.length - 1]
  const base = rows.find((r) => r.records === 10_000) ?? rows[0]
  if (big === undefined || base === undefined) return []
  const at = `at ${big.records} records${big.records < 1_000_000 ? ' (the targets are for 10^6; that row was not run)' : ''}`
  const met = (ok: boolean): string => ok ? 'met' : 'missed'
  const g = big.figures
  const ratio = (a: number, b: number): number => b > 0 ? a / b : NaN
  const sr = ratio(g.search.user.p50, base.figures.search.user.p50)
  const srm = ratio(g.search.manager.p50, base.figures.search.manager.p50)
  const rr = ratio(g.record.user.p50, base.figures.record.user.p50)
  const rrm = ratio(g.record.manager.p50, base.figures.record.manager.p50)
  return [
    `Targets of the issue, ${at}:`,
    '',
    `- manager RSS ≤ 500 MB: ${f1(g.manager.rssMiB)} MiB after start, ${f1(g.manager.rssAfterQueriesMiB)} MiB after the queries (peak ${f1(g.manager.peakRssMiB)} MiB): ${met(g.manager.peakRssMiB * 1.048576 <= 500)}`,
    `- start-to-ready ≤ 3 s: ready line at ${f2(g.manager.readyMs / 1000)} s, first answer at ${f2(g.manager.firstAnswerMs / 1000)} s: ${met(g.manager.firstAnswerMs <= 3000)}`,
    `- disk ≤ 8 KB per record: ${f2(g.disk.bytesPerRecord / 1000)} KB: ${met(g.disk.bytesPerRecord <= 8000)}`,
    `- search p50 within 1.5× of the ${base.records}-record row: user node ${f2(sr)}×, manager /query/1 ${f2(srm)}×: ${met(sr <= 1.5 && srm <= 1.5)}`,
    `- record query p50 within 1.5× of the ${base.records}-record row: user node ${f2(rr)}×, manager /query/1 ${f2(rrm)}×: ${met(rr <= 1.5 && rrm <= 1.5)}`
  ]
}

export function markdownReport (rep: ScaleReport): string {
  const rows = [...rep.rows].sort((a, b) => a.records - b.records)
  const storeNames = [...new Set(rows.flatMap((r) => Object.keys(r.figures.disk.stores)))].sort()
  const disk = markdownTable(['records', 'total MiB', 'bytes/record', ...storeNames.map((s) => `${s} bytes/record`), 'submission bytes/record (tx + ciphertexts)'],
    rows.map((r) => [String(r.records), f1(r.figures.disk.totalBytes / 2 ** 20), r.figures.disk.bytesPerRecord.toFixed(0), ...storeNames.map((s) => ((r.figures.disk.stores[s] ?? 0) / r.records).toFixed(0)), r.fill.submissionBytesPerRecord.toFixed(0)]),
    ['right', 'right', 'right', ...storeNames.map(() => 'right' as const), 'right'])
  const withKeys = rows.filter((r) => r.figures.disk.chainKeys !== undefined)
  const big = withKeys[withKeys.length - 1]
  const keyTable = big === undefined
    ? '(no key breakdown in this run)'
    : markdownTable(['key prefix', 'entries', 'entries/record', 'key+value bytes/record', 'share'],
      Object.entries(big.figures.disk.chainKeys ?? {}).sort((a, b) => b[1].bytes - a[1].bytes).map(([p, e]) => {
        const total = Object.values(big.figures.disk.chainKeys ?? {}).reduce((a, x) => a + x.bytes, 0)
        return [p, String(e.entries), f2(e.entries / big.records), (e.bytes / big.records).toFixed(0), `${(100 * e.bytes / total).toFixed(1)} %`]
      }), ['left', 'right', 'right', 'right', 'right'])
  const fill = markdownTable(['records', 'fill s', 'records/s', 'CPU ms/record (all threads)', 'build s (workers, summed)', 'commit s (filler)', 'measure s', 'row s (this run)', 'filled at', 'commit'],
    rows.map((r) => [String(r.records), `${f1(r.fill.seconds)}${r.reused ? ' (reused)' : ''}`, r.fill.recordsPerSecond.toFixed(0), r.fill.cpuSeconds === undefined ? '' : f2(r.fill.cpuSeconds * 1000 / r.records), f1(r.fill.buildSeconds), f1(r.fill.commitSeconds), f1(r.measureSeconds), f1(r.rowSeconds), r.fill.filledAt.slice(0, 16), r.fill.commit.slice(0, 10)]),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left'])
  const e = rep.emptyStart
  const mem = markdownTable(['records', 'RSS after start MiB', 'minus empty-store start MiB', 'RSS after the light sync MiB', 'RSS after queries MiB', 'peak (VmHWM) MiB', 'light sync: headers', 'user node ready ms', 'sync ms', 'ms/header'],
    rows.map((r) => [String(r.records), f1(r.figures.manager.rssMiB), e === undefined ? '' : f1(r.figures.manager.rssMiB - e.rssMiB), f1(r.figures.manager.rssAfterSyncMiB), f1(r.figures.manager.rssAfterQueriesMiB), f1(r.figures.manager.peakRssMiB),
      String(r.figures.lightSync.headers), r.figures.lightSync.readyMs.toFixed(0), r.figures.lightSync.syncMs.toFixed(0), r.figures.lightSync.perHeaderMs.toFixed(3)]),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'])
  const parts = (m: MemoryParts | undefined): string[] => m === undefined ? ['', '', '', ''] : [f1(m.rssAnon), f1(m.rssFile), m.heapUsed === undefined ? '' : `${f1(m.heapUsed)} / ${f1(m.heapTotal ?? 0)}`, m.external === undefined ? '' : f1(m.external)]
  const split = markdownTable(['records', 'after', 'RSS MiB', 'anonymous MiB', 'mapped files MiB', 'V8 heap used / total MiB', 'external (buffers) MiB'],
    rows.flatMap((r) => (['start', 'sync', 'queries'] as const).map((k) => {
      const m = r.figures.manager.memory?.[k]
      return [String(r.records), k === 'start' ? 'start' : k === 'sync' ? 'the light sync' : 'the queries', m === undefined ? '' : f1(m.rss), ...parts(m)]
    })),
    ['right', 'left', 'right', 'right', 'right', 'right', 'right'])
  const opts = rep.options as { perBlock?: number, queries?: number, noteBytes?: number, doctors?: number, nodeEntry?: string, storeOpenFiles?: number | null }
  const entry = opts.nodeEntry === 'dist' ? 'The node processes ran the compiled build (dist/).' : 'The node processes ran the TypeScript sources through tsx: every start includes compiling them (`--build` runs the compiled dist/, as a production install does).'
  return [
    '# bench:scale — a manager\'s store at growing record counts',
    '',
    `Command: \`${rep.command}\`${rep.runSeconds !== undefined ? ` (${(rep.runSeconds / 60).toFixed(1)} min)` : ''}. Machine: ${machineLine(rep.machine)}, 1-minute load average ${rep.machine.loadAvg1} at the start (on 2 cores; the machine is shared, and its speed drifts from day to day). ${entry}${typeof opts.storeOpenFiles === 'number' ? ` The measured manager ran with \`--store-open-files ${opts.storeOpenFiles}\` (a table cache of ${opts.storeOpenFiles - 10} tables per store).` : ''}`,
    '',
    `Each row: a network of 4 managers and ${opts.doctors ?? '?'} doctors; records (synthetic, with a ${opts.noteBytes ?? '?'}-character clinical note, AES-256-GCM fields, SSE index updates, ML-DSA-65 signatures) built in worker threads and committed into manager 0's stores through \`validateSubmission\`, \`admit\`, \`buildProposal\`, \`validateProposal\` and \`commit\` with 3-of-4 commit certificates, ${opts.perBlock ?? '?'} records per block. Then a \`pqmed node --role manager\` process is started on the store, a fresh user node process syncs every header from it, and ${opts.queries ?? '?'} record queries and ${opts.queries ?? '?'} searches run on each path: straight to the manager's \`/query/1\` handler (libp2p, no verification) and through the user node's JSON-RPC (\`ehr_getRecord\`, \`sse_search\`; the user node verifies each answer against its headers). A search asks for a window of 100 consecutive updates of one doctor's tree for the row's most frequent keyword (100 results), at a random place in the chain's history.`,
    '',
    rowTable(rows),
    '',
    'p50 / p95 in ms; KB = 1000 bytes, MiB = 2^20 bytes. *start→ready*: spawn of the manager process → its `ready` line; *first answer*: → its first `ehr_getRecord` answer. *light sync*: the user node\'s `ready` → it reports the manager\'s height.',
    '',
    ...targets(rep),
    '',
    '## Where memory goes',
    '',
    e === undefined ? '' : `A manager of the same network on an empty store: ready in ${e.readyMs.toFixed(0)} ms, first answer at ${e.firstAnswerMs.toFixed(0)} ms, ${f1(e.rssMiB)} MiB RSS (the fixed cost of a manager process: Node${opts.nodeEntry === 'dist' ? '' : ', compiling the sources with tsx'}, libp2p, liboqs, the stores' open).`,
    '',
    mem,
    '',
    'The manager\'s RSS split (/proc/PID/status RssAnon and RssFile; V8 heap and external memory from its `/metrics`): *mapped files* are pages of LevelDB table files, which LevelDB reads through mmap while a table is in its table cache (64 tables per store by default, `KV_MAX_OPEN_FILES` in src/node/kv.ts); they are page cache the kernel can drop.',
    '',
    split,
    '',
    '## Where disk goes',
    '',
    disk,
    '',
    `The chain store's content by key prefix${big === undefined ? '' : ` at ${big.records} records (key + value bytes before LevelDB's compression; ${big.figures.disk.chainKeysSeconds?.toFixed(1) ?? '?'} s to count)`}:`,
    '',
    keyTable,
    '',
    '## Where time goes (filling)',
    '',
    fill,
    ''
  ].join('\n')
}

interface Series { name: string, color: string, dash?: string, pts: Array<[number, number]> }

function panel (x0: number, width: number, height: number, title: string, unit: (v: number) => string, series: Series[], xs: number[]): string[] {
  const L = 60; const R = 30; const T = 30; const B = 170
  const vals = series.flatMap((s) => s.pts.map((p) => p[1])).filter((v) => v > 0)
  if (vals.length === 0 || xs.length === 0) return []
  const xmin = Math.log10(Math.min(...xs)); const xmax = Math.log10(Math.max(...xs))
  const ymin = Math.floor(Math.log10(Math.min(...vals))); const ymax = Math.max(ymin + 1, Math.ceil(Math.log10(Math.max(...vals))))
  const px = (n: number): number => x0 + L + (xmax === xmin ? 0.5 : (Math.log10(n) - xmin) / (xmax - xmin)) * (width - L - R)
  const py = (v: number): number => T + (1 - (Math.log10(v) - ymin) / (ymax - ymin)) * (height - T - B)
  const out: string[] = [`<text x="${x0 + L}" y="18" font-size="14">${title}</text>`]
  for (let e = ymin; e <= ymax; e++) {
    const y = py(10 ** e)
    out.push(`<line x1="${x0 + L}" y1="${y}" x2="${x0 + width - R}" y2="${y}" stroke="#ddd"/><text x="${x0 + L - 6}" y="${y + 4}" text-anchor="end">${unit(10 ** e)}</text>`)
  }
  for (const n of xs) out.push(`<line x1="${px(n)}" y1="${T}" x2="${px(n)}" y2="${height - B}" stroke="#eee"/><text x="${px(n)}" y="${height - B + 16}" text-anchor="middle">${recs(n)}</text>`)
  out.push(`<text x="${x0 + (L + width - R) / 2}" y="${height - B + 34}" text-anchor="middle">records in the manager's store</text>`)
  series.forEach((s, i) => {
    const pts = s.pts.filter((p) => p[1] > 0)
    const d = pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')
    const dash = s.dash !== undefined ? ` stroke-dasharray="${s.dash}"` : ''
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`)
    for (const [x, y] of pts) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`)
    const ly = height - B + 56 + i * 18
    out.push(`<line x1="${x0 + L}" y1="${ly}" x2="${x0 + L + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/><text x="${x0 + L + 34}" y="${ly + 4}">${s.name}</text>`)
  })
  return out
}

export function svgChart (rows: ScaleRow[]): string {
  const rs = [...rows].sort((a, b) => a.records - b.records)
  const xs = rs.map((r) => r.records)
  const W = 960; const H = 560; const half = W / 2
  const ms = (v: number): string => v >= 1000 ? `${v / 1000} s` : `${v} ms`
  const time: Series[] = [
    { name: 'manager start → first answer', color: '#2ca02c', pts: rs.map((r) => [r.records, r.figures.manager.firstAnswerMs]) },
    { name: 'light sync of every header', color: '#9467bd', pts: rs.map((r) => [r.records, r.figures.lightSync.syncMs]) },
    { name: 'search p50 (user node)', color: '#d62728', pts: rs.map((r) => [r.records, r.figures.search.user.p50]) },
    { name: 'search p50 (manager /query/1)', color: '#d62728', dash: '6,4', pts: rs.map((r) => [r.records, r.figures.search.manager.p50]) },
    { name: 'record p50 (user node)', color: '#1f77b4', pts: rs.map((r) => [r.records, r.figures.record.user.p50]) },
    { name: 'record p50 (manager /query/1)', color: '#1f77b4', dash: '6,4', pts: rs.map((r) => [r.records, r.figures.record.manager.p50]) }
  ]
  const mem: Series[] = [
    { name: 'manager RSS after start (MiB)', color: '#ff7f0e', pts: rs.map((r) => [r.records, r.figures.manager.rssMiB]) },
    { name: 'manager peak RSS (MiB)', color: '#ff7f0e', dash: '6,4', pts: rs.map((r) => [r.records, r.figures.manager.peakRssMiB]) },
    { name: 'data dir (MiB)', color: '#8c564b', pts: rs.map((r) => [r.records, r.figures.disk.totalBytes / 2 ** 20]) },
    { name: 'disk per record (KB)', color: '#7f7f7f', dash: '2,3', pts: rs.map((r) => [r.records, r.figures.disk.bytesPerRecord / 1000]) }
  ]
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...panel(0, half, H, 'bench:scale: time vs. records (log-log)', ms, time, xs),
    ...panel(half, half, H, 'memory and disk vs. records (log-log)', (v) => String(v), mem, xs),
    '</svg>'
  ].join('\n') + '\n'
}
