/**
 * `npm run bench:ops-metrics`: what the metrics of `pqmed node --ops-port` cost per stream and per
 * call. Two libp2p hosts in this process (createHost, TCP on loopback) run three modes in
 * alternating rounds: off; pqmed's own NodeMetrics hooks only (in ReqResp); those and libp2p's
 * metrics module (`@libp2p/prometheus-metrics`) on both hosts, as --ops-port runs them. Measured:
 * a new stream per call (dial the protocol, 64 bytes there and back, close), and request/response
 * calls on one reused stream (src/node/reqresp.ts), 8 in flight. Medians over the rounds.
 *
 * Options: --rounds 6  --streams 300  --calls 2000  --out bench/results/ops-metrics.json
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { Registry } from 'prom-client'
import { createHost, type PqmedHost } from '../src/node/libp2p.js'
import { PromNodeMetrics } from '../src/node/ops/prom.js'
import { ReqResp } from '../src/node/reqresp.js'
import { checkArgs, machineInfo, machineLine, markdownTable, optionValue, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, [], ['rounds', 'streams', 'calls', 'out'])
const ROUNDS = Number(optionValue(argv, 'rounds') ?? 6)
const STREAMS = Number(optionValue(argv, 'streams') ?? 300)
const CALLS = Number(optionValue(argv, 'calls') ?? 2000)
const OUT = optionValue(argv, 'out') ?? 'bench/results/ops-metrics.json'
for (const [k, v] of Object.entries({ rounds: ROUNDS, streams: STREAMS, calls: CALLS })) if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be an integer ≥ 1`)

const ECHO = '/bench/echo/1'
const RR = '/bench/rr/1'

interface Pair { a: PqmedHost, b: PqmedHost, rrA: ReqResp, rrB: ReqResp, registries: Registry[] }

type Mode = 'off' | 'hooks' | 'on'

/** off: neither; hooks: only pqmed's NodeMetrics hooks in ReqResp; on: those and libp2p's own metrics (what --ops-port runs). */
async function pair (mode: Mode): Promise<Pair> {
  const registries = mode === 'on' ? [new Registry(), new Registry()] : []
  const mk = async (i: number): Promise<PqmedHost> => await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, maxGossipBytes: 1 << 20, metricsRegistry: registries[i] })
  const a = await mk(0)
  const b = await mk(1)
  await a.start(); await b.start()
  await b.handle(ECHO, (stream: Stream) => {
    void (async () => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.close()
    })().catch(() => {})
  })
  const hooks = mode !== 'off' ? new PromNodeMetrics({ role: 'manager', node: 'bench', defaultMetrics: false }) : undefined
  const rrB = new ReqResp(b, { protocol: RR, maxBytes: 1 << 20, timeoutMs: 10_000, handler: async (_m, p) => p, metrics: hooks })
  const rrA = new ReqResp(a, { protocol: RR, maxBytes: 1 << 20, timeoutMs: 10_000, metrics: hooks })
  await rrB.start(); await rrA.start()
  await a.dial(b.getMultiaddrs()[0] as Parameters<PqmedHost['dial']>[0])
  return { a, b, rrA, rrB, registries }
}

async function stop (p: Pair): Promise<void> {
  await p.rrA.stop(); await p.rrB.stop()
  await p.a.stop(); await p.b.stop()
}

/** Microseconds per new stream: open, 64 bytes there and back, close. */
async function streams (p: Pair, n: number): Promise<number> {
  const payload = new Uint8Array(64).fill(7)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const s = await p.a.dialProtocol(p.b.peerId, ECHO)
    const got = new Promise<void>((resolve, reject) => {
      s.addEventListener('message', () => { resolve() }, { once: true })
      s.addEventListener('close', () => { reject(new Error('closed before the echo')) }, { once: true })
    })
    s.send(payload)
    await got
    await s.close()
  }
  return (performance.now() - t0) * 1000 / n
}

/** Microseconds per request/response call on the reused stream (8 in flight). */
async function calls (p: Pair, n: number): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next++ < n) await p.rrA.request(p.b.peerId, 'echo', { x: 1 })
  }))
  return (performance.now() - t0) * 1000 / n
}

const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2 }
const results: Record<Mode, { streamUs: number[], callUs: number[] }> = { off: { streamUs: [], callUs: [] }, hooks: { streamUs: [], callUs: [] }, on: { streamUs: [], callUs: [] } }
const log = (m: string): void => { process.stderr.write(`[ops-metrics] ${m}\n`) }

for (let r = 0; r < ROUNDS; r++) {
  const modes: Mode[] = ['off', 'hooks', 'on']
  for (const mode of (r % 2 === 0 ? modes : [...modes].reverse())) {
    const p = await pair(mode)
    try {
      await streams(p, 20); await calls(p, 100) // warm-up
      const s = await streams(p, STREAMS)
      const c = await calls(p, CALLS)
      results[mode].streamUs.push(s)
      results[mode].callUs.push(c)
      if (mode === 'on') {
        const text = await p.registries[0]?.metrics() ?? ''
        if (!/^libp2p_/m.test(text)) throw new Error('metrics on, but no libp2p_ metric in the registry')
      }
      log(`round ${r + 1}/${ROUNDS} metrics ${mode}: ${s.toFixed(0)} µs/stream, ${c.toFixed(0)} µs/call`)
    } finally {
      await stop(p)
    }
  }
}

const summary = {
  streamUs: { off: median(results.off.streamUs), hooks: median(results.hooks.streamUs), on: median(results.on.streamUs) },
  callUs: { off: median(results.off.callUs), hooks: median(results.hooks.callUs), on: median(results.on.callUs) }
}
const ratio = (x: { off: number, on: number }): string => (x.on / x.off).toFixed(3)
const hratio = (x: { off: number, hooks: number }): string => (x.hooks / x.off).toFixed(3)
const machine = machineInfo()
console.log(`# libp2p metrics cost (${machineLine(machine)}; medians of ${ROUNDS} alternating rounds)\n`)
console.log(markdownTable(
  ['measure', 'off', 'pqmed hooks only', 'hooks + libp2p metrics', 'hooks / off', 'all / off'],
  [
    [`new stream, 64 B echo, close (${STREAMS} per round)`, `${summary.streamUs.off.toFixed(0)} µs`, `${summary.streamUs.hooks.toFixed(0)} µs`, `${summary.streamUs.on.toFixed(0)} µs`, hratio(summary.streamUs), ratio(summary.streamUs)],
    [`request/response on a reused stream, 8 in flight (${CALLS} per round)`, `${summary.callUs.off.toFixed(0)} µs`, `${summary.callUs.hooks.toFixed(0)} µs`, `${summary.callUs.on.toFixed(0)} µs`, hratio(summary.callUs), ratio(summary.callUs)]
  ],
  ['left', 'right', 'right', 'right', 'right', 'right']
))
const file = writeJson(OUT, { machine, rounds: ROUNDS, streams: STREAMS, calls: CALLS, summary, runs: results })
console.log(`\nwritten: ${file}`)
