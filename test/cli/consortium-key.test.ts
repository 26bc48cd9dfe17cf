/**
 * Issue 11 item 4: the consortium key file outside the devnet. `pqmed genesis` writes
 * consortium-key.json, `pqmed consortium-key` makes one for any genesis (never replacing one),
 * `sim:local`'s data dir gets one, and a doctor then submits and searches records with the CLI
 * against a network started by hand (processes on loopback).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadClientIdentity, newClientIdentity, openConsortiumKey, parseClientIdentity, parseConsortiumKeyFile } from '../../src/client/index.js'
import { loadPqBackend, toHex, type PqBackend } from '../../src/crypto/index.js'
import { prepareNetwork } from '../../src/cli/network.js'
import { freePorts, ProcNet } from '../../src/cli/procs.js'
import { topologyFromFlags } from '../../src/cli/topology.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin/pqmed.js')

async function pqmed (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 120_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr }
  }
}

/** The key a doctor identity file opens from a consortium key file. */
async function openAs (pq: PqBackend, keyFile: string, identity: string): Promise<string> {
  const ck = parseConsortiumKeyFile(JSON.parse(await readFile(keyFile, 'utf8')))
  const id = loadClientIdentity(parseClientIdentity(JSON.parse(await readFile(identity, 'utf8'))))
  return toHex(openConsortiumKey(pq, ck, id.keys.kem.secretKey))
}

