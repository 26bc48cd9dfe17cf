/**
 * Entry point of the `pqmed` command (bin/pqmed.js loads it after the polyfill). Parses the
 * command line with the definitions of ./commands.ts and runs the command's handler, which is
 * imported only then: `pqmed --help`, `--version` and usage errors load no crypto, PUF or libp2p.
 *
 * Exit codes: 0 ok, 1 error, 2 bad usage or input, 3 verification failed (client commands).
 */
import { CommanderError } from 'commander'
import { pqmedProgram } from './commands.js'
import { EXIT, exitCodeOf, reportErrors, UsageError } from './usage.js'

async function main (argv: string[]): Promise<number> {
  const program = pqmedProgram()
  // errors name the top-level command (`pqmed record: ...`), as the handlers' own errors do
  reportErrors(program, (cmd) => {
    let top = cmd
    while (top.parent !== null && top.parent.parent !== null) top = top.parent
    return top.parent === null ? 'pqmed' : `pqmed ${top.name()}`
  })
  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      const code = exitCodeOf(err)
      if (code !== EXIT.ok && argv.includes('--json')) console.log(JSON.stringify({ error: { message: err.message.replace(/^error: /, ''), code: 'USAGE' } }))
      return code
    }
    if (err instanceof UsageError) {
      console.error(`pqmed ${argv[0] ?? ''}: ${err.message} (see: pqmed ${argv[0] ?? ''} --help)`)
      return EXIT.usage
    }
    const code = (err as { code?: string }).code
    console.error(`pqmed: ${code !== undefined ? `${code}: ` : ''}${(err as Error).message}`)
    return EXIT.error
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok
}

const code = await main(process.argv.slice(2))
// a failed command exits now (a half-started node may hold sockets open); a running node keeps the process alive
if (code !== EXIT.ok) process.exit(code)
