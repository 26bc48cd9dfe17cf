/**
 * Table 4 output: the markdown report and a hand-written SVG chart (log-scale y) from the rows
 * measured by `bench/table4.ts`.
 */
import type { ProfileBreakdown } from '../lib/inproc-profile.js'
import { formatNumber, machineLine, markdownTable, type MachineInfo, type Summary } from '../lib/index.js'

/** Paper 1, Table 4: average query times in seconds, by node count. */
export const PAPER: Record<number, { records: number, recordS: number, symptomS: number }> = {
  10: { records: 20, recordS: 1.5, symptomS: 2.8 },
  100: { records: 250, recordS: 2.2, symptomS: 4.3 },
  200: { records: 400, recordS: 2.8, symptomS: 5.7 },
  500: { records: 900, recordS: 3.5, symptomS: 6.3 },
  1000: { records: 1000, recordS: 4.2, symptomS: 7.2 }
}

export interface PhaseSummary { record: Summary, symptom: Summary }

export interface RowResult {
  nodes: number
  managers: number
  userNodes: number
  workers: number
  records: number
  queries: { record: number, symptom: number }
  quiet: PhaseSummary
  loaded: PhaseSummary & { loadRecords: number, pairs: number, budgetSeconds: number, budgetHit: boolean, committed: number, workerCpuSeconds: number, queriesDuringLoad: number, submitSeconds: number, failedQueries: number, failedSubmissions: number, errors: string[] }
  managerDirectRecord: Summary
  /** Event-loop utilization of each worker process during the quiet queries (0..1). */
  quietWorkerBusy?: number[]
  /** The control: the same queries through one user node running in a process of its own. */
  ownProcessUser?: PhaseSummary & { breakdownMs: Record<string, number> }
  /** With `--profile-workers`: each worker's CPU during the quiet queries by component. */
  quietWorkerProfiles?: ProfileBreakdown[]
  breakdownMs: Record<string, number>
  symptom: { meanMatches: number, meanFetched: number, fetchLimit: number }
  setupSeconds: { managers: number, userNodes: number, total: number }
  submitSeconds: number
  syncSeconds: number
  headerPropagationMs: { heights: number, allNodesP50: number, allNodesP99: number, perNodeP50: number, perNodeP99: number, method: string }
  memory: { workerRssMiB: number, perUserNodeMiB: number, managerRssMiB: number[] }
  cpuSeconds: { setup: number, submitAndSync: number, queries: number, loaded: number, total: number }
  rowSeconds: number
  /** JSON-RPC calls retried after a reset keep-alive socket (see `call` in bench/table4.ts). */
  transportRetries: number
}

/** Targets at 1,000 nodes (p50): record and symptom query; growth of p50 from the first row at most 2×. */
export const RECORD_TARGET_MS = 10
export const SYMPTOM_TARGET_MS = 30

/** Milliseconds for the reports: 2 decimals below 10, 1 below 100, then whole numbers. */
export const ms = (x: number): string => x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : formatNumber(Math.round(x))

