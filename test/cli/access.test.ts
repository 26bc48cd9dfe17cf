import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { freePorts, ProcNet, rpc } from '../../src/cli/procs.js'
import type { PeerInfo } from '../../src/rpc/backend.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin/pqmed.js')
const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

async function pqmed (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr }
  }
}

/** Issue 10: the permissioned manager from the command line (processes on loopback). */
describe('cli: permissioned managers (genesis --users, peer-id, --allow-peers-file, SIGHUP, --open)', function () {
  this.timeout(240_000)
  const net = new ProcNet()
  let dir: string
  let port: number
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqmed-access-'))
    ;[port] = await freePorts(1) as [number]
  })
  after(async () => {
    await net.stopAll()
    await rm(dir, { recursive: true, force: true })
  })

  const managerArgs = (...extra: string[]): string[] => ['--role', 'manager', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, 'm0'),
    '--identity', join(dir, 'identities', 'manager-0.json'), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--rpc-port', '0', '--loopback', ...extra]
  const userArgs = (name: string, ...extra: string[]): string[] => ['--role', 'user', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, name),
    '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc-port', '0', '--loopback', ...extra]
  const managerSeen = async (url: string): Promise<boolean> => (await rpc<PeerInfo[]>(url, 'net_peers', {}, 5000)).some((p) => p.manager)
  const waitManager = async (url: string, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) { if (await managerSeen(url)) return true; await sleep(200) }
    return false
  }

  it('genesis --users lists user identities in genesis; peer-id prints the ids an operator lists', async () => {
    const g = await pqmed('genesis', '--dir', dir, '--managers', '1', '--doctors', '0', '--users', '1', '--base-port', String(port))
    assert.equal(g.code, 0, g.stderr)
    const out = JSON.parse(g.stdout) as { userNodes: string[] }
    assert.equal(out.userNodes.length, 1)
    const id = await pqmed('peer-id', '--identity', join(dir, 'identities', 'user-0.json'))
    assert.equal(id.stdout.trim(), out.userNodes[0])
    // a user node's key, created before its first start (the next test starts it and compares)
    assert.match((await pqmed('peer-id', '--data-dir', join(dir, 'u-new'))).stdout.trim(), /^12D3KooW\w+$/)
    const n = await pqmed('peer-id', '--new-identity', join(dir, 'extra.json'))
    assert.equal(n.code, 0, n.stderr)
    assert.equal((await pqmed('peer-id', '--identity', join(dir, 'extra.json'))).stdout, n.stdout)
    const again = await pqmed('peer-id', '--new-identity', join(dir, 'extra.json'))
    assert.equal(again.code, 2)
    assert.match(again.stderr, /exists: not overwriting an identity/)
  })

  it('the manager admits the genesis user node, refuses an unlisted one, and admits it after it is added to the allow file and SIGHUP', async () => {
    const allow = join(dir, 'allow-peers.txt')
    await writeFile(allow, '# user nodes of hospital B\n')
    const m = await net.start({ name: 'm0', args: managerArgs('--allow-peers-file', allow) })
    assert.match(m.stderr.join(''), /permissioned: 2 peers admitted \(genesis user nodes, chain, file .*, consortium /)
    const listed = await net.start({ name: 'u0', args: userArgs('u0', '--identity', join(dir, 'identities', 'user-0.json')) })
    assert.ok(await waitManager(listed.rpc, 20_000), 'the genesis user node is connected')
    // the user node whose key `peer-id --data-dir` created before its first start
    const newcomer = await net.start({ name: 'u-new', args: userArgs('u-new') })
    assert.equal(newcomer.peerId, (await pqmed('peer-id', '--data-dir', join(dir, 'u-new'))).stdout.trim(), 'the key peer-id created is the one the node runs under')
    // refused: the manager never counts it among its peers. Asked of the manager, not the user node:
    // the user node's own dial may look complete for an instant before the manager's gater closes it
    // (seen once in a full run), while the gater keeps it out of the manager's connections entirely
    const managerHas = async (peerId: string): Promise<boolean> => (await rpc<PeerInfo[]>(m.rpc, 'net_peers', {}, 5000)).some((p) => p.peerId === peerId)
    let seen = false
    for (const deadline = Date.now() + 4000; Date.now() < deadline && !seen; await sleep(200)) seen = await managerHas(newcomer.peerId)
    assert.equal(seen, false, 'an unlisted user node is refused')
    await appendFile(allow, `${newcomer.peerId}  # ward 3\n`)
    m.child.kill('SIGHUP')
    assert.ok(await waitManager(newcomer.rpc, 20_000), 'admitted without a restart')
    assert.ok(await managerHas(newcomer.peerId), 'the manager lists it')
    for (let t = 0; t < 50 && !m.stderr.join('').includes('allow list reloaded'); t++) await sleep(100)
    assert.match(m.stderr.join(''), /SIGHUP: re-reading the allow lists/)
    assert.match(m.stderr.join(''), /allow list reloaded: 3 peers \(1 added, 0 removed\)/)
    assert.equal(await net.stop('u-new'), 0)
    assert.equal(await net.stop('m0'), 0)
  })

  it('a malformed allow file is refused at start, naming the line; --open admits anyone with a warning', async () => {
    const bad = join(dir, 'bad-allow.txt')
    await writeFile(bad, '# ok\n\nnot-a-peer-id  # typo\n')
    await assert.rejects(net.start({ name: 'm-bad', args: managerArgs('--allow-peers-file', bad) }, 30_000),
      (err: Error) => err.message.includes('exited with 1') && err.message.includes(`BAD_PEER_LIST: ${bad}:3: "not-a-peer-id" is not a libp2p peer id`))
    const m = await net.start({ name: 'm0', args: managerArgs('--open') })
    assert.match(m.stderr.join(''), /\[manager\] warning: OPEN MANAGER \(--open\): any libp2p peer may connect/)
    const stranger = await net.start({ name: 'u-stranger', args: userArgs('u-stranger') })
    assert.ok(await waitManager(stranger.rpc, 20_000), 'an open manager admits a stranger')
    assert.equal((await pqmed('node', ...managerArgs('--open', '--allow-peer', stranger.peerId))).code, 2)
  })
})
