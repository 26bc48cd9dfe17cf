#!/usr/bin/env node
// Entry point of the `pqmed` command. Loads the Node 20 polyfill first, then the CLI: the compiled
// build (dist/, made by `npm ci` / `npm run build`; the Docker image ships only dist/) when it is
// present and up to date, the TypeScript sources through tsx otherwise. In a checkout, a dist/
// older than any file of src/ is never run: the sources run instead (slower) and a one-line
// warning says to rebuild, so an edit is never silently ignored.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
const src = fileURLToPath(new URL('../src/', import.meta.url))

/** Whether some file under src/ was modified after dist/ was built. */
function distIsStale () {
  if (!existsSync(src)) return false
  const built = statSync(dist).mtimeMs
  for (const f of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (f.isFile() && statSync(`${f.parentPath ?? f.path}/${f.name}`).mtimeMs > built) return true
  }
  return false
}

if (existsSync(dist) && !distIsStale()) {
  await import('../dist/polyfill.js')
  await import('../dist/cli/main.js')
} else {
  if (existsSync(dist)) process.stderr.write('pqmed: dist/ is older than src/, running the sources (slower); `npm run build` updates dist/\n')
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/polyfill.ts')
  await import('../src/cli/main.ts')
}