export function markdownReport (rows: RowResult[], machine: MachineInfo, command: string, runSeconds: number, notes: string[]): string {
  const head = ['nodes', 'records', 'record query p50 / mean (paper)', 'speed-up (mean)', 'symptom query p50 / mean (paper)', 'speed-up (mean)']
  const body = rows.map((r) => {
    const p = PAPER[r.nodes]
    return [
      String(r.nodes), String(r.records),
      `${ms(r.quiet.record.p50)} / ${ms(r.quiet.record.mean)} ms (${p !== undefined ? `${p.recordS} s` : '—'})`,
      p !== undefined ? `${formatNumber(Math.round(p.recordS * 1000 / r.quiet.record.mean))}×` : '—',
      `${ms(r.quiet.symptom.p50)} / ${ms(r.quiet.symptom.mean)} ms (${p !== undefined ? `${p.symptomS} s` : '—'})`,
      p !== undefined ? `${formatNumber(Math.round(p.symptomS * 1000 / r.quiet.symptom.mean))}×` : '—'
    ]
  })
  const detail = markdownTable(
    ['nodes', 'own-process user node: record / symptom p50', 'rec p95 / max ms', 'sym p95 / max ms', 'loaded rec p50 / p95', 'loaded sym p50 / p95', 'loaded pairs / records committed / worker CPU', 'loaded failed (queries / submissions)', 'header to all users p50 / p99 ms', 'setup s', 'sync s', 'MiB / user node', 'CPU s (row)'],
    rows.map((r) => [
      String(r.nodes),
      r.ownProcessUser === undefined ? '—' : `${ms(r.ownProcessUser.record.p50)} / ${ms(r.ownProcessUser.symptom.p50)} ms`,
      `${ms(r.quiet.record.p95)} / ${ms(r.quiet.record.max)}`,
      `${ms(r.quiet.symptom.p95)} / ${ms(r.quiet.symptom.max)}`,
      `${ms(r.loaded.record.p50)} / ${ms(r.loaded.record.p95)}`,
      `${ms(r.loaded.symptom.p50)} / ${ms(r.loaded.symptom.p95)}`,
      `${r.loaded.pairs}${r.loaded.budgetHit ? ` (${r.loaded.budgetSeconds} s budget)` : ''} / ${r.loaded.committed} / ${Math.round(100 * r.loaded.workerCpuSeconds / (r.workers * r.loaded.submitSeconds))} %`,
      `${r.loaded.failedQueries} / ${r.loaded.failedSubmissions}`,
      `${ms(r.headerPropagationMs.allNodesP50)} / ${ms(r.headerPropagationMs.allNodesP99)}`,
      r.setupSeconds.total.toFixed(1),
      r.syncSeconds.toFixed(2),
      r.memory.perUserNodeMiB.toFixed(2),
      r.cpuSeconds.total.toFixed(0)
    ]), ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'])
  const breakdown = markdownTable(['nodes', ...Object.keys(rows[0]?.breakdownMs ?? {}), 'manager-direct record p50', 'symptom matches / fetched', 'worker event loops busy'],
    rows.map((r) => [String(r.nodes), ...Object.values(r.breakdownMs).map(ms), ms(r.managerDirectRecord.p50), `${r.symptom.meanMatches.toFixed(1)} / ${r.symptom.meanFetched.toFixed(1)}`, (r.quietWorkerBusy ?? []).map((x) => `${Math.round(100 * x)} %`).join(', ')]))
  const last = rows[rows.length - 1]
  const first = rows[0]
  const targets: string[] = []
  if (last !== undefined && first !== undefined) {
    const g = (a: number, b: number): string => (b / a).toFixed(2)
    const target = (x: number, t: number): string => x <= t ? 'met' : `missed by ${ms(x - t)} ms`
    targets.push(`- At ${last.nodes} nodes: record query p50 ${ms(last.quiet.record.p50)} ms (target ≤ ${RECORD_TARGET_MS} ms: ${target(last.quiet.record.p50, RECORD_TARGET_MS)}), symptom query p50 ${ms(last.quiet.symptom.p50)} ms (target ≤ ${SYMPTOM_TARGET_MS} ms: ${target(last.quiet.symptom.p50, SYMPTOM_TARGET_MS)}).`)
    targets.push(`- Growth of p50 from ${first.nodes} to ${last.nodes} nodes: record ${g(first.quiet.record.p50, last.quiet.record.p50)}×, symptom ${g(first.quiet.symptom.p50, last.quiet.symptom.p50)}× (target ≤ 2×).`)
    const fo = first.ownProcessUser
    const lo = last.ownProcessUser
    if (fo !== undefined && lo !== undefined) {
      targets.push(`- Through the user node in its own process (the control): at ${last.nodes} nodes record p50 ${ms(lo.record.p50)} ms (${target(lo.record.p50, RECORD_TARGET_MS)}), symptom p50 ${ms(lo.symptom.p50)} ms (${target(lo.symptom.p50, SYMPTOM_TARGET_MS)}); growth from ${first.nodes} nodes: record ${g(fo.record.p50, lo.record.p50)}×, symptom ${g(fo.symptom.p50, lo.symptom.p50)}×.`)
    }
  }
  return [
    '# Table 4 on real pqmed nodes: query time against node count',
    '',
    `Machine: ${machineLine(machine)} (1-min load average at start ${machine.loadAvg1}; the machine is shared with other work).`,
    '',
    `Command: \`${command}\` — run time ${(runSeconds / 60).toFixed(1)} min.`,
    '',
    'Paper 1 (Table 4) reports average query times; ours are p50 / mean at the client over JSON-RPC, on a quiet network (no submissions in flight).',
    '',
    markdownTable(head, body, ['right', 'right', 'right', 'right', 'right', 'right']),
    '',
    '## What a query includes',
    '',
    '- **record query**: the client picks a random committed record and a random user node, calls `ehr_getRecord` on the user node; the user node fetches the stored tx, its Merkle audit path and the three field ciphertexts from a manager (a libp2p request/response), checks inclusion against its own certified header, the ciphertext hashes and the doctor\'s ML-DSA-65 signature, and answers; the client derives the patient\'s field keys (`deriveFieldKeys(patientSecret, recordId)`) and decrypts all three fields (AES-256-GCM).',
    `- **symptom query**: the client picks a keyword of a random committed record, plans a one-keyword search over the doctor's tree (\`sse.planSearch\`, its own counters), calls \`sse_search\` on a random user node, which runs it on a manager and verifies every entry's index inclusion proof against its headers; the client runs \`verifySearchResults\` (labels, value decryption, omissions, and each position inside its header's index range from the answer — the Merkle proof check is the user node's, its proofs are not passed over JSON-RPC), then fetches the symptom and prescription ciphertexts of the newest ≤ ${first?.symptom.fetchLimit ?? 10} matching records with one \`ehr_getRecords\` call (\`fields: [1, 2]\`, same user node, which asks one manager for all of them in one \`/query/1 records\` request and verifies each record as above) and decrypts those two fields. \`sse_search\` answers carry the index range of each height's certified header, so the client checks every position without asking for headers. Mean matches and fetched records per query are in the breakdown below.`,
    '- **loaded**: query pairs (a record query, then a symptom query; half the quiet count) while a second doctor submits more records through random user nodes (4 at a time, `wait: true`). Submissions run only while the pairs do, and no pair starts after the phase\'s time budget (`--loaded-seconds`, 120 s by default): on a saturated row fewer pairs run, as the table says. `worker CPU` is the CPU time of the two worker processes holding the user nodes, as a share of their 2 × the phase\'s wall time: near 100 %, the user nodes of this simulator are saturated (every one of them verifies every new header on the same 2 cores).',
    '- **own-process user node** (the control): one of the row\'s user nodes runs as a `pqmed node --role user` process of its own, as each hospital runs one, instead of sharing a worker process with hundreds of others; up to 100 record and 100 symptom queries (alternating) go through it after the quiet phase. The other user nodes serve every other query: on this 2-core machine their worker processes\' event loops are busy with the rest of their nodes (timers, gossip, sync), and a query waits behind that work.',
    '- **header to all users**: for each committed height, the commit time is the earliest of (a 10 ms poll of manager 0\'s `chain_status`, the return of a `wait: true` submission that reported that height); each worker reads every user node\'s header height every 5 ms and timestamps the first time it reaches each height. Propagation of a height = last user node\'s arrival − commit time (p50/p99 over heights); per node = every (node, height) pair. Wall clocks of one machine.',
    '',
    '## Supporting figures',
    '',
    detail,
    '',
    '## Where the time goes (mean ms per step, quiet phase)',
    '',
    breakdown,
    '',
    '`manager-direct record p50`: `ehr_getRecord` sent straight to a manager\'s RPC (no user-node hop or light-client verification), as a control. `worker event loops busy`: the share of the quiet phase each worker process\'s event loop was running (its user nodes\' own timers, gossip and sync, and the queries): a query waits behind the rest of its worker\'s work.',
    '',
    '## Targets',
    '',
    ...targets,
    '',
    ...notes,
    ''
  ].join('\n')
}

export function svgChart (rows: RowResult[]): string {
  const W = 720; const H = 440; const L = 70; const R = 170; const T = 30; const B = 50
  const xs = rows.map((r) => r.nodes)
  const paperXs = Object.keys(PAPER).map(Number)
  const allX = [...new Set([...xs, ...paperXs])].sort((a, b) => a - b)
  const xmin = Math.log10(Math.min(...allX)); const xmax = Math.log10(Math.max(...allX))
  const vals = [...rows.flatMap((r) => [r.quiet.record.mean, r.quiet.symptom.mean]), ...paperXs.flatMap((n) => [PAPER[n]!.recordS * 1000, PAPER[n]!.symptomS * 1000])]
  const ymin = Math.floor(Math.log10(Math.min(...vals))); const ymax = Math.ceil(Math.log10(Math.max(...vals)))
  const px = (n: number): number => L + (xmax === xmin ? 0.5 : (Math.log10(n) - xmin) / (xmax - xmin)) * (W - L - R)
  const py = (v: number): number => T + (1 - (Math.log10(v) - ymin) / (ymax - ymin)) * (H - T - B)
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  parts.push(`<text x="${L}" y="18" font-size="14">Table 4: mean query time vs. nodes (log scale)</text>`)
  for (let e = ymin; e <= ymax; e++) {
    const y = py(10 ** e)
    const label = 10 ** e >= 1000 ? `${10 ** (e - 3)} s` : `${10 ** e} ms`
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/><text x="${L - 6}" y="${y + 4}" text-anchor="end">${label}</text>`)
  }
  for (const n of allX) parts.push(`<line x1="${px(n)}" y1="${T}" x2="${px(n)}" y2="${H - B}" stroke="#eee"/><text x="${px(n)}" y="${H - B + 16}" text-anchor="middle">${n}</text>`)
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">blockchain nodes</text>`)
  const series: Array<{ name: string, color: string, dash: string, pts: Array<[number, number]> }> = [
    { name: 'paper: record', color: '#1f77b4', dash: '6,4', pts: paperXs.map((n) => [n, PAPER[n]!.recordS * 1000]) },
    { name: 'paper: symptom', color: '#d62728', dash: '6,4', pts: paperXs.map((n) => [n, PAPER[n]!.symptomS * 1000]) },
    { name: 'pqmed: record', color: '#1f77b4', dash: '', pts: rows.map((r) => [r.nodes, r.quiet.record.mean]) },
    { name: 'pqmed: symptom', color: '#d62728', dash: '', pts: rows.map((r) => [r.nodes, r.quiet.symptom.mean]) }
  ]
  series.forEach((s, i) => {
    const d = s.pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash !== '' ? ` stroke-dasharray="${s.dash}"` : ''}/>`)
    for (const [x, y] of s.pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`)
    const ly = T + 20 + i * 20
    parts.push(`<line x1="${W - R + 12}" y1="${ly}" x2="${W - R + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash !== '' ? ` stroke-dasharray="${s.dash}"` : ''}/><text x="${W - R + 46}" y="${ly + 4}">${s.name}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
