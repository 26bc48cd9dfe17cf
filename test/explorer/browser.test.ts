/**
 * The web explorer end to end in a real browser: Debian's `chromium` (/usr/bin/chromium) driven by
 * playwright-core, against a real network (4 managers and a user node as processes on free ports,
 * started by the harness `npm start` uses).
 * Clicks through the overview (live charts), blocks → a block → a tx, the consortium and peers
 * pages, verifies a committed ciphertext (dropped) and a copy with one byte flipped (picked), and
 * does the same through `pqmed explorer --rpc URL`. Screenshots go to test/artifacts/explorer/.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { SimulatedDoctor } from '../../src/client/simulated-doctor.js'
import { seededRng } from '../../src/client/synthetic.js'
import { loadPqBackend, toHex } from '../../src/crypto/index.js'
import { loadIdentity, readIdentityFile } from '../../src/node/identity.js'
import { startNetwork, type RunningNetwork } from '../../src/cli/network.js'
import { freePorts, rpc } from '../../src/cli/procs.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import { compileResultValidators, openRpcDocument, type ChainStatus, type ConsortiumJson, type RecordJson } from '../../src/rpc/index.js'
import { BIN, ensureBuilt } from '../cli/helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../artifacts/explorer/', import.meta.url))
const results = compileResultValidators(openRpcDocument())

function assertSchema (method: string, value: unknown): void {
  const v = results.get(method)
  assert.ok(v !== undefined && v(value), `${method}: ${JSON.stringify(v?.errors)}`)
}

let doctor: SimulatedDoctor | undefined
const rng = seededRng(7)

/** `n` records from doctor-1 (one client, so its index counters advance), one after another: one block each. */
async function submitSequentially (dir: string, url: string, n: number): Promise<string[]> {
  if (doctor === undefined) {
    const id = await loadIdentity(await readIdentityFile(join(dir, 'identities', 'doctor-1.json')))
    doctor = new SimulatedDoctor(await loadPqBackend(), { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(7))
  }
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const s = doctor.record(rng, i % 3)
    await rpc(url, 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
    ids.push(toHex(s.tx.recordId))
  }
  return ids
}

async function shot (page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/** The browser globals the page functions below use (the test is compiled without the DOM types). */
type PageGlobals = { DataTransfer: new () => { items: { add: (f: unknown) => void } }, File: new (parts: unknown[], name: string) => unknown }

/** Drops a file of `size` zero bytes made in the page (faster than sending megabytes over the devtools protocol). */
async function dropZeros (page: Page, name: string, size: number): Promise<void> {
  const dt = await page.evaluateHandle(([n, len]) => {
    const g = globalThis as unknown as PageGlobals
    const d = new g.DataTransfer()
    d.items.add(new g.File([new Uint8Array(len)], n))
    return d
  }, [name, size] as [string, number])
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt })
}

/** Drops `bytes` as a file on the verify page's drop zone (a real DataTransfer `drop` event). */
async function dropFile (page: Page, name: string, bytes: Uint8Array): Promise<void> {
  const dt = await page.evaluateHandle(([n, b64]) => {
    const g = globalThis as unknown as PageGlobals
    const bin = atob(b64)
    const d = new g.DataTransfer()
    d.items.add(new g.File([Uint8Array.from(bin, (c) => c.charCodeAt(0))], n))
    return d
  }, [name, Buffer.from(bytes).toString('base64')] as [string, string])
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt })
}

const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).first().textContent()) ?? ''