describe('cli: consortium key files outside the devnet (genesis, consortium-key, sim:local)', function () {
  this.timeout(300_000)
  const net = new ProcNet()
  let dir: string
  let pq: PqBackend
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqmed-ck-'))
    pq = await loadPqBackend()
  })
  after(async () => {
    await net.stopAll()
    await rm(dir, { recursive: true, force: true })
  })

  it('pqmed genesis writes consortium-key.json that every genesis doctor opens to the same key, and only they', async () => {
    const g = await pqmed('genesis', '--dir', join(dir, 'g'), '--managers', '1', '--doctors', '2')
    assert.equal(g.code, 0, g.stderr)
    const ckPath = join(dir, 'g', 'consortium-key.json')
    assert.equal((JSON.parse(g.stdout) as { consortiumKey: string }).consortiumKey, ckPath)
    const k0 = await openAs(pq, ckPath, join(dir, 'g', 'identities', 'doctor-0.json'))
    assert.equal(await openAs(pq, ckPath, join(dir, 'g', 'identities', 'doctor-1.json')), k0)
    assert.equal(((await import('node:fs')).statSync(ckPath).mode & 0o777), 0o600)
    // anyone else (here a patient) has no entry
    await writeFile(join(dir, 'other.json'), JSON.stringify(newClientIdentity('someone', 'patient')))
    await assert.rejects(openAs(pq, ckPath, join(dir, 'other.json')), /no entry for this doctor/)
    // a second genesis into the same dir would leave a key of another network behind: refused, nothing written
    const again = await pqmed('genesis', '--dir', join(dir, 'g'), '--managers', '1', '--doctors', '2')
    assert.equal(again.code, 2)
    assert.match(again.stderr, /consortium-key\.json exists/)
    assert.equal(await openAs(pq, ckPath, join(dir, 'g', 'identities', 'doctor-0.json')), k0)
    // no doctors, no key file
    assert.equal((await pqmed('genesis', '--dir', join(dir, 'g0'), '--managers', '1', '--doctors', '0')).code, 0)
    assert.equal(existsSync(join(dir, 'g0', 'consortium-key.json')), false)
  })

  it('pqmed consortium-key makes a file for a genesis; never replaces one; refuses a genesis without doctors or a bad file', async () => {
    const out = join(dir, 'ck2.json')
    const r = await pqmed('consortium-key', '--genesis', join(dir, 'g', 'genesis.json'), '--out', out)
    assert.equal(r.code, 0, r.stderr)
    const ev = JSON.parse(r.stdout) as { event: string, path: string, keyId: string, doctors: Array<{ name: string }> }
    assert.equal(ev.event, 'consortium-key')
    assert.equal(ev.path, out)
    assert.deepEqual(ev.doctors.map((d) => d.name), ['doctor-0', 'doctor-1'])
    const k = await openAs(pq, out, join(dir, 'g', 'identities', 'doctor-1.json'))
    assert.notEqual(k, await openAs(pq, join(dir, 'g', 'consortium-key.json'), join(dir, 'g', 'identities', 'doctor-1.json')), 'a fresh key')
    const before = await readFile(out, 'utf8')
    const again = await pqmed('consortium-key', '--genesis', join(dir, 'g', 'genesis.json'), '--out', out)
    assert.equal(again.code, 2)
    assert.match(again.stderr, /exists: not replacing a consortium key/)
    assert.equal(await readFile(out, 'utf8'), before)
    const none = await pqmed('consortium-key', '--genesis', join(dir, 'g0', 'genesis.json'), '--out', join(dir, 'none.json'))
    assert.equal(none.code, 2)
    assert.match(none.stderr, /registers no doctor/)
    assert.equal(existsSync(join(dir, 'none.json')), false)
    const bad = await pqmed('consortium-key', '--genesis', join(dir, 'g', 'identities', 'doctor-0.json'), '--out', join(dir, 'bad.json'))
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /is not a genesis file/)
    assert.equal((await pqmed('consortium-key', '--out', join(dir, 'x.json'))).code, 2)
  })

  it('a sim:local / npm start data dir gets consortium-key.json, also when an older one had none', async () => {
    const t = topologyFromFlags({ managers: 1, users: 0, doctors: 1, chainId: 'pqmed-ck' })
    const d = join(dir, 'sim')
    await prepareNetwork(t, d)
    const k = await openAs(pq, join(d, 'consortium-key.json'), join(d, 'identities', 'doctor-0.json'))
    await prepareNetwork(t, d)
    assert.equal(await openAs(pq, join(d, 'consortium-key.json'), join(d, 'identities', 'doctor-0.json')), k, 'kept on reuse')
    await unlink(join(d, 'consortium-key.json'))
    await prepareNetwork(t, d)
    assert.equal(existsSync(join(d, 'consortium-key.json')), true)
  })

  it('on a network started by hand, a doctor submits and finds a record with the CLI and the genesis key file', async () => {
    const [p2p] = await freePorts(1) as [number]
    const g = join(dir, 'hand')
    assert.equal((await pqmed('genesis', '--dir', g, '--managers', '1', '--doctors', '1', '--base-port', String(p2p))).code, 0)
    const m = await net.start({ name: 'm0', args: ['--role', 'manager', '--genesis', join(g, 'genesis.json'), '--data-dir', join(g, 'm0'), '--identity', join(g, 'identities', 'manager-0.json'), '--listen', `/ip4/127.0.0.1/tcp/${p2p}`, '--rpc-port', '0', '--loopback'] })
    const patient = join(dir, 'patient.json')
    const e = await pqmed('enroll', '--name', 'Ana', '--out', patient, '--rpc', m.rpc)
    assert.equal(e.code, 0, e.stderr)
    const state = join(dir, 'state')
    const s = await pqmed('record', 'submit', '--doctor', join(g, 'identities', 'doctor-0.json'), '--patient', patient, '--input', join(ROOT, 'test/client/fixtures/record.json'),
      '--consortium-key', join(g, 'consortium-key.json'), '--state', state, '--rpc', m.rpc, '--json')
    assert.equal(s.code, 0, s.stderr)
    const { recordId, status } = JSON.parse(s.stdout) as { recordId: string, status: string }
    assert.equal(status, 'committed')
    const q = await pqmed('search', 'headache', '--doctor', join(g, 'identities', 'doctor-0.json'), '--consortium-key', join(g, 'consortium-key.json'), '--state', state, '--rpc', m.rpc, '--json')
    assert.equal(q.code, 0, q.stderr)
    assert.deepEqual((JSON.parse(q.stdout) as { matches: Array<{ recordId: string }> }).matches.map((x) => x.recordId), [recordId])
    assert.equal(await net.stop('m0'), 0)
  })
})
