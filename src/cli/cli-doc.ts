/**
 * The README's CLI reference, generated from the command definitions (./commands.ts): the output
 * of `pqmed --help` and of every command's `--help`, at a fixed width of 100 columns.
 * `npm run docs:cli` writes it into README.md between the markers below; test/cli/help.test.ts
 * fails when the README and the definitions disagree.
 */
import type { Command } from 'commander'
import { devnetCommand, leafCommands, pqmedProgram, simComposeCommand, simK8sCommand, simLocalCommand } from './commands.js'
import { commandPath } from './usage.js'

export const CLI_DOC_START = '<!-- cli-reference:start (generated from src/cli/commands.ts by `npm run docs:cli`; do not edit by hand) -->'
export const CLI_DOC_END = '<!-- cli-reference:end -->'

/** What `cmd --help` prints, at 100 columns. */
export function helpText (cmd: Command): string {
  let text = ''
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    c.configureHelp({ ...c.configureHelp(), helpWidth: 100 })
    c.configureOutput({ writeOut: (s) => { text += s }, getOutHelpWidth: () => 100 })
  }
  cmd.outputHelp()
  return text.trimEnd()
}

const block = (title: string, text: string): string =>
  `<details><summary><code>${title}</code></summary>\n\n\`\`\`\n${text}\n\`\`\`\n\n</details>`

/** The generated section, markers included. */
export function cliReference (): string {
  const program = pqmedProgram()
  const groups = program.commands.filter((c) => c.commands.length > 0)
  const entries = [devnetCommand(), simLocalCommand(), simComposeCommand(), simK8sCommand()]
  return [
    CLI_DOC_START,
    '',
    '```',
    helpText(program),
    '```',
    '',
    'Each command\'s own help (`pqmed COMMAND --help`, `pqmed help COMMAND`):',
    '',
    ...[...groups, ...leafCommands(program)].map((c) => block(`${commandPath(c)} --help`, helpText(c))),
    '',
    'The npm entry points:',
    '',
    ...entries.map((c) => block(`${c.name()} --help`, helpText(c))),
    '',
    CLI_DOC_END
  ].join('\n')
}

/** `readme` with its generated section replaced by `cliReference()`. */
export function withCliReference (readme: string): string {
  const a = readme.indexOf(CLI_DOC_START)
  const b = readme.indexOf(CLI_DOC_END)
  if (a < 0 || b < a) throw new Error(`README.md has no "${CLI_DOC_START}" ... "${CLI_DOC_END}" section`)
  return readme.slice(0, a) + cliReference() + readme.slice(b + CLI_DOC_END.length)
}
