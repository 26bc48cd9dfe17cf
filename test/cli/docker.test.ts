/**
 * The Docker files cannot be built here (no Docker engine on the build machines), so this checks
 * what can be checked without one: the Dockerfile agrees with the compose generator (ports, the
 * /data volume, the entrypoint and CLI paths, the health check's method), and the compiled output
 * that the image runs (`npm run build` → dist/, `bin/pqmed.js` without tsx) really works.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { composeFor } from '../../src/cli/sim-compose.js'
import { topologyFromFlags } from '../../src/cli/topology.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Stage { from: string, lines: string[] }

/** The Dockerfile's stages, continuation lines joined, comments dropped. */
function stages (text: string): Stage[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const out: Stage[] = []
  for (const l of joined) {
    if (/^FROM\s/i.test(l)) out.push({ from: l, lines: [] })
    else out[out.length - 1]?.lines.push(l)
  }
  return out
}

describe('docker: Dockerfile, compose generator and the compiled image contents agree', function () {
  this.timeout(120_000)
  let dockerfile: string
  let final: Stage
  before(async () => {
    dockerfile = await readFile(join(ROOT, 'docker/Dockerfile'), 'utf8')
    const s = stages(dockerfile)
    assert.equal(s.length, 2, 'a build stage and a runtime stage')
    final = s[1] as Stage
  })
  const instr = (name: string): string[] => final.lines.filter((l) => l.toUpperCase().startsWith(name + ' ')).map((l) => l.slice(name.length + 1).trim())

  it('multi-stage from the lockfile; the runtime stage holds production dependencies and dist/ only, as a non-root user', () => {
    const build = stages(dockerfile)[0] as Stage
    assert.ok(build.lines.some((l) => /^COPY package\.json package-lock\.json/.test(l)) && build.lines.some((l) => /^RUN npm ci\b/.test(l)))
    assert.ok(build.lines.some((l) => /^RUN npm run build\b/.test(l)))
    assert.ok(instr('RUN').some((l) => /npm ci --omit=dev/.test(l)), 'production dependencies only')
    const copies = instr('COPY')
    assert.ok(copies.includes('--from=build /src/dist ./dist'))
    assert.ok(!copies.some((c) => /\bsrc\b/.test(c) && !c.startsWith('--from=build /src/dist')), 'no TypeScript sources in the image')
    const user = instr('USER')
    assert.equal(user.length, 1)
    assert.notEqual(user[0], 'root')
    assert.notEqual(user[0], '0')
  })

  it('the ports, volume, entrypoint and health check are the ones the generated compose file uses', () => {
    const doc = composeFor(topologyFromFlags({ managers: 4, users: 2, latencyMs: 20 }))
    const exposed = new Set(instr('EXPOSE').flatMap((l) => l.split(/\s+/)).map(Number))
    assert.deepEqual(instr('VOLUME'), ['["/data"]'])
    const entry = instr('ENTRYPOINT')[0] ?? ''
    assert.deepEqual(JSON.parse(entry), ['node', '/app/bin/pqmed.js'])
    const health = instr('HEALTHCHECK')[0] ?? ''
    // issue 15: the health check is the node's /healthz on its operations port (containers run --ops-port 9100)
    assert.match(health, /\/healthz/)
    assert.match(instr('ENV').join(' '), /PQMED_OPS_PORT=9100\b/)
    assert.ok(exposed.has(9100), 'the operations port is exposed')
    const rpcEnv = /PQMED_RPC_PORT=(\d+)/.exec(instr('ENV').join(' '))
    assert.ok(rpcEnv !== null, 'the health check finds the RPC port in PQMED_RPC_PORT')
    for (const [name, s] of Object.entries(doc.services)) {
      if (name === 'init') {
        assert.match(s.command.join(' '), /node \/app\/bin\/pqmed\.js genesis --dir \/network/)
        continue
      }
      const cmd = s.command
      const rpcPort = Number(cmd[cmd.indexOf('--rpc-port') + 1])
      const listen = cmd[cmd.indexOf('--listen') + 1] ?? ''
      const p2pPort = Number(/\/tcp\/(\d+)$/.exec(listen)?.[1])
      assert.ok(exposed.has(rpcPort), `${name}: RPC port ${rpcPort} is exposed`)
      assert.ok(exposed.has(p2pPort), `${name}: libp2p port ${p2pPort} is exposed`)
      assert.equal(rpcPort, Number(rpcEnv[1]), `${name}: the health check asks the port the node serves`)
      assert.equal(cmd[cmd.indexOf('--rpc-host') + 1], '0.0.0.0', `${name}: RPC reachable from other containers`)
      assert.ok(s.volumes?.includes(`${name}-data:/data`), `${name}: its data on the image's /data volume`)
      assert.equal(cmd[cmd.indexOf('--data-dir') + 1], '/data')
      // with latency the entrypoint is the netem wrapper, which the image must contain, then `node` runs the CLI
      assert.deepEqual(s.entrypoint, ['/app/docker/netem-entrypoint.sh'])
      assert.equal(cmd[0], 'node')
    }
    assert.ok(instr('COPY').includes('docker/netem-entrypoint.sh ./docker/netem-entrypoint.sh'))
  })

  it('the compiled output the image runs works without tsx (bin/pqmed.js picks dist/)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pqmed-image-'))
    try {
      await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: ROOT })
      await mkdir(join(dir, 'bin'))
      await cp(join(ROOT, 'bin/pqmed.js'), join(dir, 'bin/pqmed.js'))
      await writeFile(join(dir, 'package.json'), await readFile(join(ROOT, 'package.json')))
      await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
      // plain node: no --import tsx, no polyfill flag (bin loads dist/polyfill.js first)
      const help = await run(process.execPath, [join(dir, 'bin/pqmed.js'), '--help'])
      assert.match(help.stdout + help.stderr, /pqmed node --role manager\|user/)
      const g = await run(process.execPath, [join(dir, 'bin/pqmed.js'), 'genesis', '--dir', join(dir, 'net'), '--managers', '4', '--doctors', '1'])
      const ev = JSON.parse(g.stdout.trim().split('\n').pop() as string) as { event: string, managers: unknown[] }
      assert.equal(ev.event, 'genesis')
      assert.equal(ev.managers.length, 4)
      const genesis = JSON.parse(await readFile(join(dir, 'net/genesis.json'), 'utf8')) as { managers: unknown[] }
      assert.equal(genesis.managers.length, 4)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