describe('explorer: the web pages in headless Chromium against a real devnet', function () {
  this.timeout(400_000)
  let dir: string
  let net: RunningNetwork | undefined
  let browser: Browser | undefined
  let explorer: ChildProcess | undefined
  const pageErrors: string[] = []
  let u0: string
  let m0: string
  let recordId: string
  let record: RecordJson

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: this test drives Debian's chromium package with playwright-core (no browser download works here). ` +
        'Install it with `apt-get update && apt-get install -y chromium` (.ci/run does this when it is missing).')
    }
    await mkdir(ARTIFACTS, { recursive: true })
    await ensureBuilt() // `pqmed explorer` below runs the built CLI, as users do
    dir = await mkdtemp(join(tmpdir(), 'pqmed-explorer-'))
    // generous: the machine may be loaded (stop() runs even if a node fails to start)
    net = await startNetwork(topologyFromFlags({ managers: 4, users: 1, doctors: 2 }), dir, { readyTimeoutMs: 180_000 })
    u0 = (net.users[0] as { rpc: string }).rpc
    m0 = (net.managers[0] as { rpc: string }).rpc
    // six records, one block each, so that the charts have points
    recordId = (await submitSequentially(dir, u0, 6))[0] as string
    record = await rpc<RecordJson>(u0, 'ehr_getRecord', { recordId })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  })

  after(async () => {
    await browser?.close()
    if (explorer !== undefined && explorer.exitCode === null) explorer.kill('SIGKILL')
    if (net !== undefined) await net.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  async function newPage (): Promise<Page> {
    const page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => { pageErrors.push(e.message) })
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()) })
    // the pages must never reach another origin (no CDN): any such request fails the test
    await page.route('**/*', async (route) => {
      const u = new URL(route.request().url())
      if (u.hostname !== '127.0.0.1') { pageErrors.push(`request to another origin: ${u.href}`); await route.abort(); return }
      await route.continue()
    })
    return page
  }

  it('the new read-only methods answer on a manager and on a user node, matching their schemas; bad input gets a clear error', async () => {
    for (const url of [m0, u0]) {
      const status = await rpc<ChainStatus>(url, 'chain_status')
      const headers = await rpc<Array<{ height: number }>>(url, 'chain_getHeaders', { from: 1, count: 100 })
      assertSchema('chain_getHeaders', headers)
      assert.deepEqual(headers.map((h) => h.height), Array.from({ length: status.height }, (_, i) => i + 1), 'from 1 up to the head')
      const summary = await rpc<{ txs: Array<{ id: string, signer: string, type: string }>, certificate: unknown }>(url, 'chain_getBlockSummary', { height: record.height })
      assertSchema('chain_getBlockSummary', summary)
      const tx = summary.txs.find((t) => t.id === recordId)
      assert.ok(tx !== undefined && tx.type === 'record' && tx.signer === record.tx.doctor)
      const c = await rpc<ConsortiumJson>(url, 'chain_consortium')
      assertSchema('chain_consortium', c)
      assert.equal(c.managers.length, 4)
      assert.equal(c.doctors.length, 2)
      for (const m of c.managers) {
        assert.equal(m.error, undefined, `${m.name}: ${m.error ?? ''}`)
        assert.ok((m.height ?? 0) >= record.height && m.view !== undefined && m.lastCommitTime !== undefined, JSON.stringify(m))
      }
      assert.deepEqual(c.managers.map((m) => m.self), url === m0 ? [true, false, false, false] : [false, false, false, false])
      await assert.rejects(rpc(url, 'chain_getHeaders', { from: status.height + 1000 }), (e: { rpcCode?: number, message: string }) => e.rpcCode === -32003 && /head is/.test(e.message))
      await assert.rejects(rpc(url, 'chain_getHeaders', { from: 1, count: 101 }), (e: { rpcCode?: number }) => e.rpcCode === -32602)
      await assert.rejects(rpc(url, 'chain_getBlockSummary', { height: status.height + 1000 }), (e: { rpcCode?: number }) => e.rpcCode === -32003)
    }
  })

  it('overview: status cards and the three live charts with data; the page refreshes by itself when a block is committed', async () => {
    const page = await newPage()
    await page.goto(`${u0}explorer/`)
    await page.waitForSelector('#card-height')
    for (const chart of ['latency', 'interval', 'throughput']) {
      const el = page.locator(`[data-chart="${chart}"]`)
      await el.waitFor()
      const points = Number(await el.getAttribute('data-points'))
      assert.ok(points >= 2, `${chart}: ${points} points`)
      assert.equal(await el.locator('circle.dot').count(), points)
      assert.match(await el.locator('polyline.series').getAttribute('points') ?? '', /^[\d.]+,[\d.]+( [\d.]+,[\d.]+)+$/)
    }
    const before = Number(await text(page, '#card-height .value'))
    assert.equal(before, (await rpc<ChainStatus>(u0, 'chain_status')).height)
    await shot(page, 'overview')
    await submitSequentially(dir, u0, 1)
    const deadline = Date.now() + 30_000
    while (Number(await text(page, '#card-height .value')) <= before) {
      assert.ok(Date.now() < deadline, 'the overview did not refresh within 30 s')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    assert.deepEqual(pageErrors, [])
    await page.close()
  })

  it('blocks → a block → a tx: ids, kinds, sizes and signers, never a ciphertext; the record verifies', async () => {
    const page = await newPage()
    await page.goto(`${u0}explorer/`)
    await page.click('nav a[data-nav="blocks"]')
    await page.waitForSelector('#blocks-table tbody tr')
    assert.ok(await page.locator('#blocks-table tbody tr').count() >= 5)
    await shot(page, 'blocks')
    await page.click(`#blocks-table tr[data-href="#/block/${record.height}"]`)
    await page.waitForSelector('#block-txs')
    assert.match(await text(page, 'h1'), new RegExp(`Block ${record.height}$`))
    assert.match(await text(page, '#block-header'), new RegExp(record.header.hash))
    const row = page.locator('#block-txs tbody tr', { has: page.locator(`span[title="${recordId}"]`) })
    assert.equal(await row.count(), 1)
    assert.match(await row.textContent() ?? '', /record/)
    assert.match(await row.textContent() ?? '', /\d+(\.\d)? (B|KiB)/)
    assert.equal(await row.locator(`span[title="${record.tx.doctor}"]`).count(), 1, 'signer id shown')
    const html = await page.content()
    for (const c of record.ciphertexts) assert.ok(!html.includes(c.slice(0, 40)), 'no ciphertext on the page')
    await shot(page, 'block')
    await row.click()
    await page.waitForSelector('#tx-detail')
    const detail = await text(page, '#tx-detail')
    for (const f of record.tx.fields) assert.ok(detail.includes(f), `field hash ${f}`)
    assert.ok(detail.includes(record.tx.doctor) && detail.includes(recordId))
    await page.click('#verify-record')
    await page.waitForSelector('#record-verification .result')
    assert.equal(await page.locator('#record-verification .result').getAttribute('data-valid'), 'true', await text(page, '#record-verification'))
    await shot(page, 'tx')
    assert.deepEqual(pageErrors, [])
    await page.close()
  })

  it('consortium and peers pages: every manager with height, view and last commit; the doctors; the connected managers', async () => {
    const page = await newPage()
    await page.goto(`${m0}explorer/#/consortium`)
    await page.waitForSelector('#managers-table tbody tr')
    assert.equal(await page.locator('#managers-table tbody tr').count(), 4)
    for (let i = 0; i < 4; i++) {
      const cells = await page.locator(`#managers-table tr[data-manager="${i}"] td`).allTextContents()
      assert.match(cells[5] ?? '', /^\d+$/, `height of manager ${i}: ${cells.join(' | ')}`)
      assert.match(cells[6] ?? '', /^\d+$/, 'view')
      assert.match(cells[7] ?? '', /UTC \(\d+ (s|min) ago\)/, 'last commit')
    }
    assert.match(await text(page, '#managers-table tr[data-manager="0"]'), /this node/)
    assert.equal(await page.locator('#doctors-table tbody tr').count(), 2)
    await shot(page, 'consortium')
    await page.click('nav a[data-nav="peers"]')
    await page.waitForSelector('#peers-table tbody tr')
    assert.ok(await page.locator('#peers-table tbody tr', { hasText: 'manager' }).count() >= 3, 'manager-0 is connected to the other managers')
    assert.match(await text(page, '#node-info'), /manager node/)
    await shot(page, 'peers')
    assert.deepEqual(pageErrors, [])
    await page.close()
  })

  it('verify a file: a committed ciphertext (dropped) matches its record; one flipped byte (picked) is not committed; a too-large file is refused with the limit', async () => {
    const page = await newPage()
    await page.goto(`${u0}explorer/#/verify`)
    await page.waitForSelector('#drop')
    const cip2 = Buffer.from(record.ciphertexts[1] as string, 'base64')
    await dropFile(page, 'cip2.bin', cip2)
    await page.waitForSelector('#verify-result')
    assert.equal(await page.locator('#verify-result').getAttribute('data-match'), 'true', await text(page, '#verify-result'))
    assert.equal(await page.locator('#verify-result').getAttribute('data-record'), recordId)
    assert.match(await text(page, '#verify-result'), /symptoms \(cip2\) ciphertext of record/)
    assert.match(await text(page, '#verify-result'), /the same hash computed in this browser/)
    await shot(page, 'verify-committed')
    const tampered = Buffer.from(cip2)
    const at = Math.floor(tampered.length / 2)
    tampered[at] = (tampered[at] as number) ^ 0x01
    await page.setInputFiles('#verify-input', { name: 'cip2-tampered.bin', mimeType: 'application/octet-stream', buffer: tampered })
    await page.waitForSelector('#verify-result[data-match="false"]')
    assert.match(await text(page, '#verify-result'), /Not found: not committed/)
    await shot(page, 'verify-tampered')
    await dropZeros(page, 'huge.bin', 13 * 1024 * 1024)
    await page.waitForSelector('#verify-result[data-match="error"]')
    assert.match(await text(page, '#verify-result'), /too large.*at most 12\.00 MiB/s)
    assert.deepEqual(pageErrors, [])
    await page.close()
  })

  it('`pqmed explorer --rpc URL` serves the same pages and passes their calls on to the node', async () => {
    const [port] = await freePorts(1)
    explorer = spawn(process.execPath, [BIN, 'explorer', '--rpc', u0, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const child = explorer
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const ready = await new Promise<{ url: string, rpc: string }>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`no ready line: ${stderr}`)) }, 60_000)
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try { const o = JSON.parse(line) as { event?: string, url: string, rpc: string }; if (o.event === 'ready') { clearTimeout(t); resolve(o) } } catch { /* not JSON */ }
      })
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`exited ${String(code)}: ${stderr}`)) })
    })
    assert.equal(ready.url, `http://127.0.0.1:${String(port)}/explorer/`)
    assert.equal(ready.rpc, u0)
    const root = await fetch(`http://127.0.0.1:${String(port)}/`, { redirect: 'manual' })
    assert.equal(root.status, 302)
    assert.equal(root.headers.get('location'), '/explorer/')
    const page = await newPage()
    await page.goto(ready.url)
    await page.waitForSelector('[data-chart="interval"]')
    assert.equal(Number(await text(page, '#card-height .value')) >= record.height, true)
    assert.match(await text(page, '#node'), /user node/)
    await page.click('nav a[data-nav="verify"]')
    await page.waitForSelector('#drop')
    await dropFile(page, 'cip1.bin', Buffer.from(record.ciphertexts[0] as string, 'base64'))
    await page.waitForSelector('#verify-result[data-match="true"]')
    await shot(page, 'standalone-verify')
    assert.deepEqual(pageErrors, [])
    await page.close()
    const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
    child.kill('SIGINT')
    assert.equal(await exited, 0, stderr)
  })
})
