/**
 * The user-facing docs are self-contained: they never send a reader outside the repository (a
 * `../shared/` design file, "issue notes"), and every relative link points at a file that exists.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** README.md, docker/README.md and docs/*.md */
function docs (): string[] {
  return ['README.md', 'docker/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
}

describe('docs: everything a user needs is in the repository', () => {
  it('no doc refers to ../shared/, to a DESIGN.md outside the repository or to issue notes', () => {
    const bad: string[] = []
    for (const f of docs()) {
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (/\.\.\/shared\b|\bshared\/DESIGN|\bissue notes?\b/i.test(line)) bad.push(`${f}:${i + 1}: ${line.trim()}`)
        if (/DESIGN\.md/.test(line) && !existsSync(join(ROOT, 'DESIGN.md')) && !existsSync(join(ROOT, 'docs/DESIGN.md'))) bad.push(`${f}:${i + 1}: ${line.trim()}`)
      })
    }
    assert.deepEqual(bad, [])
  })

  it('every relative markdown link points at a file in the repository', () => {
    const bad: string[] = []
    for (const f of docs()) {
      const text = readFileSync(join(ROOT, f), 'utf8')
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] as string).split('#')[0] as string
        if (target === '' || /^[a-z]+:/i.test(target)) continue
        const abs = resolve(dirname(join(ROOT, f)), target)
        if (relative(ROOT, abs).startsWith('..') || !existsSync(abs)) bad.push(`${f}: ${m[1] as string}`)
      }
    }
    assert.deepEqual(bad, [])
  })
})
