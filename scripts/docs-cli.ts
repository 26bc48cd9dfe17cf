/**
 * `npm run docs:cli`: regenerates the CLI reference in README.md (between the cli-reference
 * markers) from the command definitions in src/cli/commands.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { withCliReference } from '../src/cli/cli-doc.js'

const path = fileURLToPath(new URL('../README.md', import.meta.url))
const before = readFileSync(path, 'utf8')
const after = withCliReference(before)
if (after === before) console.log('README.md: CLI reference already up to date')
else { writeFileSync(path, after); console.log('README.md: CLI reference regenerated') }
