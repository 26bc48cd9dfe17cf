/**
 * The client commands say what they did and did not do (`pqmed` run as child processes against an
 * in-process network of 4 managers and a user node; a test-double JSON-RPC proxy in front of the
 * user node rewrites or drops chosen answers):
 * - `enroll` leaves no identity file when the registration fails, `enroll --identity FILE`
 *   registers an existing identity and repeating it is harmless, a registration whose answer was
 *   lost keeps its identity and is recognised afterwards;
 * - `search` finds, by default, records written from another state directory; `--no-recover`
 *   says plainly that it searched only what its state knows;
 * - `record verify` / `record get` print VALID only when every check was done on the client,
 *   name what was not checked without `--genesis`, check the certificate of a record below the
 *   head with it, and fail with exit 3 on a tampered answer.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Doctor, newClientIdentity, parseRecordInput, Patient, RpcClient, unhex } from '../../src/client/index.js'
import { startTestNetwork, type TestNetwork } from '../e2e/network.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../client/fixtures/record.json', import.meta.url))

interface Out { code: number, stdout: string, stderr: string, json: unknown }

/** Runs `node bin/pqmed.js ARGS` and returns its exit code, output and (with --json) its last stdout line parsed. */
async function pqmed (...args: string[]): Promise<Out> {
  const parse = (s: string): unknown => { try { return JSON.parse(s.trim().split('\n').pop() as string) } catch { return undefined } }
  try {
    const r = await run(process.execPath, ['bin/pqmed.js', ...args], { cwd: ROOT, timeout: 300_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr, json: parse(e.stdout) }
  }
}

type Rewrite = (method: string, result: unknown) => unknown
interface Proxy { url: string, close: () => Promise<void> }

/**
 * A JSON-RPC proxy in front of `target`: `rewrite` may change a method's result; a method in
 * `drop` is forwarded to the node and its answer thrown away (the connection is cut), as when a
 * network fails after the request went out; a method in `refuse` is answered with that error.
 */
async function startProxy (target: string, opts: { rewrite?: Rewrite, drop?: string[], refuse?: Record<string, { code: number, message: string }> }): Promise<Proxy> {
  const body = async (req: IncomingMessage): Promise<string> => { let s = ''; for await (const c of req) s += (c as Buffer).toString(); return s }
  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await body(req)
      const call = JSON.parse(text) as { id: number, method: string }
      const refusal = opts.refuse?.[call.method]
      if (refusal !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ jsonrpc: '2.0', id: call.id, error: refusal }))
        return
      }
      const answer = await (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })).json() as { result?: unknown }
      if (opts.drop?.includes(call.method) === true) { req.socket.destroy(); return }
      if (answer.result !== undefined && opts.rewrite !== undefined) answer.result = opts.rewrite(call.method, answer.result)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(answer))
    })().catch(() => { req.socket.destroy() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => { resolve() })) }
  }
}

