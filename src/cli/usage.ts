/**
 * What every command line of the project shares, kept free of heavy imports (only commander and
 * Node built-ins) so that `pqmed --help` and a usage error cost no crypto, PUF or libp2p loading.
 *
 * Exit codes of `pqmed`: 0 ok, 1 error, 2 bad usage or input, 3 verification failed.
 */
import { type Command, CommanderError } from 'commander'

/** Bad usage or input: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The exit codes of `pqmed` (and of the npm entry points). */
export const EXIT = { ok: 0, error: 1, usage: 2, verification: 3 } as const

/** Parsed option values keyed by their long flag without the dashes (`--data-dir` → `'data-dir'`), as `node:util` `parseArgs` gave them. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>

/** Collects a repeatable option (`--listen A --listen B`) into a list. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

/** The values of `cmd`'s options keyed by long flag (`'chain-id'`, not commander's `chainId`). */
export function optionValues (cmd: Command): OptionValues {
  const out: OptionValues = {}
  for (const o of cmd.options) {
    if (o.long === undefined || o.negate) continue
    const v: unknown = cmd.getOptionValue(o.attributeName())
    if (v !== undefined) out[o.long.replace(/^--/, '')] = v as string | boolean | string[]
  }
  return out
}

/** The command's operands (declared arguments; a variadic one flattened). */
export function operands (cmd: Command): string[] {
  return cmd.processedArgs.flat().filter((a): a is string => typeof a === 'string')
}

/** Full name of a command: `pqmed record get`. */
export function commandPath (cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/**
 * Makes a command tree report errors instead of exiting: commander throws `CommanderError`
 * (mapped to an exit code by `exitCodeOf`), and every error message names the command and where
 * its help is (`pqmed record get: unknown option '--x' (see: pqmed record get --help)`).
 * `prefix(cmd)` gives the name printed before the message.
 */
export function reportErrors (root: Command, prefix: (cmd: Command) => string = commandPath): void {
  const visit = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.configureOutput({
      outputError: (str, write) => { write(`${prefix(cmd)}: ${str.replace(/^error: /, '').trimEnd()} (see: ${commandPath(cmd)} --help)\n`) }
    })
    for (const c of cmd.commands) visit(c)
  }
  visit(root)
}

/**
 * The exit code for an error thrown while parsing: help and version asked for are 0, a command
 * group run without its subcommand (help printed on stderr) and every parse error are usage (2).
 */
export function exitCodeOf (err: CommanderError): number {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok
  return EXIT.usage
}

/**
 * Parses the arguments of an npm entry point (`npm start`, `sim:local`, `sim:compose`): returns
 * the option values, or prints the help and exits 0 on `--help`; a bad option throws `UsageError`.
 */
export function parseEntryArgs (cmd: Command, argv: string[]): OptionValues {
  cmd.exitOverride().configureOutput({ outputError: () => {} })
  try {
    cmd.parse(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      if (exitCodeOf(err) === EXIT.ok) process.exit(EXIT.ok)
      throw new UsageError(`${err.message.replace(/^error: /, '')} (see: ${cmd.name()} --help)`)
    }
    throw err
  }
  return optionValues(cmd)
}
