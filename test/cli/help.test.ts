import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { cliReference, CLI_DOC_END, CLI_DOC_START } from '../../src/cli/cli-doc.js'
import { leafCommands, pqmedProgram } from '../../src/cli/commands.js'
import { commandPath } from '../../src/cli/usage.js'
import { distStale, ensureBuilt, pqmed, type CliRun } from './helpers.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Runs a TypeScript entry point as package.json does (`node --import tsx --import ./src/polyfill.ts FILE`). */
async function entry (file: string, ...args: string[]): Promise<CliRun> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', file, ...args], { cwd: ROOT, timeout: 60_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr }
  }
}

/** Issue 11, item 3: every command has its own help, from one definition; the README shows the same text. */
describe('cli: help, version and usage errors (the built CLI as a process)', function () {
  this.timeout(180_000)
  const paths = leafCommands(pqmedProgram()).map(commandPath)

  before(async () => { await ensureBuilt() })

  it('runs the compiled CLI (dist/ is up to date, no fallback to the sources)', async () => {
    assert.equal(distStale(), false)
    const r = await pqmed(['--version'])
    assert.doesNotMatch(r.stderr, /dist\/ is older than src/)
  })

  it('pqmed --help lists every command and subcommand, documents --quiet, and exits 0', async () => {
    const r = await pqmed(['--help'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(paths, ['pqmed genesis', 'pqmed node', 'pqmed peer-id', 'pqmed consortium-key create', 'pqmed consortium-key rotate', 'pqmed consortium-key fetch', 'pqmed consortium propose', 'pqmed consortium sign', 'pqmed consortium submit', 'pqmed consortium show', 'pqmed backup', 'pqmed restore', 'pqmed enroll', 'pqmed record submit', 'pqmed record get',
      'pqmed record verify', 'pqmed record export', 'pqmed record list', 'pqmed file verify', 'pqmed search', 'pqmed grant', 'pqmed doctor add', 'pqmed doctor rotate', 'pqmed doctor revoke', 'pqmed user-node add', 'pqmed user-node remove', 'pqmed fhir-gateway', 'pqmed explorer'])
    for (const p of paths) assert.match(r.stdout, new RegExp(`^  ${p} `, 'm'), `${p} in the synopsis`)
    assert.match(r.stdout, /pqmed node --role manager\|user --genesis FILE --data-dir DIR .*\[--quiet\]/)
    assert.match(r.stdout, /Exit codes: 0 ok, 1 error .* 2 bad usage or input, 3 verification failed/)
  })

  it('every command and subcommand has its own help with examples (COMMAND --help and help COMMAND agree)', async () => {
    const runs = await Promise.all(paths.map(async (p) => await pqmed([...p.split(' ').slice(1), '--help'])))
    paths.forEach((p, i) => {
      const r = runs[i] as CliRun
      assert.equal(r.code, 0, `${p} --help: ${r.stderr}`)
      assert.match(r.stdout, new RegExp(`^Usage: ${p} `), p)
      assert.match(r.stdout, /\nExamples:\n {2}pqmed /, `${p} has examples`)
    })
    const node = runs[paths.indexOf('pqmed node')] as CliRun
    assert.match(node.stdout, /--quiet +log only warnings and errors/)
    assert.doesNotMatch(node.stdout, /fault-/, 'fault injection flags are for tests and hidden')
    const viaHelp = await pqmed(['help', 'search'])
    assert.equal(viaHelp.stdout, (runs[paths.indexOf('pqmed search')] as CliRun).stdout)
  })

  it('a command group alone prints its help (not "subcommand \'undefined\'") with exit 2', async () => {
    for (const group of ['record', 'file']) {
      const r = await pqmed([group])
      assert.equal(r.code, 2)
      assert.match(r.stderr, new RegExp(`^Usage: pqmed ${group} \\[options\\] \\[command\\]`))
      assert.doesNotMatch(r.stderr + r.stdout, /undefined/)
    }
    const bare = await pqmed([])
    assert.equal(bare.code, 2)
    assert.match(bare.stderr, /Usage: pqmed/)
  })

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    for (const flag of ['--version', '-v']) {
      const r = await pqmed([flag])
      assert.equal(r.code, 0)
      assert.equal(r.stdout.trim(), version)
    }
  })

  it('unknown options, commands and missing arguments are usage errors (exit 2) that say where the help is', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['record', 'get', 'ab'.repeat(32), '--frobnicate'], /^pqmed record: unknown option '--frobnicate' \(see: pqmed record get --help\)/],
      [['frobnicate'], /^pqmed: unknown command 'frobnicate'/],
      [['genesis'], /^pqmed genesis: required option '--dir <DIR>' not specified \(see: pqmed genesis --help\)/],
      [['record', 'get'], /^pqmed record: missing required argument 'RECORD_ID'/],
      [['file', 'verify', 'a', 'b'], /^pqmed file: too many arguments/],
      [['node', '--role', 'boss', '--genesis', 'g', '--data-dir', 'd'], /argument 'boss' is invalid\. Allowed choices are manager, user/]
    ]
    for (const [args, re] of cases) {
      const r = await pqmed(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, re)
    }
    const json = await pqmed(['search', '--doctor', 'x.json', '--bogus', '--json'])
    assert.equal(json.code, 2)
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'USAGE')
  })

  it('help and usage errors load no crypto backend, PUF, SDK or libp2p (only commander)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pqmed-help-'))
    try {
      const log = join(dir, 'loaded.txt')
      await writeFile(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs'\nexport async function resolve (s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r }\n`)
      await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(new URL(`file://${join(dir, 'hooks.mjs')}`).href)})\n`)
      for (const args of [['--help'], ['record', 'get', '--help'], ['node', '--bogus']]) {
        await writeFile(log, '')
        await pqmed(args, { nodeArgs: ['--import', join(dir, 'register.mjs')] })
        const loaded = (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '')
        assert.ok(loaded.some((u) => u.endsWith('/dist/cli/commands.js')), 'the hook saw the CLI load')
        const heavy = loaded.filter((u) => /liboqs|libp2p|@noble\/post-quantum|\/dist\/(crypto|puf|client|node|records|sse|blocks)\/|level/.test(u))
        assert.deepEqual(heavy, [], `${args.join(' ')} loaded ${heavy.join(', ')}`)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('npm start, sim:local, sim:compose, sim:k8s and the benchmarks answer --help (exit 0); a bad option is exit 2', async () => {
    const [devnet, local, compose, k8s, badLocal] = await Promise.all([
      entry('src/cli/devnet.ts', '--help'), entry('src/cli/sim-local.ts', '--help'), entry('src/cli/sim-compose.ts', '--help'),
      entry('src/cli/sim-k8s.ts', '--help'), entry('src/cli/sim-local.ts', '--managrs', '4')
    ])
    assert.equal(devnet.code, 0, devnet.stderr)
    assert.match(devnet.stdout, /^Usage: npm start -- \[--data-dir DIR\] \[--records N\] \[--users N\]/)
    assert.equal(local.code, 0, local.stderr)
    assert.match(local.stdout, /^Usage: npm run sim:local -- .*\[--netns\]/)
    assert.equal(compose.code, 0, compose.stderr)
    assert.match(compose.stdout, /^Usage: npm run sim:compose -- .*\[--out FILE\]/)
    assert.equal(k8s.code, 0, k8s.stderr)
    assert.match(k8s.stdout, /^Usage: npm run sim:k8s -- .*\[--namespace NS\]/)
    assert.equal(badLocal.code, 2)
    assert.match(badLocal.stderr, /unknown option '--managrs'/)
    for (const b of ['table4', 'sse', 'puf', 'consensus']) {
      const r = await entry(`bench/${b}.ts`, '--help')
      assert.equal(r.code, 0, `bench:${b} --help: ${r.stderr}`)
      assert.match(r.stdout, new RegExp(`^usage: npm run bench:${b} -- `))
    }
  })

  it('the README\'s CLI reference is the text generated from the definitions (npm run docs:cli)', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const a = readme.indexOf(CLI_DOC_START)
    const b = readme.indexOf(CLI_DOC_END)
    assert.ok(a >= 0 && b > a, 'README.md has the generated section')
    assert.equal(readme.slice(a, b + CLI_DOC_END.length), cliReference(), 'README.md differs from the command definitions: run npm run docs:cli')
    // and it is what the CLI prints
    const r = await pqmed(['record', 'submit', '--help'])
    assert.ok(readme.includes(r.stdout.trimEnd().split('\n').slice(0, 3).join('\n')))
  })
})