describe('pqmed client commands: enroll, search and record verify report what they did (CLI as processes)', function () {
  this.timeout(900_000)
  let net: TestNetwork
  let work: string
  const proxies: Proxy[] = []
  const proxy = async (opts: Parameters<typeof startProxy>[1]): Promise<string> => {
    const p = await startProxy(net.userUrl, opts)
    proxies.push(p)
    return p.url
  }

  before(async () => {
    net = await startTestNetwork(2)
    work = await mkdtemp(join(tmpdir(), 'pqmed-cli-client-'))
  })
  after(async () => {
    for (const p of proxies) await p.close().catch(() => {})
    await net?.stop()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  describe('enroll', () => {
    it('a failed enroll (node unreachable, or the registration refused) leaves no identity file behind', async () => {
      const dir = join(work, 'failed')
      await mkdir(dir)
      const unreachable = await pqmed('enroll', '--name', 'Ana', '--out', join(dir, 'ana.json'), '--rpc', 'http://127.0.0.1:9/')
      assert.equal(unreachable.code, 1, unreachable.stderr)
      // the node refuses the registration (a test double answering -32012)
      const refusing = await proxy({ refuse: { ehr_registerPatient: { code: -32012, message: 'Invalid transaction (test double)' } } })
      const refused = await pqmed('enroll', '--name', 'Ana', '--out', join(dir, 'ana.json'), '--rpc', refusing)
      assert.equal(refused.code, 1, refused.stderr)
      assert.match(refused.stderr, /-32012/)
      assert.deepEqual(await readdir(dir), [], 'no identity file and no temporary file is left')
      // the retry succeeds: nothing is in the way
      const ok = await pqmed('enroll', '--name', 'Ana', '--out', join(dir, 'ana.json'), '--rpc', net.userUrl, '--json')
      assert.equal(ok.code, 0, ok.stderr)
      assert.equal((ok.json as { status: string }).status, 'committed')
      assert.deepEqual(await readdir(dir), ['ana.json'])
    })

    it('enroll --identity FILE registers an existing identity; repeating it is harmless; --out never overwrites it', async () => {
      const file = join(work, 'ben.json')
      await writeFile(file, JSON.stringify(newClientIdentity('Ben Lee', 'patient')), { mode: 0o600 })
      const before = await readFile(file, 'utf8')
      const first = await pqmed('enroll', '--identity', file, '--rpc', net.userUrl, '--json')
      assert.equal(first.code, 0, first.stderr)
      const r = first.json as { status: string, patientId: string, height: number }
      assert.equal(r.status, 'committed')
      const enrolled = await new RpcClient(net.userUrl).getPatient(unhex(r.patientId))
      assert.equal(enrolled.height, r.height)
      const [again, over, both] = await Promise.all([
        pqmed('enroll', '--identity', file, '--rpc', net.userUrl),
        pqmed('enroll', '--name', 'Other', '--out', file, '--rpc', net.userUrl),
        pqmed('enroll', '--identity', file, '--name', 'X', '--rpc', net.userUrl)
      ])
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stdout, new RegExp(`enrolled patient Ben Lee: id ${r.patientId} \\(already enrolled at height ${r.height}\\)`))
      assert.equal(over.code, 2)
      assert.match(over.stderr, /refusing to overwrite.*pqmed enroll --identity/)
      assert.equal(both.code, 2)
      assert.equal(await readFile(file, 'utf8'), before)
    })

    it('a registration whose answer was lost keeps its identity, and enroll --identity then recognises it', async () => {
      const lossy = await proxy({ drop: ['ehr_registerPatient'] })
      const file = join(work, 'cleo.json')
      const lost = await pqmed('enroll', '--name', 'Cleo', '--out', file, '--rpc', lossy)
      assert.equal(lost.code, 1, lost.stderr)
      assert.match(lost.stderr, /was sent but not confirmed.*pqmed enroll --identity/)
      assert.ok(existsSync(file), 'the identity of a possibly committed registration is kept')
      const confirm = await pqmed('enroll', '--identity', file, '--rpc', net.userUrl, '--json')
      assert.equal(confirm.code, 0, confirm.stderr)
      assert.equal((confirm.json as { status: string }).status, 'already-enrolled')
    })
  })

  describe('search', () => {
    it('a search from a fresh state directory finds, by default, a record written from another; --no-recover says what it left out', async () => {
      const patient = join(work, 'dana.json')
      const dana = newClientIdentity('Dana', 'patient')
      await writeFile(patient, JSON.stringify(dana), { mode: 0o600 })
      await Patient.fromIdentity(net.pq, dana).enroll(new RpcClient(net.userUrl))
      const ck = join(net.dir, 'consortium-key.json')
      const written = await pqmed('record', 'submit', '--doctor', join(net.dir, 'doctor-1.json'), '--patient', patient, '--input', FIXTURE,
        '--consortium-key', ck, '--state', join(work, 'state-writer'), '--rpc', net.userUrl, '--json')
      assert.equal(written.code, 0, written.stderr)
      const id = (written.json as { recordId: string }).recordId
      // another doctor, another machine: a state directory that never saw the record
      const [found, human, local, none] = await Promise.all([
        pqmed('search', 'photophobia', '--doctor', join(net.dir, 'doctor-0.json'), '--consortium-key', ck, '--state', join(work, 'state-fresh-1'), '--rpc', net.userUrl, '--json'),
        pqmed('search', 'photophobia', '--doctor', join(net.dir, 'doctor-0.json'), '--consortium-key', ck, '--state', join(work, 'state-fresh-2'), '--rpc', net.userUrl),
        pqmed('search', 'photophobia', '--doctor', join(net.dir, 'doctor-0.json'), '--consortium-key', ck, '--state', join(work, 'state-fresh-3'), '--no-recover', '--rpc', net.userUrl),
        pqmed('search', 'no-such-symptom', '--doctor', join(net.dir, 'doctor-0.json'), '--consortium-key', ck, '--state', join(work, 'state-fresh-4'), '--rpc', net.userUrl)
      ])
      assert.equal(found.code, 0, found.stderr)
      const r = found.json as { matches: Array<{ recordId: string }>, coverage: { counters: string, updates: number } }
      assert.deepEqual(r.matches.map((m) => m.recordId), [id])
      assert.equal(r.coverage.counters, 'recovered')
      assert.equal(human.code, 0, human.stderr)
      assert.match(human.stdout, /^1 matching record\(s\), verified \(0 omitted, 0 forged; 1 page\(s\) of results\); covers every index update the node reports/)
      assert.ok(human.stdout.includes(id))
      // without recovery: no match, and the output says the answer covers only this state
      assert.equal(local.code, 0, local.stderr)
      assert.match(local.stdout, /^0 matching record\(s\).*covers ONLY .*records written by other clients are NOT searched: run without --no-recover/s)
      // no match at all is an answer, not an error: exit 0
      assert.equal(none.code, 0, none.stderr)
      assert.match(none.stdout, /^0 matching record\(s\), verified/)
    })
  })

  describe('record verify / record get', () => {
    let id: string
    let genesis: string
    before(async () => {
      // written through the SDK (not what is tested here): a patient, its identity file, two records
      genesis = join(net.dir, 'genesis.json')
      const rpc = new RpcClient(net.userUrl)
      const file = newClientIdentity('Eli', 'patient')
      await writeFile(join(work, 'eli.json'), JSON.stringify(file), { mode: 0o600 })
      const patient = Patient.fromIdentity(net.pq, file)
      await patient.enroll(rpc)
      const doctor = Doctor.fromIdentity(net.pq, net.files.doctors[1] as never, { consortiumKey: net.consortiumKey })
      const submit = async (): Promise<string> => {
        const recordId = patient.newRecordId()
        const handoff = doctor.openKeyTransfer(patient.keyTransfer(recordId, { name: 'Eli' }, doctor.kemPublicKey), { recordId, patientId: patient.id })
        return (await doctor.submitRecord(rpc, handoff, parseRecordInput(JSON.parse(await readFile(FIXTURE, 'utf8'))))).recordId
      }
      id = await submit()
      await submit() // a later block: the user node's newest certificate is no longer the record's
      const { height } = await rpc.getRecord(unhex(id))
      for (let t = 0; t < 100 && (await rpc.chainStatus()).height <= height; t++) await new Promise((resolve) => setTimeout(resolve, 100))
      assert.ok((await rpc.chainStatus()).height > height)
    })

    it('without --genesis: names what was not checked and does not say VALID', async () => {
      const [v, vj, g] = await Promise.all([
        pqmed('record', 'verify', id, '--rpc', net.userUrl),
        pqmed('record', 'verify', id, '--rpc', net.userUrl, '--json'),
        pqmed('record', 'get', id, '--rpc', net.userUrl)
      ])
      for (const o of [v, g]) {
        assert.equal(o.code, 0, o.stderr)
        assert.doesNotMatch(o.stdout, /\bVALID\b/)
        assert.match(o.stdout, /this client: NOT FULLY VERIFIED: passed header hash, ciphertext hashes, Merkle inclusion in the block; NOT checked doctor's signature, doctor registration, commit certificate \(2f \+ 1 managers\) \(needs the genesis file \(--genesis FILE\)/)
      }
      const j = vj.json as { complete: boolean, unchecked: Array<{ check: string }>, localVerification: { checks: Record<string, unknown> } }
      assert.equal(j.complete, false)
      assert.deepEqual(j.unchecked.map((u) => u.check), ['signature', 'doctorRegistered', 'certificate'])
      assert.equal(j.localVerification.checks.certificate, 'unchecked')
    })

    it('with --genesis: every check is done, the certificate of a record below the head included, and it says VALID', async () => {
      const [v, g, d] = await Promise.all([
        pqmed('record', 'verify', id, '--genesis', genesis, '--rpc', net.userUrl, '--json'),
        pqmed('record', 'get', id, '--genesis', genesis, '--rpc', net.userUrl),
        pqmed('record', 'get', id, '--genesis', genesis, '--decrypt', '--as', join(work, 'eli.json'), '--rpc', net.userUrl)
      ])
      assert.equal(v.code, 0, v.stderr)
      const j = v.json as { valid: boolean, complete: boolean, localVerification: { checks: Record<string, unknown> } }
      assert.equal(j.valid, true)
      assert.equal(j.complete, true)
      assert.deepEqual(j.localVerification.checks, { headerHash: true, ciphertextHashes: [true, true, true], inclusion: true, signature: true, doctorRegistered: true, certificate: true })
      for (const o of [g, d]) {
        assert.equal(o.code, 0, o.stderr)
        assert.match(o.stdout, /this client: VALID \(every check done on this client: header hash, ciphertext hashes, Merkle inclusion in the block, doctor's signature, doctor registration, commit certificate/)
      }
    })

    it('a tampered answer fails with exit 3 (a ciphertext, the certificate, a withheld certificate)', async () => {
      type Rec = { ciphertexts: string[], certificate: { signatures: Array<{ signature: string }> } | null }
      const flip = (b64: string): string => { const b = Buffer.from(b64, 'base64'); b[b.length - 1] = (b[b.length - 1] as number) ^ 1; return b.toString('base64') }
      const badCipher = await proxy({ rewrite: (m, r) => m === 'ehr_getRecord' ? { ...(r as Rec), ciphertexts: (r as Rec).ciphertexts.map((c, i) => i === 1 ? flip(c) : c) } : r })
      const badCert = await proxy({
        rewrite: (m, r) => {
          const c = (r as Rec).certificate
          return m === 'ehr_getRecord' && c !== null ? { ...(r as Rec), certificate: { ...c, signatures: c.signatures.map((s) => ({ ...s, signature: flip(s.signature) })) } } : r
        }
      })
      const noCert = await proxy({ rewrite: (m, r) => m === 'ehr_getRecord' ? { ...(r as Rec), certificate: null } : r })
      const [c1, c2, c3, c4, c5, c6] = await Promise.all([
        pqmed('record', 'verify', id, '--rpc', badCipher),
        pqmed('record', 'get', id, '--rpc', badCipher),
        pqmed('record', 'verify', id, '--genesis', genesis, '--rpc', badCert),
        pqmed('record', 'verify', id, '--rpc', badCert),
        pqmed('record', 'verify', id, '--genesis', genesis, '--rpc', noCert),
        pqmed('record', 'get', id, '--genesis', genesis, '--decrypt', '--as', join(work, 'eli.json'), '--rpc', noCert)
      ])
      for (const o of [c1, c2]) { assert.equal(o.code, 3, o.stdout + o.stderr); assert.match(o.stderr, /INVALID: failed ciphertext hashes/) }
      assert.equal(c3.code, 3, c3.stdout + c3.stderr)
      assert.match(c3.stderr, /INVALID: failed commit certificate/)
      // without the genesis the certificate cannot be checked: not VALID, and it says so
      assert.equal(c4.code, 0, c4.stderr)
      assert.match(c4.stdout, /NOT FULLY VERIFIED.*NOT checked .*commit certificate/)
      for (const o of [c5, c6]) {
        assert.equal(o.code, 3, o.stdout + o.stderr)
        assert.match(o.stderr, /verification incomplete although --genesis was given: commit certificate \(2f \+ 1 managers\): the node's answer carries no commit certificate/)
      }
    })
  })
})
