import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startDevnet } from './helpers.js'

/** Runs every printed curl example exactly as printed (through sh), returning the parsed responses by method. */
async function runExamples (banner: string): Promise<Map<string, { result?: unknown, error?: unknown }>> {
  const lines = banner.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl '))
  const out = new Map<string, { result?: unknown, error?: unknown }>()
  for (const line of lines) {
    const { stdout } = await promisify(execFile)('/bin/sh', ['-c', line])
    const method = /"method":"([^"]+)"/.exec(line)?.[1] ?? '?'
    out.set(method, JSON.parse(stdout) as { result?: unknown, error?: unknown })
  }
  return out
}

describe('cli: npm start (devnet)', function () {
  this.timeout(180_000)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pqmed-devnet-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('first start: creates the network, seeds records, prints URLs and curl examples that work; SIGINT exits 0', async () => {
    const t0 = Date.now()
    const run = await startDevnet(dir, ['--records', '4'])
    console.log(`      (banner after ${Date.now() - t0} ms)`)
    assert.match(run.stdout, /seeded 4 synthetic records/)
    const urls = [...run.stdout.matchAll(/^ {2}(manager-\d|user-\d)\s+(http:\/\/127\.0\.0\.1:\d+\/)/gm)].map((m) => m[1])
    assert.deepEqual(urls, ['manager-0', 'manager-1', 'manager-2', 'manager-3', 'user-0', 'user-1'])
    const res = await runExamples(run.stdout)
    assert.deepEqual([...res.keys()], ['node_info', 'chain_status', 'chain_getHeader', 'ehr_getRecord', 'ehr_verifyRecord', 'rpc.discover'])
    for (const [m, r] of res) assert.equal(r.error, undefined, `${m}: ${JSON.stringify(r.error)}`)
    const seeded = JSON.parse(await readFile(join(dir, 'seeded-records.json'), 'utf8')) as string[]
    assert.equal(seeded.length, 4)
    assert.equal((res.get('ehr_getRecord')?.result as { tx: { recordId: string } }).tx.recordId, seeded[0])
    assert.equal((res.get('ehr_verifyRecord')?.result as { valid: boolean }).valid, true)
    assert.ok((res.get('chain_status')?.result as { height: number }).height >= 1)
    // issue 15: every node's operations server is in the banner; /metrics has live values, /readyz is 200 on every node
    const ops = [...run.stdout.matchAll(/^ {2}(manager-\d|user-\d)\s+ops (http:\/\/127\.0\.0\.1:\d+)$/gm)]
    assert.deepEqual(ops.map((m) => m[1]), urls)
    for (const [, name, url] of ops) {
      let ready: Response | undefined
      for (let i = 0; i < 80 && ready?.status !== 200; i++) { if (i > 0) await new Promise((r) => setTimeout(r, 250)); ready = await fetch(`${url}/readyz`) }
      assert.equal(ready?.status, 200, `${name}: ${await ready?.text()}`)
    }
    const metrics = await (await fetch(`${ops[4]?.[2] ?? ''}/metrics`)).text()
    assert.match(metrics, /^pqmed_consensus_height\{role="user",node="user-0"\} [1-9]\d*$/m)
    assert.match(metrics, /^pqmed_rpc_requests_total\{method="ehr_submitRecord",code="0",role="user",node="user-0"\} 4$/m)
    assert.equal(await run.stop(), 0, run.stderr)
    assert.match(run.stderr, /all nodes stopped/)
  })

  it('second start reuses the data dir: same genesis, chain continues, no reseeding; an added user node is admitted by the managers', async () => {
    const genesis = await readFile(join(dir, 'genesis.json'), 'utf8')
    assert.equal((JSON.parse(genesis) as { userNodes: string[] }).userNodes.length, 2)
    // user-2 is not in genesis: it gets an identity and a line in the managers' allow file (startNetwork
    // waits until every user node is connected to a quorum of managers, so the start fails otherwise)
    const run = await startDevnet(dir, ['--records', '4', '--users', '3'])
    assert.match(run.stdout, /^ {2}user-2\s+http:/m)
    assert.match(await readFile(join(dir, 'allow-peers.txt'), 'utf8'), /^12D3KooW\w+ {2}# user-2$/m)
    assert.match(run.stderr, /reusing /)
    assert.match(run.stdout, /reusing the existing chain \(not reseeded\)/)
    assert.equal(await readFile(join(dir, 'genesis.json'), 'utf8'), genesis)
    const res = await runExamples(run.stdout)
    assert.equal((res.get('ehr_verifyRecord')?.result as { valid: boolean }).valid, true)
    assert.equal(await run.stop(), 0, run.stderr)
  })
})
