/**
 * `ehr_getRecords` through a user node, as processes: 5 managers and user nodes. Managers 1–4
 * are Byzantine in their `/query/1 records` answers only (`--fault-records`: a wrong record in
 * each asked id's place, every record withheld, an extra record, a corrupted ciphertext). Every answer must be exactly the records asked for, in order, with only the asked
 * ciphertexts (each hashing to its committed hash), the ids that are not committed listed per id;
 * a manager whose answer fails verification is distrusted, a withheld record is asked of the next
 * manager.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { RpcClient } from '../../src/client/index.js'
import { loadPqBackend, sha256, toHex } from '../../src/crypto/index.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import type { RecordsJson } from '../../src/rpc/index.js'
import { ProcNet } from '../../src/cli/procs.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'

describe('node: ehr_getRecords through a user node, with Byzantine managers (5 managers, 4 of them Byzantine in records answers, + 2 user nodes, processes)', function () {
  this.timeout(600_000)
  const net = new ProcNet()
  let root: { path: string, remove: () => Promise<void> }
  let ports: number[]
  let files: DevnetFiles
  const ids: Uint8Array[] = []
  const fieldHashes = new Map<string, Uint8Array[]>()
  const unknown = new Uint8Array(32).fill(0xee)
  const FAULTS = ['wrong-records', 'withhold-records', 'extra-records', 'corrupt-records'] as const
  /** Nodes share two loaded cores with other test runs: generous start timeouts. */
  const READY_MS = 180_000

  const managerArgs = (i: number, fault?: string): string[] => [
    '--role', 'manager', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, `m${i}`),
    '--identity', join(root.path, 'identities', `manager-${i}.json`), '--listen', `/ip4/127.0.0.1/tcp/${ports[i]}`, '--rpc-port', '0', '--loopback',
    ...(fault === undefined ? [] : ['--fault-records', fault])
  ]
  const startUser = async (j: number): Promise<RpcClient> => {
    const p = await net.start({ name: `u${j}`, args: ['--role', 'user', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, `u${j}`), '--identity', join(root.path, 'identities', `user-${j}.json`), '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc-port', '0', '--loopback'] }, READY_MS)
    const client = new RpcClient(p.rpc)
    const managers = new Set(files.genesis.managers.map((m) => m.peerId))
    for (let t = 0; t < 200; t++) {
      const peers = await client.call<Array<{ peerId: string }>>('net_peers')
      if (peers.filter((x) => managers.has(x.peerId)).length === managers.size) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return client
  }
  const stderr = (name: string): string => net.procs.get(name)?.stderr.join('') ?? ''

  /** Checks an answer to `ehr_getRecords(asked, fields)`: the committed ones in order, only those fields, the rest missing. */
  function checkAnswer (r: RecordsJson, asked: Uint8Array[], fields: number[] | undefined): void {
    const committed = asked.filter((id) => fieldHashes.has(toHex(id)))
    assert.deepEqual(r.records.map((x) => x.recordId), committed.map(toHex))
    assert.deepEqual(r.missing, asked.filter((id) => !fieldHashes.has(toHex(id))).map(toHex))
    for (const rec of r.records) {
      const hashes = fieldHashes.get(rec.recordId) as Uint8Array[]
      assert.deepEqual(rec.fields, fields ?? [0, 1, 2])
      rec.ciphertexts.forEach((c, i) => { assert.deepEqual(sha256(Buffer.from(c, 'base64')), hashes[rec.fields[i] as number]) })
      assert.ok(r.headers.some((h) => h.height === rec.height && h.recordIds.includes(rec.recordId)))
    }
    assert.deepEqual(r.headers.map((h) => h.height), [...new Set(r.records.map((x) => x.height))].sort((a, b) => a - b))
  }

  before(async () => {
    const pq = await loadPqBackend()
    root = await tempDir('get-records')
    ports = await freePorts(5)
    files = await createDevnet({ chainId: 'pqmed-records', managers: 5, doctors: 1, users: 2, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    await writeDevnet(root.path, files)
    // the faults touch only `/query/1 records` answers: consensus and every other read stay honest
    await Promise.all([0, 1, 2, 3, 4].map(async (i) => await net.start({ name: `m${i}`, args: managerArgs(i, i === 0 ? undefined : FAULTS[i - 1]) }, READY_MS)))
    const client = await startUser(0)
    const doctor = await TestDoctor.create(files, 0, pq)
    for (let i = 0; i < 4; i++) {
      const s = doctor.record(i)
      assert.equal((await client.submitRecord(s.bytes, true)).status, 'committed')
      if (s.tx.type !== 'record') throw new Error('not a record')
      ids.push(s.tx.recordId)
      fieldHashes.set(toHex(s.tx.recordId), [...s.tx.fields])
    }
  })

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return
    for (const [name, p] of net.procs) console.error(`--- ${name}\n${p.stderr.join('').slice(-3000)}`)
  })

  after(async () => {
    await net.stopAll()
    await root?.remove()
  })

  it('one call answers every record with only the asked fields, missing ids listed per id, certificates on request; a manager answers from its store the same way', async () => {
    const u0 = new RpcClient(net.procs.get('u0')?.rpc)
    const asked = [ids[2]!, unknown, ids[0]!, ids[3]!]
    const r = await u0.getRecords(asked, { fields: [1] })
    checkAnswer(r, asked, [1])
    assert.equal(r.verifiedBy, 'user-node')
    assert.equal(r.certificates, undefined)
    const all = await u0.getRecords(ids, { certificates: true })
    checkAnswer(all, ids, undefined)
    assert.equal(all.certificates?.length, all.headers.length)
    all.certificates?.forEach((c, i) => { assert.equal(c?.headerHash, all.headers[i]?.hash) })
    // straight from a manager's store, the same answer
    const direct = await new RpcClient(net.procs.get('m0')?.rpc).getRecords(asked, { fields: [1] })
    checkAnswer(direct, asked, [1])
    assert.equal(direct.verifiedBy, 'manager-store')
    // a record without attachments has no field 3: it is left out of that record's fields
    const some = await u0.getRecords([ids[1]!], { fields: [3, 2] })
    assert.deepEqual(some.records[0]?.fields, [2])
  })

  it('managers 1–4 answer with a wrong, withheld, extra or corrupted record each: every answer is still exactly right, and the user node distrusts the three whose answers fail verification', async () => {
    // a fresh user node (u0 may already avoid some managers), asking only for committed records,
    // so that every manager it asks is asked for records; each fault logs on its manager
    const client = await startUser(1)
    const asked = [ids[3]!, ids[1]!, ids[0]!, ids[2]!]
    const faultLines = (k: number): number => stderr(`m${k + 1}`).split(`byzantine: ${FAULTS[k] as string} in a records answer`).length - 1
    const before = FAULTS.map((_, k) => faultLines(k))
    const askedFor = (k: number): boolean => faultLines(k) > (before[k] as number)
    // the user node rotates the manager it asks first, and asks the next one when an answer fails
    let calls = 0
    for (; calls < 20 && !FAULTS.every((_, k) => askedFor(k)); calls++) {
      checkAnswer(await client.getRecords(asked, { fields: [2, 1] }), asked, [2, 1])
    }
    assert.deepEqual(FAULTS.filter((_, k) => !askedFor(k)), [], `every Byzantine manager was asked (${calls} calls)`)
    checkAnswer(await client.getRecords(asked, { fields: [2, 1] }), asked, [2, 1])
    const distrusted = [...stderr('u1').matchAll(/manager (\S+) sent an answer that failed verification \(records: /g)].map((m) => m[1])
    const peerOf = (i: number): string | undefined => net.procs.get(`m${i}`)?.peerId
    assert.deepEqual(new Set(distrusted), new Set([1, 3, 4].map(peerOf)), 'wrong, extra and corrupt answers fail verification; a withheld record is asked elsewhere')
  })
})
