import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadPqBackend, sha256, toHex } from '../../src/crypto/index.js'
import { changeSignBytes, proposeChange, type ChangeFile } from '../../src/client/manager-change.js'
import { createDevnet, writeDevnet } from '../../src/node/devnet.js'
import { loadIdentity } from '../../src/node/identity.js'
import { tempDir } from '../node/helpers.js'
import { ensureBuilt, pqmed } from './helpers.js'

/** `pqmed consortium sign | show | submit` on change files, each hospital signing its own copy (no node needed but for submit). */
describe('cli: pqmed consortium (manager change files)', function () {
  this.timeout(300_000)

  it('signs copies with each hospital\'s manager identity, shows them, and refuses malformed files and unreachable nodes', async () => {
    await ensureBuilt()
    const dir = await tempDir('consortium-cli')
    try {
      const files = await createDevnet({ chainId: 'pqmed-cli', managers: 4, doctors: 0, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${4100 + i}` })
      await writeDevnet(dir.path, files)
      const id3 = await loadIdentity(files.managers[3] as Parameters<typeof loadIdentity>[0])
      const change = proposeChange({ chainId: 'pqmed-cli', baseConfig: sha256(Uint8Array.of(1)), action: 'remove', hospitalId: toHex(sha256(id3.keys.sig.publicKey)), time: 5 })
      const path = join(dir.path, 'leave.json')
      await writeFile(path, JSON.stringify(change))
      const a = await pqmed(['consortium', 'sign', path, '--identity', join(dir.path, 'identities', 'manager-0.json'), '--out', `${path}.m0`, '--json'])
      assert.equal(a.code, 0, a.stderr)
      const b = await pqmed(['consortium', 'sign', `${path}.m0`, '--identity', join(dir.path, 'identities', 'manager-1.json'), '--json'])
      assert.equal(b.code, 0, b.stderr)
      const signed = JSON.parse(await readFile(`${path}.m0`, 'utf8')) as ChangeFile
      assert.equal(signed.signatures.length, 2)
      const pq = await loadPqBackend()
      const id0 = await loadIdentity(files.managers[0] as Parameters<typeof loadIdentity>[0])
      const s0 = signed.signatures.find((s) => s.hospitalId === toHex(sha256(id0.keys.sig.publicKey)))
      assert.ok(s0 !== undefined && pq.verify(new Uint8Array(Buffer.from(s0.signature, 'base64')), changeSignBytes(change), id0.keys.sig.publicKey), 'manager 0 signed the change bytes')
      const show = await pqmed(['consortium', 'show', `${path}.m0`, '--json'])
      assert.equal(show.code, 0, show.stderr)
      assert.equal((JSON.parse(show.stdout) as ChangeFile).signatures.length, 2)
      // malformed: a usage error (exit 2), nothing written
      await writeFile(join(dir.path, 'bad.json'), JSON.stringify({ ...change, hospitalId: 'zz' }))
      const bad = await pqmed(['consortium', 'sign', join(dir.path, 'bad.json'), '--identity', join(dir.path, 'identities', 'manager-0.json')])
      assert.equal(bad.code, 2, bad.stderr)
      assert.match(bad.stderr, /hospitalId/)
      // submit to a node that is not there: exit 1
      const down = await pqmed(['consortium', 'submit', `${path}.m0`, '--rpc', 'http://127.0.0.1:9/'])
      assert.equal(down.code, 1, down.stderr)
    } finally {
      await dir.remove()
    }
  })
})
