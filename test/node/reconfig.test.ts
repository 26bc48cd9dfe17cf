import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadPqBackend, sha256, toHex, type PqBackend } from '../../src/crypto/index.js'
import { changeSubmission, mergeChangeFiles, proposeChange, signChangeFile, type ChangeFile } from '../../src/client/manager-change.js'
import { loadHospital, registerDoctor, submitGovernanceTx, type Hospital } from '../../src/client/governance.js'
import { RpcClient } from '../../src/client/rpc.js'
import { readJsonFile } from '../../src/client/state.js'
import { RPC_ERRORS, type ConsortiumStateJson, type RecordVerificationJson } from '../../src/rpc/backend.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { loadIdentity, newIdentityFile, type Identity } from '../../src/node/identity.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'
import { ensureBuilt, pqmed } from '../cli/helpers.js'
import { ProcNet, rpc } from '../../src/cli/procs.js'

interface Status { height: number, headerHash: string }
interface HeaderAnswer { header: { height: number, proposer: number, configHash: string, nextConfigHash: string }, certificate: { signatures: Array<{ validator: number }> } | null }

/**
 * Issue 14's acceptance test ("Done when"), as real processes: 4 managers commit records while a
 * fifth hospital joins (its manager process starts from the genesis file, syncs, and takes part in
 * consensus: it proposes blocks), a hospital rotates its manager key (its node restarts on the new
 * key and proposes again; the new key signs the next change), then one hospital leaves. The joined hospital adds a doctor, who
 * writes a record, rotates its key, writes another, is revoked, and is refused afterwards; the
 * departed hospital's doctor is refused after the departure, and its node no longer receives
 * blocks. A user node stopped before the first change catches up and verifies every record after
 * the last. No fork, no lost record.
 */
