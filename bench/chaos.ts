/**
 * `npm run test:chaos -- [options]`: a network of real node processes under load and a seeded fault
 * schedule; at the end every fault is healed and the run checks that every acknowledged record
 * reads back and verifies from a user node, and that all managers hold one chain.
 *
 * Options:
 *   --seed N            schedule and record generator seed (default 1)
 *   --duration S        seconds of load and faults (default 180)
 *   --managers N        managers (default 4); --users N  user nodes (default 2, at least 1)
 *   --rate R            records submitted per second (default 10), through user nodes and managers
 *   --faults LIST       comma-separated: kill, stop, partition (= isolate + split), isolate, split, none
 *                       (default kill,stop,partition)
 *   --interval S        a fault every S seconds (default 15), each lasting --fault-time S (default 6); a fault
 *                       delayed by a slow restart starts at least (interval - fault-time) s after the previous heal,
 *                       and one that would end within 5 s of the end of the run is not injected (counted)
 *   --out PATH          JSON result (default bench/results/chaos.json)
 *   --data-dir DIR      keep the network's data and logs (DIR/logs/<node>.log) there (default: a temporary dir, removed)
 *
 * Faults: kill = SIGKILL a manager (the current leader half of the time), restarted from its data
 * dir when healed; stop = SIGSTOP (a frozen process), SIGCONT when healed; isolate = one manager cut
 * off from every other node; split = the managers cut into two halves (user nodes reach both).
 * Partitions need a network namespace per node (root, `ip netns`): without them they are skipped
 * and the reason printed. One fault at a time, so at most one manager is faulty (≤ f when n ≥ 4);
 * a split deliberately exceeds f (no side keeps a quorum) and the output says so.
 *
 * Measures (never asserts a time): requests sent, processes killed/stopped, partitions, records
 * acknowledged, read back and verified, lost (must be 0), forks (must be 0), the longest commit
 * stall (managers' heights sampled every 100 ms), and the time from each heal/restart to the next
 * commit. Exits 1 if a record was lost or failed verification, or the managers forked.
 */
