/**
 * Issue 11 item 1: the CLI finds the node you started. The node URL comes from --rpc, PQMED_RPC,
 * the config file `npm start` / `sim:local` write (.pqmed.json, found from the current directory
 * upward, or PQMED_CONFIG), then the default; an unreachable node is reported with the URL, where
 * it came from and how to set another (exit 1). `npm start` uses a fixed port layout and says so
 * plainly when a port was taken.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { newClientIdentity } from '../../src/client/index.js'
import { devnetPorts } from '../../src/cli/devnet.js'
import { CliConfigError, findConfig, resolveNodeUrl, unreachableMessage } from '../../src/cli/node-url.js'
import { prepareNetwork, startNetwork } from '../../src/cli/network.js'
import { canListen, freePorts } from '../../src/cli/procs.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import { startDevnet } from './helpers.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin/pqmed.js')
const RID = 'ab'.repeat(32)

/** The environment without any PQMED_* variable (a test must not see the developer's). */
function cleanEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PQMED_')) env[k] = v
  return { ...env, ...extra }
}

async function pqmedIn (cwd: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd, env, timeout: 120_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr }
  }
}

/** A base port B with B-4 .. B+2 (JSON-RPC) free, and P .. P+3 (libp2p) free. */
async function freeLayout (): Promise<{ rpc: number, p2p: number }> {
  for (;;) {
    const [b, p] = await freePorts(2) as [number, number]
    if (b < 10_010 || Math.abs(b - p) < 16) continue
    const all = [...[-4, -3, -2, -1, 0, 1, 2].map((d) => b + d), p, p + 1, p + 2, p + 3]
    if ((await Promise.all(all.map(async (x) => await canListen(x)))).every(Boolean)) return { rpc: b, p2p: p }
  }
}

