/**
 * Node logs at the most verbose level (`--log-level trace`, JSON on the managers, pretty on the
 * user node) through enroll, record submit, search and record get: every line is one event with
 * its fields (height, view, method, peer ...), and no line holds a secret: no identity secret
 * key (ML-DSA, ML-KEM, libp2p), no PUF seed or PUF secret, not the consortium key, no plaintext
 * of the record. Also: `pqmed node` refuses bad logging / ops flags with a clear error.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadClientIdentity, newClientIdentity } from '../../src/client/identity.js'
import { openConsortiumKey, parseConsortiumKeyFile } from '../../src/client/consortium.js'
import { loadPqBackend, toHex } from '../../src/crypto/index.js'
import { loadIdentity, readIdentityFile } from '../../src/node/identity.js'
import { startNetwork, type RunningNetwork } from '../../src/cli/network.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import { SimulatedSramPuf, reproduce } from '../../src/puf/index.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../client/fixtures/record.json', import.meta.url))

async function pqmed (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await run(process.execPath, ['bin/pqmed.js', ...args], { cwd: ROOT, timeout: 300_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr }
  }
}

/** Every way a secret could be written: hex and base64 (url) of its first 30 bytes. */
function forms (what: string, b: Uint8Array): Array<[string, string]> {
  const head = Buffer.from(b.subarray(0, 30))
  return [[what, toHex(head)], [what, head.toString('base64')], [what, head.toString('base64url')]]
}

