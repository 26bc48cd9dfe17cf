// `npm ci` / `npm install` run this (package.json "prepare"): compiles src/ to dist/ and copies the
// explorer's static pages next to it (what `npm run build` does), which bin/pqmed.js runs. Skipped, with a line saying why, where there is nothing to compile: an
// install without src/ or without the dev dependencies (the Docker image's `npm ci --omit=dev`, and
// its build stage, which installs before copying src/ and then runs `npm run build` itself).
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
let tsc
try { tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc') } catch { tsc = undefined }
if (!existsSync(`${root}src`) || !existsSync(`${root}tsconfig.build.json`)) {
  console.log('pqmed prepare: no src/ here, nothing to compile')
} else if (tsc === undefined) {
  console.log('pqmed prepare: typescript is not installed (production install), not compiling; bin/pqmed.js runs dist/ if present')
} else {
  execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit', cwd: root })
  cpSync(`${root}src/explorer/static`, `${root}dist/explorer/static`, { recursive: true })
}
