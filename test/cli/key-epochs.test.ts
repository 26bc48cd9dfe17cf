import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rpc } from '../../src/cli/procs.js'
import type { KeyEpochsJson } from '../../src/rpc/backend.js'
import { requireNewestEpoch } from '../../src/cli/client.js'
import type { ConsortiumKeyRing } from '../../src/client/consortium.js'
import { BIN, startDevnet, type Run } from './helpers.js'

interface CliResult { code: number, stdout: string, stderr: string }
async function cli (args: string[], cwd: string): Promise<CliResult> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}
const json = <T>(r: CliResult): T => { assert.equal(r.code, 0, r.stderr); return JSON.parse(r.stdout) as T }

/**
 * Issue 14, item 4, through processes: 4 managers and a user node (npm start). A manager rotates
 * the consortium search key to epoch 2 (`pqmed consortium-key rotate`); doctors fetch it through
 * the user node, which verifies each epoch's inclusion; a record written after the rotation is
 * indexed under epoch 2, and a search through the user node finds the records of both epochs.
 */
describe('cli: consortium key epochs on a 4-manager network with a user node', function () {
  this.timeout(300_000)
  let dir: string
  let run: Run | undefined
  let user = ''
  const managers: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqmed-epochs-'))
    run = await startDevnet(join(dir, 'net'), ['--records', '0', '--users', '1'])
    for (const m of run.stdout.matchAll(/^ {2}(manager-\d|user-\d)\s+(http:\/\/127\.0\.0\.1:\d+\/)/gm)) {
      if ((m[1] as string).startsWith('manager-')) managers.push(m[2] as string)
      else user = m[2] as string
    }
    assert.equal(managers.length, 4)
    assert.notEqual(user, '')
  })

  after(async () => {
    await run?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('rotates to epoch 2, writes under it, and searches both epochs through the user node', async () => {
    const net = join(dir, 'net')
    const ck = join(dir, 'consortium-key.json')
    await copyFile(join(net, 'consortium-key.json'), ck)
    const doctor0 = join(net, 'identities', 'doctor-0.json')
    const doctor1 = join(net, 'identities', 'doctor-1.json')
    const visit = (n: number): string => JSON.stringify({ personalInfo: { name: 'Rosa Okafor', birthYear: 1970 }, disease: 'flu', symptoms: ['fever'], prescriptions: ['rest'], keywords: ['epoch-test-fever', `visit-${n}`], fileType: 'note' })
    await writeFile(join(dir, 'v1.json'), visit(1))
    await writeFile(join(dir, 'v2.json'), visit(2))
    const rosa = join(dir, 'rosa.json')
    json(await cli(['enroll', '--name', 'Rosa Okafor', '--out', rosa, '--rpc', user, '--json'], dir))

    const submit = async (input: string): Promise<{ recordId: string, keyEpoch: number, status: string }> =>
      json(await cli(['record', 'submit', '--doctor', doctor0, '--patient', rosa, '--input', input, '--consortium-key', ck, '--state', join(dir, 's0'), '--rpc', user, '--json'], dir))
    const first = await submit(join(dir, 'v1.json'))
    assert.deepEqual([first.status, first.keyEpoch], ['committed', 1])

    // only a manager may rotate; a manager identity through the user node may
    const refused = await cli(['consortium-key', 'rotate', '--hospital', doctor0, '--rpc', user], dir)
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /--hospital must be a manager identity/)
    const rotated = json<{ epoch: number, doctors: string[], result: { status: string, height: number } }>(await cli(['consortium-key', 'rotate', '--hospital', join(net, 'identities', 'manager-2.json'), '--rpc', user, '--json'], dir))
    assert.equal(rotated.epoch, 2)
    assert.equal(rotated.result.status, 'committed')
    assert.equal(rotated.doctors.length, 2)

    // every manager has it in its store; the user node verified it
    for (const m of managers) {
      const deadline = Date.now() + 30_000
      let k = await rpc<KeyEpochsJson>(m, 'chain_getKeyEpochs', {})
      while (k.latest < 2 && Date.now() < deadline) { await new Promise((resolve) => setTimeout(resolve, 200)); k = await rpc<KeyEpochsJson>(m, 'chain_getKeyEpochs', {}) }
      assert.deepEqual([k.latest, k.epochs.map((e) => e.epoch), k.verifiedBy], [2, [2], 'manager-store'])
    }
    const viaUser = await rpc<KeyEpochsJson>(user, 'chain_getKeyEpochs', { since: 1 })
    assert.deepEqual([viaUser.latest, viaUser.epochs.map((e) => e.epoch), viaUser.verifiedBy], [2, [2], 'user-node'])
    assert.equal(viaUser.epochs[0]?.tx.recipients.length, 2)

    // a doctor fetches it into its file (format 2), holds both epochs
    const fetched = json<{ added: number[], held: number[], newest: number }>(await cli(['consortium-key', 'fetch', '--identity', doctor1, '--consortium-key', ck, '--rpc', user, '--json'], dir))
    assert.deepEqual([fetched.added, fetched.held, fetched.newest], [[2], [1, 2], 2])
    const file = JSON.parse(await readFile(ck, 'utf8')) as { format: string, epochs: unknown[] }
    assert.deepEqual([file.format, file.epochs.length], ['pqmed-consortium-key/2', 2])
    const again = json<{ added: number[] }>(await cli(['consortium-key', 'fetch', '--identity', doctor1, '--consortium-key', ck, '--rpc', user, '--json'], dir))
    assert.deepEqual(again.added, [])

    // the next record is written under epoch 2; a search through the user node finds both
    const second = await submit(join(dir, 'v2.json'))
    assert.deepEqual([second.status, second.keyEpoch], ['committed', 2])
    const found = json<{ matches: Array<{ recordId: string }>, omitted: unknown[], forged: unknown[], coverage: { epochs: number[], counters: string } }>(
      await cli(['search', 'epoch-test-fever', '--doctor', doctor1, '--consortium-key', ck, '--state', join(dir, 's1'), '--rpc', user, '--json'], dir))
    assert.deepEqual(found.matches.map((m) => m.recordId).sort(), [first.recordId, second.recordId].sort())
    assert.deepEqual([found.omitted, found.forged, found.coverage.epochs, found.coverage.counters], [[], [], [1, 2], 'recovered'])
    // the term written only after the rotation is found only under epoch 2
    const late = json<{ matches: Array<{ recordId: string, locations: Array<{ height: number }> }> }>(
      await cli(['search', 'visit-2', '--doctor', doctor1, '--consortium-key', ck, '--state', join(dir, 's1'), '--rpc', user, '--json'], dir))
    assert.deepEqual(late.matches.map((m) => m.recordId), [second.recordId])
    assert.ok((late.matches[0]?.locations[0]?.height ?? 0) > rotated.result.height)
  })

  it('a doctor not wrapped in the newest epoch may not write (its record would be searchable by doctors removed since)', () => {
    const ring = { format: 'pqmed-consortium-key/2', chainId: 'c', epochs: [{ epoch: 1 }, { epoch: 2 }] } as unknown as ConsortiumKeyRing
    assert.throws(() => { requireNewestEpoch({ ring, epochKeys: [{ epoch: 1, key: new Uint8Array(32) }] }, 'doctor-9') },
      /doctor-9 is not wrapped in the newest key epoch 2 \(it holds 1\).*nothing was submitted/)
    requireNewestEpoch({ ring, epochKeys: [{ epoch: 1, key: new Uint8Array(32) }, { epoch: 2, key: new Uint8Array(32) }] }, 'doctor-0')
  })
})