describe('node logs: one event per line, every field, never a secret (--log-level trace)', function () {
  this.timeout(600_000)
  let net: RunningNetwork | undefined
  let dir: string
  let work: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqmed-logs-'))
    work = await mkdtemp(join(tmpdir(), 'pqmed-logs-client-'))
    const t = topologyFromFlags({ managers: 4, users: 1, doctors: 1, chainId: 'pqmed-logs-test' })
    t.consensus.blockInterval = 50
    net = await startNetwork(t, dir, { ops: true, readyTimeoutMs: 120_000, extraArgs: (n) => ['--log-level', 'trace', '--log-format', n.role === 'manager' ? 'json' : 'pretty'] })
  })
  after(async () => {
    await net?.stop()
    await rm(dir, { recursive: true, force: true })
    await rm(work, { recursive: true, force: true })
  })

  it('enroll, submit, search and get leave events with their fields in the logs and no secret', async () => {
    assert.ok(net !== undefined)
    const url = net.users[0]?.rpc ?? ''
    const patientFile = join(work, 'patient.json')
    const ck = join(dir, 'consortium-key.json')
    const doctorFile = join(dir, 'identities', 'doctor-0.json')
    const enrolled = await pqmed('enroll', '--name', 'Jia Nguyen', '--out', patientFile, '--rpc', url, '--json')
    assert.equal(enrolled.code, 0, enrolled.stderr)
    const submitted = await pqmed('record', 'submit', '--doctor', doctorFile, '--patient', patientFile, '--input', FIXTURE, '--consortium-key', ck, '--state', join(work, 'state'), '--rpc', url, '--json')
    assert.equal(submitted.code, 0, submitted.stderr)
    const recordId = (JSON.parse(submitted.stdout.trim().split('\n').pop() as string) as { recordId: string }).recordId
    const found = await pqmed('search', 'photophobia', '--doctor', doctorFile, '--consortium-key', ck, '--state', join(work, 'state2'), '--rpc', url, '--json')
    assert.equal(found.code, 0, found.stderr)
    assert.ok(found.stdout.includes(recordId))
    const got = await pqmed('record', 'get', recordId, '--rpc', url, '--json')
    assert.equal(got.code, 0, got.stderr)
    await new Promise((r) => setTimeout(r, 1000)) // the last log lines reach the files
    const stopped = await net.stop()
    net = undefined
    assert.ok(Object.values(stopped).every((c) => c === 0), JSON.stringify(stopped))

    const logs = new Map<string, string>()
    for (const f of await readdir(join(dir, 'logs'))) logs.set(f, await readFile(join(dir, 'logs', f), 'utf8'))
    assert.equal(logs.size, 5)

    // the managers' logs: JSON, one event per line, with the fields that apply
    const events = [...logs].filter(([f]) => f.startsWith('manager-')).flatMap(([f, text]) => text.split('\n').filter((l) => l !== '').map((l) => {
      try { return JSON.parse(l) as Record<string, unknown> } catch { throw new Error(`${f}: not one JSON event per line: ${l}`) }
    }))
    assert.ok(events.every((e) => typeof e.level === 'string' && typeof e.time === 'string' && e.role === 'manager' && typeof e.node === 'string' && typeof e.msg === 'string'))
    const commits = events.filter((e) => e.msg === 'block committed')
    assert.ok(commits.length >= 4 * 2, 'every manager logs its commits (enroll, record)')
    assert.ok(commits.every((e) => typeof e.height === 'number' && typeof e.view === 'number' && typeof e.txs === 'number'))
    const served = events.filter((e) => e.msg === 'reqresp' && e.direction === 'in')
    assert.ok(served.some((e) => e.method === 'submit' && e.outcome === 'ok' && typeof e.peer === 'string' && typeof e.ms === 'number'))
    assert.ok(events.some((e) => e.msg === 'reqresp' && e.method === 'status' && e.direction === 'out'))
    // the user node's log: pretty, its JSON-RPC requests and their methods
    const user = logs.get('user-0.log') ?? ''
    assert.match(user, /^\[user\] debug: rpc request method=ehr_submitRecord code=0 ms=[\d.]+$/m)
    assert.match(user, /^\[user\] debug: rpc request method=sse_search code=0 ms=[\d.]+$/m)
    assert.match(user, /^\[user\] debug: reqresp protocol=\/pqmed\/pqmed-logs-test\/query\/1 method=record direction=out outcome=ok ms=[\d.]+ peer=12D3\w+$/m)

    // the secrets of every identity, the consortium key, the record's plaintext
    const pq = await loadPqBackend()
    const secrets: Array<[string, string]> = []
    for (const f of await readdir(join(dir, 'identities'))) {
      const file = await readIdentityFile(join(dir, 'identities', f))
      const id = await loadIdentity(file)
      secrets.push(...forms(`${f} ML-DSA secret key`, id.keys.sig.secretKey), ...forms(`${f} ML-KEM secret key`, id.keys.kem.secretKey), ...forms(`${f} libp2p key`, id.peerKey.raw))
      const seed = Buffer.from(file.deviceSeed, 'base64')
      secrets.push([`${f} PUF seed`, file.deviceSeed], ...forms(`${f} PUF seed`, seed))
      secrets.push(...forms(`${f} PUF secret`, reproduce(new SimulatedSramPuf({ seed, bitErrorRate: file.bitErrorRate }), Buffer.from(file.helper, 'base64'))))
    }
    const patient = loadClientIdentity(JSON.parse(await readFile(patientFile, 'utf8')) as ReturnType<typeof newClientIdentity>)
    secrets.push(...forms('patient PUF secret', patient.secret), ...forms('patient ML-DSA secret key', patient.keys.sig.secretKey), ...forms('patient ML-KEM secret key', patient.keys.kem.secretKey))
    const doctor = await loadIdentity(await readIdentityFile(doctorFile))
    const consortium = openConsortiumKey(pq, parseConsortiumKeyFile(JSON.parse(await readFile(ck, 'utf8'))), doctor.keys.kem.secretKey)
    secrets.push(...forms('consortium key', consortium))
    const plain = JSON.parse(await readFile(FIXTURE, 'utf8')) as { personalInfo: { name: string }, disease: string, symptoms: string[], prescriptions: string[] }
    for (const p of [plain.personalInfo.name, plain.disease, ...plain.symptoms, ...plain.prescriptions]) secrets.push(['plaintext', p])
    assert.ok(secrets.length > 100)
    for (const [file, text] of logs) {
      assert.ok(text.length > 2000, `${file}: trace logs were written (${text.length} bytes)`)
      for (const [what, s] of secrets) assert.ok(!text.includes(s), `${file} holds ${what}`)
    }
  })

  it('pqmed node refuses bad --log-level, --log-format, --ops-port and --ops-host with a clear error, before starting', async () => {
    const base = ['node', '--role', 'user', '--genesis', join(work, 'none.json'), '--data-dir', join(work, 'never')]
    await writeFile(join(work, 'none.json'), '{}')
    const cases: Array<[string[], RegExp]> = [
      [['--log-level', 'loud'], /option '--log-level <LEVEL>' argument 'loud' is invalid\. Allowed choices are trace, debug, info, warn, error, silent/],
      [['--log-format', 'xml'], /option '--log-format <FORMAT>' argument 'xml' is invalid\. Allowed choices are pretty, json/],
      [['--quiet', '--log-level', 'debug'], /option '--log-level <LEVEL>' cannot be used with option '--quiet'/],
      [['--ops-port', '70000'], /--ops-port must be an integer in \[0, 65535\]/],
      [['--ops-port', 'x'], /--ops-port must be an integer in \[0, 65535\]/],
      [['--ops-host', '0.0.0.0'], /--ops-host configures the operations server: it goes with --ops-port/]
    ]
    for (const [extra, re] of cases) {
      const r = await pqmed(...base, ...extra)
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, re)
    }
    assert.deepEqual((await readdir(work)).filter((f) => f === 'never'), [], 'no data dir was created')
  })
})
