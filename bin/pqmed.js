#!/usr/bin/env node
// Entry point of the `pqmed` command. Loads the Node 20 polyfill first, then the CLI: the compiled
// build (dist/, as in the Docker image) when present, the TypeScript sources through tsx otherwise.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../dist/cli/pqmed.js', import.meta.url))
if (existsSync(dist)) {
  await import('../dist/polyfill.js')
  await import('../dist/cli/pqmed.js')
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/polyfill.ts')
  await import('../src/cli/pqmed.ts')
}
