import assert from 'node:assert/strict'
import { call, checkForks, converge, LoadGenerator, readBack, startChaosNet, type CallError, type ChaosNet } from '../../src/cli/chaos.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

async function until (what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

/**
 * Issue 10's crash test: 4 managers + 1 user node as real processes, six concurrent submitters
 * through the user node and every manager. A non-leader manager is SIGKILLed (the other three
 * keep committing), then the current leader (no quorum left), both are restarted from their data
 * dirs, and the load continues. Afterwards every acknowledged record is read back from the user
 * node and verified on the client (signature, ciphertext hashes, inclusion, certificate), and all
 * managers hold the same header at every height. (`npm run test:chaos` runs longer schedules.)
 */
describe('node: crash test — SIGKILL a manager and the leader under load', function () {
  this.timeout(300_000)
  let cn: ChaosNet | undefined
  let load: LoadGenerator | undefined

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || cn === undefined) return
    console.error(`load: sent ${load?.sent ?? 0}, acked ${load?.acked.size ?? 0}, failures ${JSON.stringify(load?.failures)}`)
    for (const n of [...cn.managers, ...cn.users]) console.error(`--- ${n}: ${JSON.stringify(await cn.status(n).catch((e: Error) => e.message))}`)
  })
  before(async () => {
    cn = await startChaosNet({ managers: 4, users: 1, chainId: 'pqmed-crash', consensus: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    load = await LoadGenerator.create(cn, { targets: ['user-0', ...cn.managers], workers: 6, seed: 10, requestTimeoutMs: 30_000 })
  })
  after(async () => { await cn?.stop() })

  it('loses no acknowledged record and forks nothing', async () => {
    const net = cn as ChaosNet
    const l = load as LoadGenerator
    l.start()
    await until('10 acknowledged records', () => l.acked.size >= 10, 30_000)

    const leader = await net.leader()
    const follower = net.managers.find((m) => m !== leader) as string
    await net.kill(follower)
    const a1 = l.acked.size
    await until('10 more records with one manager down', () => l.acked.size >= a1 + 10, 30_000)

    // the live managers may still name the killed one as the next height's leader until their
    // view changes: wait for a live leader
    let leader2 = await net.leader()
    for (let t = 0; t < 150 && (leader2 === undefined || leader2 === follower); t++) { await sleep(100); leader2 = await net.leader() }
    assert.ok(leader2 !== undefined && leader2 !== follower, `a live leader (got ${String(leader2)})`)
    await net.kill(leader2)
    await sleep(1000)  // two of four down: no quorum, submissions wait or fail over
    await Promise.all([net.restart(follower), net.restart(leader2)])
    const a2 = l.acked.size
    await until('10 more records after both restarts', () => l.acked.size >= a2 + 10, 60_000)
    await l.stop(60_000)

    assert.deepEqual(l.refused, [], 'no submission refused')
    assert.ok(l.acked.size >= 30)
    const head = await converge(net, [...net.managers, ...net.users], 60_000)
    const forks = await checkForks(net, net.managers, head.height)
    assert.deepEqual(forks.forks, [], 'one header hash per height on every manager')
    const rb = await readBack(net, [...l.acked.keys()], net.users)
    assert.deepEqual(rb.lost, [], 'acknowledged records lost')
    assert.deepEqual(rb.invalid, [], 'acknowledged records that do not verify')
    assert.equal(rb.verified, l.acked.size)
  })

  it('a client retrying a committed tx through a user node learns that it is committed (-32013, data.committed)', async () => {
    const net = cn as ChaosNet
    const s = (load as LoadGenerator).build()
    const first = await call<{ status: string }>(net.url('user-0'), 'ehr_submitRecord', { submission: s.submission, wait: true }, 60_000)
    assert.equal(first.status, 'committed')
    // every manager has applied the commit (a lagging one would still hold the tx as pending and
    // answer the retry with a plain 'committed', which is also the truth but not the case under test)
    const height = (first as { height?: number }).height ?? 0
    for (const m of ['manager-0', 'manager-1', 'manager-2', 'manager-3']) {
      const deadline = Date.now() + 20_000
      while ((await call<{ height: number }>(net.url(m), 'chain_status', {}, 5000)).height < height) {
        if (Date.now() > deadline) throw new Error(`${m} did not reach height ${height}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    // the retry of a client whose first answer was lost (a killed node, a timeout)
    await assert.rejects(call(net.url('user-0'), 'ehr_submitRecord', { submission: s.submission, wait: true }, 60_000), (err: CallError) => {
      assert.equal(err.code, -32013)
      assert.equal((err.data as { committed?: unknown } | undefined)?.committed, true, `data: ${JSON.stringify(err.data)}`)
      return true
    })
  })
})
