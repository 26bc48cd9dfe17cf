import assert from 'node:assert/strict'
import { ESLint } from 'eslint'

/**
 * The import directions of docs/ARCHITECTURE.md are enforced by eslint.config.js. These cases lint
 * source text as if it lived at a given path and expect the rule to fire (or not).
 */
describe('lint: import directions', function () {
  this.timeout(60_000)
  const eslint = new ESLint()

  async function errorsFor (filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath })
    return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
  }

  const violations: Array<[string, string]> = [
    ['src/sse/bad.ts', "import { createLibp2p } from 'libp2p'\nexport const x = createLibp2p"],
    ['src/puf/bad.ts', "import { readFileSync } from 'node:fs'\nexport const x = readFileSync"],
    ['src/blocks/bad.ts', "import { createServer } from 'node:http'\nexport const x = createServer"],
    ['src/records/bad.ts', "import { Level } from 'level'\nexport const x = Level"],
    ['src/crypto/bad.ts', "import { x } from '../blocks/types.js'\nexport const y = x"],
    ['src/sse/bad2.ts', "import { x } from '../node/index.js'\nexport const y = x"],
    ['src/consensus/bad.ts', "import { x } from '../sse/index.js'\nexport const y = x"],
    ['src/consensus/bad2.ts', "import { gossipsub } from '@libp2p/gossipsub'\nexport const y = gossipsub"],
    ['src/rpc/bad.ts', "import { x } from '../node/index.js'\nexport const y = x"],
    ['src/client/bad.ts', "import { createHelia } from 'helia'\nexport const y = createHelia"],
    ['src/fhir/bad.ts', "import { createServer } from 'node:http'\nexport const y = createServer"],
    ['src/fhir/bad2.ts', "import { x } from '../client/index.js'\nexport const y = x"]
  ]
  for (const [path, code] of violations) {
    it(`rejects a forbidden import in ${path}`, async () => {
      const errors = await errorsFor(path, code)
      assert.ok(errors.length > 0, `expected an import-direction error for ${path}`)
    })
  }

  const allowed: Array<[string, string]> = [
    ['src/sse/ok.ts', "import { sha256 } from '../crypto/index.js'\nexport const y = sha256"],
    ['src/consensus/ok.ts', "import { voteSignBytes } from '../blocks/vote.js'\nexport const y = voteSignBytes"],
    ['src/node/ok.ts', "import { createLibp2p } from 'libp2p'\nexport const y = createLibp2p"],
    ['src/fhir/ok.ts', "import { normalizeKeyword } from '../sse/index.js'\nexport const y = normalizeKeyword"]
  ]
  for (const [path, code] of allowed) {
    it(`allows ${path}`, async () => {
      assert.deepEqual(await errorsFor(path, code), [])
    })
  }
})