describe('cli: which node the CLI talks to (--rpc, PQMED_RPC, .pqmed.json, default)', function () {
  this.timeout(300_000)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pqmed-nodeurl-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('resolves in the order --rpc, PQMED_RPC, config file (from the current directory upward, or PQMED_CONFIG), default', async () => {
    const top = join(dir, 'unit')
    await mkdir(join(top, 'a', 'b'), { recursive: true })
    await writeFile(join(top, '.pqmed.json'), JSON.stringify({ rpc: 'http://127.0.0.1:7001/', consortiumKey: 'net/ck.json', state: 'net/state', writtenBy: 'npm start (net)' }))
    const cwd = join(top, 'a', 'b')
    const config = findConfig({ env: {}, cwd })
    assert.equal(config?.path, join(top, '.pqmed.json'))
    assert.deepEqual(config?.config, { rpc: 'http://127.0.0.1:7001/', consortiumKey: join(top, 'net/ck.json'), state: join(top, 'net/state'), writtenBy: 'npm start (net)' })
    assert.deepEqual(resolveNodeUrl({ flag: 'http://h:1/', env: { PQMED_RPC: 'http://h:2/' }, cwd, config }), { url: 'http://h:1/', source: { kind: 'flag' } })
    assert.deepEqual(resolveNodeUrl({ env: { PQMED_RPC: 'http://h:2/' }, cwd, config }), { url: 'http://h:2/', source: { kind: 'env', name: 'PQMED_RPC' } })
    assert.deepEqual(resolveNodeUrl({ env: {}, cwd, config }).url, 'http://127.0.0.1:7001/')
    assert.deepEqual(resolveNodeUrl({ env: {}, cwd: dir, config: findConfig({ env: {}, cwd: dir }) }), { url: 'http://127.0.0.1:8645/', source: { kind: 'default', searchedFrom: dir } })
    // PQMED_CONFIG wins over the upward search
    await writeFile(join(dir, 'other.json'), JSON.stringify({ rpc: 'http://127.0.0.1:7002/' }))
    assert.equal(resolveNodeUrl({ env: {}, cwd, config: findConfig({ env: { PQMED_CONFIG: join(dir, 'other.json') }, cwd }) }).url, 'http://127.0.0.1:7002/')
    // bad input is refused with the file named
    assert.throws(() => findConfig({ env: { PQMED_CONFIG: join(dir, 'missing.json') }, cwd }), (e: Error) => e instanceof CliConfigError && e.message.includes('missing.json'))
    await writeFile(join(dir, 'bad.json'), '{"rpc": "http://x/", "color": "red"}')
    assert.throws(() => findConfig({ env: { PQMED_CONFIG: join(dir, 'bad.json') }, cwd }), /unknown key 'color'/)
    assert.throws(() => resolveNodeUrl({ env: { PQMED_RPC: 'not a url' }, cwd }), /PQMED_RPC: not a URL/)
    const msg = unreachableMessage('http://127.0.0.1:7001/', resolveNodeUrl({ env: {}, cwd, config }).source, 'ECONNREFUSED')
    assert.match(msg, /cannot reach a pqmed node at http:\/\/127\.0\.0\.1:7001\/ \(ECONNREFUSED\)/)
    assert.ok(msg.includes(`the URL came from ${join(top, '.pqmed.json')}, written by npm start (net)`), msg)
    assert.match(msg, /--rpc URL, or PQMED_RPC=URL/)
  })

  it('the devnet layout: user-j on 8645 + j (the CLI default), managers on 8641..8644, manager libp2p on 4100 + i', () => {
    const p = devnetPorts(4, 2)
    assert.deepEqual(['user-0', 'user-1', 'manager-0', 'manager-3'].map(p.rpc), [8645, 8646, 8641, 8644])
    assert.deepEqual([0, 3].map(p.p2p), [4100, 4103])
    assert.throws(() => devnetPorts(4, 2, 4102, 4100), /overlap/)
    assert.throws(() => devnetPorts(4, 2, 3), /must lie in 1\.\.65535/)
  })

  it("a later start whose manager libp2p port (fixed by the genesis) is taken stops at once with the reason", async () => {
    const d = join(dir, 'taken')
    const t = topologyFromFlags({ managers: 1, users: 0, doctors: 0, chainId: 'pqmed-taken' })
    const { layout } = await prepareNetwork(t, d)
    const p2p = layout.nodes[0]?.p2pPort as number
    const squatter: Server = createServer()
    await new Promise<void>((resolve) => { squatter.listen(p2p, '127.0.0.1', resolve) })
    try {
      await assert.rejects(startNetwork(t, d, { readyTimeoutMs: 5000 }), (e: Error) => e.message.includes(`manager-0's libp2p port 127.0.0.1:${p2p} is in use`) && e.message.includes('the genesis in'))
    } finally {
      squatter.close()
    }
  })

  it('an unreachable node: exit 1, the URL tried, where it came from, how to set another', async () => {
    const [closed] = await freePorts(1) as [number]
    const url = `http://127.0.0.1:${closed}/`
    const empty = join(dir, 'empty')
    await mkdir(empty, { recursive: true })
    const viaEnv = await pqmedIn(empty, cleanEnv({ PQMED_RPC: url }), 'record', 'verify', RID)
    assert.equal(viaEnv.code, 1, viaEnv.stderr)
    assert.ok(viaEnv.stderr.includes(`cannot reach a pqmed node at ${url} (ECONNREFUSED)`), viaEnv.stderr)
    assert.match(viaEnv.stderr, /the URL came from the environment variable PQMED_RPC/)
    assert.match(viaEnv.stderr, /to use another node: --rpc URL, or PQMED_RPC=URL, or a \.pqmed\.json/)
    const cfgDir = join(dir, 'cfg')
    await mkdir(join(cfgDir, 'sub'), { recursive: true })
    await writeFile(join(cfgDir, '.pqmed.json'), JSON.stringify({ rpc: url, writtenBy: 'npm start (/x/.devnet)' }))
    const viaConfig = await pqmedIn(join(cfgDir, 'sub'), cleanEnv(), 'record', 'verify', RID)
    assert.equal(viaConfig.code, 1, viaConfig.stderr)
    assert.ok(viaConfig.stderr.includes(`the URL came from ${join(cfgDir, '.pqmed.json')}, written by npm start (/x/.devnet)`), viaConfig.stderr)
    if (await canListen(8645)) {
      const viaDefault = await pqmedIn(empty, cleanEnv(), 'record', 'verify', RID)
      assert.equal(viaDefault.code, 1, viaDefault.stderr)
      assert.match(viaDefault.stderr, /cannot reach a pqmed node at http:\/\/127\.0\.0\.1:8645\/ \(ECONNREFUSED\)/)
      assert.match(viaDefault.stderr, /the URL came from the default \(no --rpc, no PQMED_RPC, no PQMED_CONFIG, no \.pqmed\.json in /)
    }
    // the config's consortium key is the default of --consortium-key, unless --state names a state dir
    await writeFile(join(cfgDir, '.pqmed.json'), JSON.stringify({ rpc: url, consortiumKey: 'net/ck.json' }))
    const doctor = join(cfgDir, 'doctor.json')
    await writeFile(doctor, JSON.stringify(newClientIdentity('dr', 'doctor')))
    const ck = await pqmedIn(join(cfgDir, 'sub'), cleanEnv(), 'search', 'fever', '--doctor', doctor)
    assert.equal(ck.code, 2)
    assert.ok(ck.stderr.includes(`consortium key file ${join(cfgDir, 'net', 'ck.json')} not found`), ck.stderr)
    const st = await pqmedIn(join(cfgDir, 'sub'), cleanEnv(), 'search', 'fever', '--doctor', doctor, '--state', join(dir, 'st'))
    assert.equal(st.code, 2)
    assert.ok(st.stderr.includes(`consortium key file ${join(dir, 'st', 'consortium-key.json')} not found`), st.stderr)
    // a broken config file is bad usage, named
    await writeFile(join(cfgDir, '.pqmed.json'), '{"rpc": 8645}')
    const bad = await pqmedIn(join(cfgDir, 'sub'), cleanEnv(), 'record', 'verify', RID)
    assert.equal(bad.code, 2, bad.stderr)
    assert.ok(bad.stderr.includes(`${join(cfgDir, '.pqmed.json')}: 'rpc': the node URL must be a string`), bad.stderr)
  })

  it('npm start on its fixed layout (one port taken: said in the banner) writes .pqmed.json; the CLI then needs no --rpc, --consortium-key or --state', async () => {
    const { rpc, p2p } = await freeLayout()
    // something else holds user-1's port
    const squatter: Server = createServer()
    await new Promise<void>((resolve) => { squatter.listen(rpc + 1, '127.0.0.1', resolve) })
    const data = join(dir, 'devnet')
    const home = join(dir, 'home')  // where the config goes; the CLI runs in a directory below it
    await mkdir(join(home, 'work'), { recursive: true })
    const config = join(home, '.pqmed.json')
    const run = await startDevnet(data, ['--records', '3', '--rpc-port', String(rpc), '--p2p-port', String(p2p), '--config', config], { env: cleanEnv() })
    try {
      squatter.close()
      const urls = Object.fromEntries([...run.stdout.matchAll(/^ {2}(manager-\d|user-\d)\s+(http:\/\/127\.0\.0\.1:(\d+)\/)/gm)].map((m) => [m[1], Number(m[3])]))
      assert.deepEqual([urls['manager-0'], urls['manager-3'], urls['user-0']], [rpc - 4, rpc - 1, rpc])
      assert.notEqual(urls['user-1'], rpc + 1)
      assert.ok(run.stdout.includes(`user-1's JSON-RPC port ${rpc + 1} was in use: using ${String(urls['user-1'])} instead`), run.stdout)
      assert.match(run.stdout, /NOTE: not every node got its usual port/)
      const layout = JSON.parse(await readFile(join(data, 'network.json'), 'utf8')) as { nodes: Array<{ name: string, p2pPort: number }> }
      assert.deepEqual(layout.nodes.filter((n) => n.name.startsWith('manager')).map((n) => n.p2pPort), [p2p, p2p + 1, p2p + 2, p2p + 3])
      const cfg = JSON.parse(await readFile(config, 'utf8')) as Record<string, string>
      assert.deepEqual(cfg, { rpc: `http://127.0.0.1:${rpc}/`, consortiumKey: '../devnet/consortium-key.json', state: '../devnet/client-state', genesis: '../devnet/genesis.json', writtenBy: `npm start (${data})` })
      const seeded = JSON.parse(await readFile(join(data, 'seeded-records.json'), 'utf8')) as string[]
      // the first-run commands, without --rpc, --consortium-key, --state or --genesis
      const work = join(home, 'work')
      // with no flag at all: the config file names the genesis, so every check is done
      const v = await pqmedIn(work, cleanEnv(), 'record', 'verify', seeded[0] as string)
      assert.equal(v.code, 0, v.stderr)
      assert.match(v.stdout, /this client: VALID/)
      const s = await pqmedIn(work, cleanEnv(), 'search', 'fever', '--doctor', join(data, 'identities', 'doctor-0.json'), '--json')
      assert.equal(s.code, 0, s.stderr)
      const found = (JSON.parse(s.stdout) as { matches: Array<{ recordId: string }> }).matches.map((m) => m.recordId)
      assert.ok(found.every((id) => seeded.includes(id)), 'only seeded records')
      // the banner's pqmed examples work as printed (from the repository root, through PQMED_CONFIG)
      const lines = run.stdout.split('\n').map((l) => l.trim()).filter((l) => /node bin\/pqmed\.js (search|record) /.test(l))
      assert.equal(lines.length, 2, run.stdout)
      for (const line of lines) {
        assert.ok(!line.includes('--rpc') && !line.includes('--consortium-key') && !line.includes('--state'), line)
        const r = await promisify(execFile)('/bin/sh', ['-c', line], { cwd: ROOT, env: cleanEnv(), timeout: 120_000 })
        assert.match(r.stdout, /VALID|matching record/)
      }
      assert.equal(await run.stop(), 0, run.stderr)
      // the devnet is gone: the CLI says which URL it tried and that it came from the file npm start wrote
      const gone = await pqmedIn(work, cleanEnv(), 'record', 'verify', seeded[0] as string)
      assert.equal(gone.code, 1)
      assert.ok(gone.stderr.includes(`cannot reach a pqmed node at http://127.0.0.1:${rpc}/ (ECONNREFUSED)`), gone.stderr)
      assert.ok(gone.stderr.includes(`the URL came from ${config}, written by npm start (${data})`), gone.stderr)
    } finally {
      squatter.close()
      await run.stop()
    }
  })
})