describe('node: a hospital joins and another leaves, as real processes', function () {
  this.timeout(600_000)
  const net = new ProcNet()
  let files: DevnetFiles
  let root: { path: string, remove: () => Promise<void> }
  let ports: number[]
  let doctor: TestDoctor
  let pq: PqBackend
  let ids: Identity[]
  const committed: string[] = []
  let seq = 0

  const managerArgs = (i: number, identity = `manager-${i}.json`): string[] => [
    '--role', 'manager', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, `m${i}`),
    '--identity', join(root.path, 'identities', identity), '--listen', `/ip4/127.0.0.1/tcp/${ports[i]}`, '--rpc-port', '0', '--loopback'
  ]
  const userArgs = [
    '--role', 'user', '--genesis', '', '--data-dir', '', '--identity', '', '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc-port', '0', '--loopback'
  ]
  const url = (name: string): string => { const p = net.procs.get(name); if (p === undefined) throw new Error(`${name} not running`); return p.rpc }
  const client = (name: string): RpcClient => new RpcClient(url(name))
  const doctorFrom = async (path: string): Promise<TestDoctor> => await TestDoctor.create({ doctors: [await readJsonFile(path, 'doctor')] } as unknown as DevnetFiles, 0, pq)

  /** A record of `d` submitted through `via`, committed; its id is kept to verify at the end. */
  async function record (d: TestDoctor, i: number, via: string): Promise<string> {
    const s = d.record(i)
    const r = await rpc<{ status: string }>(url(via), 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
    assert.equal(r.status, 'committed')
    committed.push(toHex(s.tx.recordId))
    return toHex(s.tx.recordId)
  }

  /** A record of `d` refused as INACTIVE_DOCTOR. */
  async function refused (d: TestDoctor, i: number, via: string): Promise<void> {
    const s = d.record(i)
    await assert.rejects(rpc(url(via), 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true }),
      (err: Error & { rpcCode?: number }) => { assert.equal(err.rpcCode, RPC_ERRORS.INACTIVE_DOCTOR.code, err.message); return true })
  }

  async function submit (count: number, via: string[]): Promise<string[]> {
    const out: string[] = []
    for (let k = 0; k < count; k++) {
      const s = doctor.record(seq++)
      const r = await rpc<{ status: string }>(url(via[k % via.length] as string), 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
      assert.equal(r.status, 'committed')
      committed.push(toHex(s.tx.recordId))
      out.push(toHex(s.tx.recordId))
    }
    return out
  }

  async function converge (names: string[], minHeight = 0, timeoutMs = 60_000): Promise<Status> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const st = await Promise.all(names.map(async (n) => await rpc<Status>(url(n), 'chain_status')))
      const top = Math.max(...st.map((s) => s.height))
      if (top >= minHeight && st.every((s) => s.height === top)) {
        assert.equal(new Set(st.map((s) => s.headerHash)).size, 1, `nodes at height ${top} disagree on the head hash`)
        return st[0] as Status
      }
      if (Date.now() > deadline) throw new Error(`no convergence: ${JSON.stringify(st.map((s) => s.height))}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  /** Proposes a change against the configuration in effect, has `signers` sign their own copies, merges and submits them. */
  async function change (p: Omit<Parameters<typeof proposeChange>[0], 'chainId' | 'baseConfig' | 'time'>, signers: number[], hospitalOf: (i: number) => Uint8Array | undefined = () => undefined): Promise<number> {
    const head = await rpc<HeaderAnswer>(url('m0'), 'chain_getHeader', { height: 'latest' })
    const file: ChangeFile = proposeChange({ ...p, chainId: files.genesis.chainId, baseConfig: Buffer.from(head.header.nextConfigHash, 'hex'), time: Date.now() })
    const copies = signers.map((i) => signChangeFile(pq, JSON.parse(JSON.stringify(file)) as ChangeFile, (ids[i] as Identity).keys.sig, hospitalOf(i)))
    const merged = mergeChangeFiles(copies)
    const r = await rpc<{ status: string, height: number }>(url('m0'), 'consortium_submitChange', { submission: Buffer.from(changeSubmission(merged)).toString('base64'), wait: true })
    assert.equal(r.status, 'committed')
    return r.height
  }

  before(async () => {
    await ensureBuilt() // the CLI makes the rotated key's identity file
    root = await tempDir('reconf')
    ports = await freePorts(5)
    pq = await loadPqBackend()
    files = await createDevnet({ chainId: 'pqmed-reconf', managers: 4, doctors: 1, users: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    await writeDevnet(root.path, files)
    // the fifth hospital's manager identity: not in genesis
    const m4 = newIdentityFile('hospital-4', 'manager')
    await writeFile(join(root.path, 'identities', 'manager-4.json'), JSON.stringify(m4))
    ids = await Promise.all([0, 1, 2, 3].map(async (i) => await loadIdentity(files.managers[i] as Parameters<typeof loadIdentity>[0])))
    ids.push(await loadIdentity(m4))
    doctor = await TestDoctor.create(files, 0, pq)
    userArgs[3] = join(root.path, 'genesis.json'); userArgs[5] = join(root.path, 'u0'); userArgs[7] = join(root.path, 'identities', 'user-0.json')
    await Promise.all([0, 1, 2, 3].map(async (i) => await net.start({ name: `m${i}`, args: managerArgs(i) }, 240_000)))
    await net.start({ name: 'u0', args: userArgs }, 240_000)
  })

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return
    for (const [name, p] of net.procs) {
      const st = await rpc<Status>(p.rpc, 'chain_status', {}, 5000).catch((e: Error) => e.message)
      console.error(`--- ${name}: ${JSON.stringify(st)}\n${p.stderr.join('').slice(-4000)}`)
    }
  })

  after(async () => {
    await net.stopAll()
    await root?.remove()
  })

  it('a fifth hospital joins (2f+1 signatures), syncs and takes part in consensus; a hospital rotates its manager key; one hospital leaves; a user node offline across all three catches up and verifies', async () => {
    await submit(6, ['m0', 'm1'])
    // hospital 1 registers a doctor, who writes a record (hospital 1 leaves later)
    const h1: Hospital = await loadHospital(join(root.path, 'identities', 'manager-1.json'))
    const bobPath = join(root.path, 'bob.json')
    assert.equal((await registerDoctor(pq, client('m1'), h1, { path: bobPath, name: 'Dr. Bob' })).status, 'committed')
    const bob = await doctorFrom(bobPath)
    const bobRecord = await record(bob, 1, 'm2')
    const start = await converge(['m0', 'm1', 'm2', 'm3', 'u0'])
    // the user node goes offline before the first change
    assert.equal(await net.stop('u0'), 0)

    // 1. hospital 4 joins: 3 of the 4 genesis managers sign, each its own copy
    const k = ids[4] as Identity
    const joinHeight = await change({ action: 'add', manager: { name: 'hospital-4', sigPublicKey: k.keys.sig.publicKey, peerId: k.peerId, addrs: [`/ip4/127.0.0.1/tcp/${ports[4]}`] } }, [0, 2, 3])
    assert.ok(joinHeight > start.height)
    // its manager starts from the genesis file and its identity, and syncs the chain as a follower
    // (the change takes effect joinHeight + 2, two blocks later: no block is made while nothing is submitted)
    await net.start({ name: 'm4', args: managerArgs(4) }, 240_000)
    await converge(['m0', 'm1', 'm2', 'm3', 'm4'], joinHeight)
    // records keep coming, submitted to the new manager (so its mempool holds them whatever its gossip
    // mesh): it takes part and leads heights ≡ 4 (mod 5) from joinHeight + 2 on
    await submit(12, ['m4'])
    const afterJoin = await converge(['m0', 'm1', 'm2', 'm3', 'm4'], joinHeight + 8)
    const proposers = new Set<number>()
    for (let h = joinHeight + 2; h <= afterJoin.height; h++) {
      const a = await rpc<HeaderAnswer>(url('m4'), 'chain_getHeader', { height: h })
      proposers.add(a.header.proposer)
      assert.notEqual(a.header.configHash, (await rpc<HeaderAnswer>(url('m4'), 'chain_getHeader', { height: 1 })).header.configHash, `height ${h} is certified by the new set`)
    }
    assert.ok(proposers.has(4), `the new manager proposed a committed block (proposers ${[...proposers].join(',')})`)
    const set5 = await rpc<ConsortiumStateJson>(url('m2'), 'chain_getConsortium')
    assert.deepEqual([set5.managers.length, set5.faultTolerance], [5, 1])
    assert.equal(set5.configHash, (await rpc<HeaderAnswer>(url('m2'), 'chain_getHeader', { height: set5.height })).header.configHash)

    // the joined hospital adds a doctor (signed with its manager key, which only the chain's manager set knows),
    // who writes a record, rotates its key, writes another, and is revoked: its next submission is refused
    const h4: Hospital = await loadHospital(join(root.path, 'identities', 'manager-4.json'))
    const adaPath = join(root.path, 'ada.json')
    const added = await registerDoctor(pq, client('m4'), h4, { path: adaPath, name: 'Dr. Ada' })
    assert.equal(added.status, 'committed')
    const ada = await doctorFrom(adaPath)
    const adaRecords = [await record(ada, 1, 'm0')]
    const ada2Path = join(root.path, 'ada-2.json')
    assert.equal((await registerDoctor(pq, client('m3'), h4, { path: ada2Path, previous: await readJsonFile(adaPath, 'doctor') as never })).status, 'committed')
    await refused(ada, 2, 'm2')
    const ada2 = await doctorFrom(ada2Path)
    adaRecords.push(await record(ada2, 3, 'm4'))
    const revoked = await submitGovernanceTx(pq, client('m0'), h4, { type: 'doctor', action: 'revoke', hospital: h4.id, doctor: ada2.id.keys.id, time: Date.now() })
    assert.equal(revoked.status, 'committed')
    await refused(ada2, 4, 'm1')

    // 2. hospital 2 rotates its manager key (a new identity file naming its hospital id, made with
    // `pqmed peer-id --new-identity F --role manager --hospital-id ID`): signed by 4 of 5, the old key among them;
    // from the boundary the old key's votes do not count (4 of 5 still make a quorum), and the manager restarts on the new key
    const h2Id = toHex(sha256((ids[2] as Identity).keys.sig.publicKey))
    const cli = await pqmed(['peer-id', '--new-identity', join(root.path, 'identities', 'manager-2-key2.json'), '--role', 'manager', '--hospital-id', h2Id])
    assert.equal(cli.code, 0, cli.stderr)
    const k2 = await loadIdentity(await readJsonFile(join(root.path, 'identities', 'manager-2-key2.json'), 'identity') as never)
    assert.equal(cli.stdout.trim(), k2.peerId)
    const rotateHeight = await change({ action: 'rotate', hospitalId: h2Id, manager: { sigPublicKey: k2.keys.sig.publicKey, peerId: k2.peerId, addrs: [`/ip4/127.0.0.1/tcp/${ports[2]}`] } }, [0, 2, 3, 4])
    await submit(3, ['m0'])
    await converge(['m0', 'm3', 'm4'], rotateHeight + 3)
    assert.equal(await net.stop('m2'), 0)
    await net.start({ name: 'm2', args: managerArgs(2, 'manager-2-key2.json') }, 240_000)
    ids[2] = k2
    await submit(10, ['m2', 'm0'])
    const afterRotate = await converge(['m0', 'm1', 'm2', 'm3', 'm4'], rotateHeight + 12)
    const rotatedProposers = new Set<number>()
    for (let h = rotateHeight + 2; h <= afterRotate.height; h++) rotatedProposers.add((await rpc<HeaderAnswer>(url('m0'), 'chain_getHeader', { height: h })).header.proposer)
    assert.ok(rotatedProposers.has(2), `hospital 2 proposed a committed block on its new key (proposers ${[...rotatedProposers].join(',')})`)

    // 3. hospital 1 leaves: 4 of the 5 current managers sign (the joined one, and hospital 2 with its new key, among them)
    const leaveHeight = await change({ action: 'remove', hospitalId: toHex(sha256((ids[1] as Identity).keys.sig.publicKey)) }, [0, 2, 3, 4], (i) => i === 2 ? Buffer.from(h2Id, 'hex') : undefined)
    const tail = await submit(10, ['m0', 'm3', 'm4'])
    const last = await converge(['m0', 'm2', 'm3', 'm4'], leaveHeight + 6)
    for (let h = leaveHeight + 2; h <= last.height; h++) {
      const a = await rpc<HeaderAnswer>(url('m0'), 'chain_getHeader', { height: h })
      assert.ok(a.certificate !== null && a.certificate.signatures.every((s) => s.validator < 4), `height ${h}: certified by the 4 remaining managers`)
    }
    // the departed hospital's doctor is refused from now on (its earlier record stays valid, below)
    await refused(bob, 2, 'm3')
    // the departed hospital's node is no longer admitted by the managers: it stops receiving blocks
    await new Promise((r) => setTimeout(r, 4000)) // the managers' allow lists follow the set every 2 s
    const cut = (await rpc<Status>(url('m1'), 'chain_status')).height
    await submit(2, ['m0'])
    const after = await converge(['m0', 'm2', 'm3', 'm4'], cut + 1)
    await new Promise((r) => setTimeout(r, 2000))
    assert.equal((await rpc<Status>(url('m1'), 'chain_status')).height, cut, `the departed manager stays at ${cut} while the chain is at ${after.height}`)
    const set4 = await rpc<ConsortiumStateJson>(url('m0'), 'chain_getConsortium')
    assert.deepEqual(set4.managers.map((m) => m.name).sort(), ['hospital-4', 'manager-0', 'manager-2', 'manager-3'].sort())

    // 4. the user node comes back, catches up across both changes and verifies records committed after the last one
    await net.start({ name: 'u0', args: userArgs }, 240_000)
    await converge(['m0', 'u0'], after.height)
    for (const id of [...tail, committed[0] as string]) {
      const r = await rpc<{ verifiedBy: string, tx: { recordId: string } }>(url('u0'), 'ehr_getRecord', { recordId: id })
      assert.equal(r.verifiedBy, 'user-node')
      assert.equal(r.tx.recordId, id)
    }
    // the revoked and the departed hospital's doctors' earlier records still verify, with their status
    for (const [id, status] of [[adaRecords[0], 'rotated'], [adaRecords[1], 'revoked'], [bobRecord, 'active']] as const) {
      const v = await rpc<RecordVerificationJson>(url('u0'), 'ehr_verifyRecord', { recordId: id })
      assert.equal(v.valid, true, JSON.stringify(v))
      assert.equal(v.doctorStatus, status)
    }
    // no lost record: every committed record is on every manager
    for (const id of committed) await rpc(url('m4'), 'ehr_getRecord', { recordId: id })
  })
})