import { seededRng } from '../src/client/synthetic.js'
import { checkForks, converge, CommitWatch, LoadGenerator, readBack, startChaosNet, type ChaosNet, type ForkCheck, type ReadBack } from '../src/cli/chaos.js'
import { netnsSupport } from '../src/cli/sim-local.js'
import { resolve } from 'node:path'
import { checkArgs, formatNumber, machineInfo, machineLine, markdownTable, optionValue, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, [], ['seed', 'duration', 'managers', 'users', 'rate', 'faults', 'interval', 'fault-time', 'out', 'data-dir'])
const num = (name: string, def: number, min: number): number => {
  const v = optionValue(argv, name)
  const n = v === undefined ? def : Number(v)
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got '${v ?? ''}'`)
  return n
}
const seed = num('seed', 1, 0)
const durationS = num('duration', 180, 1)
const managers = num('managers', 4, 1)
const users = num('users', 2, 1)
const rate = num('rate', 10, 0.1)
const intervalS = num('interval', 15, 1)
const faultTimeS = num('fault-time', 6, 0.1)
const out = optionValue(argv, 'out') ?? 'bench/results/chaos.json'
const dataDir = optionValue(argv, 'data-dir')

type Kind = 'kill' | 'stop' | 'isolate' | 'split'
const asked = (optionValue(argv, 'faults') ?? 'kill,stop,partition').split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'none')
let kinds: Kind[] = []
for (const a of asked) {
  if (a === 'partition') kinds.push('isolate', 'split')
  else if (a === 'kill' || a === 'stop' || a === 'isolate' || a === 'split') kinds.push(a)
  else throw new Error(`--faults: unknown fault '${a}' (kill, stop, partition, isolate, split, none)`)
}
kinds = [...new Set(kinds)]
const f = Math.floor((managers - 1) / 3)
const notes: string[] = []
let partitionsSkipped: string | undefined
const wantsPartitions = kinds.includes('isolate') || kinds.includes('split')
if (wantsPartitions) {
  const s = await netnsSupport()
  if (!s.ok) {
    partitionsSkipped = `partitions skipped: network namespaces are not possible here (${s.reason ?? ''})`
    kinds = kinds.filter((k) => k !== 'isolate' && k !== 'split')
    notes.push(partitionsSkipped)
  }
}
const netns = wantsPartitions && partitionsSkipped === undefined
if (f === 0 && kinds.length > 0) notes.push(`with ${managers} managers f = 0: every fault deliberately exceeds f (liveness is lost while it lasts; safety must hold)`)
if (kinds.includes('split')) notes.push(`split deliberately exceeds f = ${f}: the managers are cut into halves of ${Math.floor(managers / 2)} and ${Math.ceil(managers / 2)}, no side keeps a quorum of ${managers - f}, so commits stop until the heal (safety must hold)`)

// the schedule: kinds in a seeded shuffled round robin; targets drawn with the same generator
const rng = seededRng(seed)
const pick = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)] as T
const shuffle = <T>(xs: T[]): T[] => { const a = [...xs]; for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [a[i], a[j]] = [a[j] as T, a[i] as T] } return a }
const names = Array.from({ length: managers }, (_, i) => `manager-${i}`)
const WARMUP_S = 5
interface Planned { atS: number, kind: Kind, target: string }
const plan: Planned[] = []
let bag: Kind[] = []
for (let at = WARMUP_S; kinds.length > 0 && at + faultTimeS + 5 <= durationS; at += intervalS) {
  if (bag.length === 0) bag = shuffle(kinds)
  const kind = bag.shift() as Kind
  const target = kind === 'split'
    ? (() => { const s = shuffle(names); const h = Math.floor(managers / 2); return `${s.slice(0, h).join(',')}|${s.slice(h).join(',')}` })()
    : (kind === 'kill' || kind === 'stop') && rng() < 0.5 ? 'leader' : pick(names)
  plan.push({ atS: at, kind, target })
}

const command = `npm run test:chaos -- ${argv.join(' ')}`.trim()
const machine = machineInfo()
const log = (l: string): void => { process.stderr.write(`[${((Date.now() - tStart) / 1000).toFixed(1).padStart(6)} s] ${l}\n`) }
const tStart = Date.now()
console.error(`chaos: ${managers} managers (f = ${f}), ${users} user nodes, ${rate} records/s for ${durationS} s, seed ${seed}, faults: ${kinds.join(', ') || 'none'} every ${intervalS} s for ${faultTimeS} s${netns ? ' (a network namespace per node)' : ' (loopback)'}`)
for (const n of notes) console.error(`note: ${n}`)
console.error(`schedule: ${plan.map((p) => `${p.atS}s ${p.kind} ${p.target}`).join('; ') || '(no faults)'}`)

/** Acknowledgements per second of the run (index = second). */
function ackTimeline (load: LoadGenerator): number[] {
  const out: number[] = []
  for (const a of load.acked.values()) { const s = Math.floor(a.at / 1000); while (out.length <= s) out.push(0); out[s] = (out[s] ?? 0) + 1 }
  return out
}

let cn: ChaosNet | undefined
let cleaning: Promise<void> | undefined
const cleanup = async (): Promise<void> => { cleaning ??= (async () => { await cn?.stop() })(); await cleaning }
let signals = 0
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(130)
    log(`${sig}: stopping every node and removing the namespaces...`)
    cleanup().finally(() => process.exit(130))
  })
}

interface Event { kind: Kind, target: string, atS: number, healedAtS?: number, healMs?: number, error?: string }
const events: Event[] = []
let killedCount = 0
let stoppedCount = 0
let partitionCount = 0
let notInjected = 0
let exitCode: number
try {
  cn = await startChaosNet({ managers, users, netns, chainId: 'pqmed-chaos', dataDir: dataDir === undefined ? undefined : resolve(dataDir), log: (l) => { log(l) } })
  const net = cn
  log(`network up in ${(net.net.startMs / 1000).toFixed(1)} s (${net.net.dir})`)
  const watch = new CommitWatch(net, 100)
  const load = await LoadGenerator.create(net, { targets: [...net.users, ...net.managers], rate, maxInFlight: Math.max(16, Math.ceil(rate * 4)), seed, requestTimeoutMs: 20_000, onAck: (a) => { if (a.height !== undefined) watch.observe(a.height) } })
  const t0 = Date.now()
  const elapsed = (): number => (Date.now() - t0) / 1000
  const waitUntil = async (s: number): Promise<void> => { const ms = t0 + s * 1000 - Date.now(); if (ms > 0) await new Promise((r) => setTimeout(r, ms)) }
  watch.start()
  load.start()
  // a fault lasts faultTimeS from its injection; a fault delayed by a slow restart still leaves the
  // network (intervalS - faultTimeS) to recover first, and is dropped if it would end after the run
  const gapS = Math.max(1, intervalS - faultTimeS)
  let lastHealS = -Infinity
  for (const p of plan) {
    const startS = Math.max(p.atS, lastHealS + gapS)
    if (startS + faultTimeS + 5 > durationS) { notInjected++; continue }
    await waitUntil(startS)
    const target = p.target === 'leader' ? await net.leader() ?? pick(names) : p.target
    const ev: Event = { kind: p.kind, target: p.target === 'leader' ? `${target} (leader)` : target, atS: Math.round(elapsed() * 10) / 10 }
    events.push(ev)
    log(`fault: ${p.kind} ${ev.target} (height ${watch.maxHeight}, acknowledged ${load.acked.size})`)
    try {
      if (p.kind === 'kill') { await net.kill(target); killedCount++ }
      else if (p.kind === 'stop') { net.freeze(target); stoppedCount++ }
      else if (p.kind === 'isolate') { await net.partition([[target], [...net.managers.filter((m) => m !== target), ...net.users]]); partitionCount++ }
      else { await net.partition(target.split('|').map((g) => g.split(','))); partitionCount++ }
      await waitUntil(elapsed() + faultTimeS)
      const h0 = Date.now()
      let label: string
      let node: string | undefined = target
      if (p.kind === 'kill') { await net.restart(target); label = `restart ${target}` }
      else if (p.kind === 'stop') { net.thaw(target); label = `SIGCONT ${target}` }
      else { await net.heal(); label = `heal ${p.kind} ${target}`; if (p.kind === 'split') node = undefined }
      ev.healMs = Date.now() - h0
      ev.healedAtS = Math.round(elapsed() * 10) / 10
      lastHealS = elapsed()
      watch.mark(label, node)
      log(`healed: ${label} in ${ev.healMs} ms`)
    } catch (err) {
      ev.error = (err as Error).message
      log(`fault ${p.kind} ${target} failed: ${ev.error}`)
      await net.healAll()
      lastHealS = elapsed()
    }
  }
  if (notInjected > 0) notes.push(`the schedule ran late (slow restarts): ${notInjected} of ${plan.length} planned faults were not injected`)
  // a fault schedule delayed by slow restarts still gets TAIL_S of load after its last heal
  const TAIL_S = 10
  await waitUntil(Math.max(durationS, elapsed() + (plan.length > 0 ? TAIL_S : 0)))
  await net.healAll()
  log(`load stops: ${load.submitted} records submitted, ${load.acked.size} acknowledged, ${load.inFlight} in flight (draining up to 60 s)`)
  await watch.stop()
  await load.stop(60_000)
  log(`drained: ${load.acked.size} acknowledged, ${load.abandoned.length} abandoned, ${load.refused.length} refused`)

  let convergeError: string | undefined
  let height: number
  try {
    height = (await converge(net, [...net.managers, ...net.users], 120_000)).height
  } catch (err) {
    convergeError = (err as Error).message
    const hs = await Promise.all(net.managers.map(async (m) => (await net.status(m).catch(() => ({ height: 0 }))).height))
    height = Math.min(...hs)
  }
  log(convergeError === undefined ? `converged at height ${height}` : `NOT converged: ${convergeError}`)
  const forks: ForkCheck = await checkForks(net, net.managers, height)
  log(`fork check: ${forks.compared} header hashes at heights 1..${height}, ${forks.forks.length} forks`)
  const ids = [...load.acked.keys()]
  const rb: ReadBack = await readBack(net, ids, net.users)
  log(`read back: ${rb.verified} of ${ids.length} verified, ${rb.lost.length} lost, ${rb.invalid.length} invalid`)

  const heals = watch.marks.map((m) => ({ label: m.label, atMs: m.at, heightAtHeal: m.height, nextCommitMs: m.nextCommitMs ?? null, catchUpMs: m.catchUpMs ?? null }))
  const nextCommits = heals.map((h) => h.nextCommitMs).filter((x): x is number => x !== null)
  const lost = rb.lost.length
  const ok = lost === 0 && rb.invalid.length === 0 && forks.forks.length === 0 && convergeError === undefined
  const result = {
    machine,
    command,
    seed,
    durationS,
    managers,
    users,
    f,
    ratePerS: rate,
    consensus: net.net.genesis.params,
    netns,
    faults: kinds,
    intervalS,
    faultTimeS,
    notes,
    planned: plan.length,
    notInjected,
    schedule: events,
    requestsSent: load.sent,
    recordsSubmitted: load.submitted,
    processesKilled: killedCount,
    processesStopped: stoppedCount,
    partitions: partitionCount,
    recordsAcknowledged: ids.length,
    recordsReadBack: rb.verified + rb.invalid.length,
    recordsVerified: rb.verified,
    recordsLost: lost,
    lost: rb.lost,
    invalid: rb.invalid,
    notAcknowledged: { abandoned: load.abandoned.length, refused: load.refused },
    failedAttempts: load.failures,
    finalHeight: height,
    convergeError: convergeError ?? null,
    headerHashesCompared: forks.compared,
    forks: forks.forks.length,
    forkDetails: forks.forks,
    longestCommitStallMs: watch.longestStall.ms,
    longestCommitStallAtMs: { from: watch.longestStall.fromMs, to: watch.longestStall.toMs },
    heightSamples: watch.samples,
    heightTimeline: watch.timeline,
    acksPerSecond: ackTimeline(load),
    heals,
    maxHealToNextCommitMs: nextCommits.length > 0 ? Math.max(...nextCommits) : null,
    ok
  }
  const file = writeJson(out, result)
  const s = (ms: number | null): string => ms === null ? 'n/a' : `${formatNumber(ms / 1000)} s`
  console.log(`\n## Chaos run (${machineLine(machine)})\n\n\`${command}\`\n`)
  console.log(markdownTable(['measure', 'value'], [
    ['seed / duration', `${seed} / ${durationS} s`],
    ['managers / user nodes (f)', `${managers} / ${users} (f = ${f})`],
    ['fault schedule', `${kinds.join(', ') || 'none'}, every ${intervalS} s for ${faultTimeS} s${partitionsSkipped !== undefined ? ` (${partitionsSkipped})` : ''}`],
    ['requests sent (submit RPCs incl. retries)', String(load.sent)],
    ['records submitted', String(load.submitted)],
    ['processes killed (SIGKILL) / stopped (SIGSTOP)', `${killedCount} / ${stoppedCount}`],
    ['partitions (isolate, split)', `${partitionCount} (${events.filter((e) => e.kind === 'isolate').length}, ${events.filter((e) => e.kind === 'split').length})`],
    ['records acknowledged', String(ids.length)],
    ['records read back and verified', String(rb.verified)],
    ['records lost', String(lost)],
    ['records read back but failing verification', String(rb.invalid.length)],
    ['forks (heights with two header hashes)', `${forks.forks.length} (${forks.compared} hashes compared, heights 1..${height})`],
    ['longest commit stall', `${s(watch.longestStall.ms)} (at ${s(watch.longestStall.fromMs)}..${s(watch.longestStall.toMs)})`],
    ['heal/restart → next commit (max)', s(result.maxHealToNextCommitMs)]
  ], ['left', 'right']))
  console.log('')
  console.log(markdownTable(['at', 'heal', 'next commit', 'healed node caught up'], heals.map((h) => [s(h.atMs), h.label, s(h.nextCommitMs), s(h.catchUpMs)]), ['right', 'left', 'right', 'right']))
  for (const n of notes) console.log(`\nnote: ${n}`)
  console.log(`\n${ok ? 'OK' : 'FAILED'}: ${lost} lost, ${rb.invalid.length} unverifiable, ${forks.forks.length} forks${convergeError !== undefined ? `, ${convergeError}` : ''}; written to ${file}`)
  exitCode = ok ? 0 : 1
} catch (err) {
  console.error(`chaos: ${(err as Error).stack ?? String(err)}`)
  exitCode = 1
} finally {
  await cleanup()
}
process.exit(exitCode)
