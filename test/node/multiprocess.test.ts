import assert from 'node:assert/strict'
import { join } from 'node:path'
import { loadPqBackend, toHex } from '../../src/crypto/index.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'
import { ProcNet, rpc } from '../../src/cli/procs.js'

interface Status { height: number, headerHash: string, leader?: number, view?: number }

/**
 * Issue 4's acceptance test: 4 managers + 2 user nodes as real processes on loopback (random
 * ports), records submitted over JSON-RPC, a Byzantine manager equivocating — no fork, every record
 * verifiable from every user node. Killing managers (SIGKILL) under load, the leader among them,
 * and restarting them is the crash test in crash.test.ts.
 */
describe('node: 4 managers + 2 user nodes as real processes', function () {
  this.timeout(600_000)
  const net = new ProcNet()
  let files: DevnetFiles
  let root: { path: string, remove: () => Promise<void> }
  let ports: number[]
  let doctor: TestDoctor
  const committed: string[] = []
  let seq = 0

  const managerArgs = (i: number, extra: string[] = []): string[] => [
    '--role', 'manager', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, `m${i}`),
    '--identity', join(root.path, 'identities', `manager-${i}.json`), '--listen', `/ip4/127.0.0.1/tcp/${ports[i]}`, '--rpc-port', '0', '--loopback', ...extra
  ]
  const userArgs = (i: number): string[] => [
    '--role', 'user', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, `u${i}`),
    '--identity', join(root.path, 'identities', `user-${i}.json`), '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc-port', '0', '--loopback'
  ]
  const url = (name: string): string => { const p = net.procs.get(name); if (p === undefined) throw new Error(`${name} not running`); return p.rpc }
  const managers = (): string[] => [...net.procs.keys()].filter((n) => n.startsWith('m'))

  async function submitMany (count: number, via: string[]): Promise<void> {
    const subs = Array.from({ length: count }, () => doctor.record(seq++))
    let next = 0
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++
        const s = subs[i]
        if (s === undefined) return
        const target = via[i % via.length] as string
        const r = await rpc<{ status: string }>(url(target), 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
        assert.equal(r.status, 'committed')
        committed.push(toHex(s.tx.recordId))
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
  }

  async function converge (names: string[], timeoutMs = 30_000): Promise<Status> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const st = await Promise.all(names.map(async (n) => await rpc<Status>(url(n), 'chain_status')))
      const top = Math.max(...st.map((s) => s.height))
      if (st.every((s) => s.height === top)) {
        assert.equal(new Set(st.map((s) => s.headerHash)).size, 1, `nodes at height ${top} disagree on the head hash`)
        return st[0] as Status
      }
      if (Date.now() > deadline) throw new Error(`no convergence: ${JSON.stringify(st.map((s) => s.height))}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  before(async () => {
    root = await tempDir('procs')
    ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-proc', managers: 4, doctors: 1, users: 2, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    await writeDevnet(root.path, files)
    doctor = await TestDoctor.create(files, 0, await loadPqBackend())
    await Promise.all([0, 1, 2, 3].map(async (i) => await net.start({ name: `m${i}`, args: managerArgs(i) })))
    await Promise.all([0, 1].map(async (i) => await net.start({ name: `u${i}`, args: userArgs(i) })))
  })

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return
    for (const [name, p] of net.procs) {
      const st = await rpc<Status>(p.rpc, 'chain_status', {}, 5000).catch((e: Error) => e.message)
      console.error(`--- ${name}: ${JSON.stringify(st)}\n${p.stderr.join('').slice(-3000)}`)
    }
  })

  after(async () => {
    await net.stopAll()
    await root?.remove()
  })

  it('commits 200 records submitted through the user nodes; all managers share one head', async () => {
    await submitMany(200, ['u0', 'u1'])
    assert.equal(committed.length, 200)
    const head = await converge(managers())
    assert.ok(head.height >= 1)
  })

  it('each user node holds the headers and verifies an inclusion proof for every record', async () => {
    const head = await converge(managers())
    for (const u of ['u0', 'u1']) {
      const deadline = Date.now() + 20_000
      while ((await rpc<Status>(url(u), 'chain_status')).height < head.height) {
        if (Date.now() > deadline) throw new Error(`${u} did not sync`)
        await new Promise((r) => setTimeout(r, 200))
      }
      for (const id of committed) {
        const r = await rpc<{ verifiedBy: string, tx: { recordId: string } }>(url(u), 'ehr_getRecord', { recordId: id })
        assert.equal(r.verifiedBy, 'user-node')
        assert.equal(r.tx.recordId, id)
      }
    }
  })

  it('a manager sending conflicting pre-prepares causes no fork', async () => {
    // restart manager 1 as an equivocating leader; drive enough heights for it to lead several times
    const code = await net.stop('m1')
    assert.equal(code, 0, `clean SIGTERM shutdown exits 0; output:\n${net.exited.get('m1') ?? ''}`)
    await net.start({ name: 'm1', args: managerArgs(1, ['--fault-equivocate']) })
    for (let round = 0; round < 8; round++) await submitMany(4, ['u0', 'u1'])
    const honest = ['m0', 'm2', 'm3']
    const head = await converge(honest, 60_000)
    for (let h = 1; h <= head.height; h++) {
      const hashes = await Promise.all(honest.map(async (n) => (await rpc<{ header: { hash: string } }>(url(n), 'chain_getHeader', { height: h })).header.hash))
      assert.equal(new Set(hashes).size, 1, `fork at height ${h}`)
    }
    for (const id of committed.slice(-8)) {
      const r = await rpc<{ verifiedBy: string }>(url('u0'), 'ehr_getRecord', { recordId: id })
      assert.equal(r.verifiedBy, 'user-node')
    }
  })
})
