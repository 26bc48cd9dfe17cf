// @ts-check
// Lint rules, including the import directions of docs/ARCHITECTURE.md:
//   pure libraries (crypto, puf, blocks, sse, records) import no networking, storage or node code;
//   consensus imports only blocks and crypto; rpc defines its own backend interface and never
//   imports the node; only src/node (and the CLI/bench/test entry points) wire libp2p and Helia.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Packages and Node built-ins that do networking or storage. */
const NETWORK_AND_STORAGE = [
  'libp2p', 'libp2p/*', '@libp2p/*', '@chainsafe/*', 'helia', 'helia/*', '@helia/*',
  'blockstore-*', 'datastore-*', 'interface-datastore', 'interface-blockstore', 'level', 'classic-level',
  'node:net', 'node:http', 'node:https', 'node:http2', 'node:dgram', 'node:dns', 'node:tls',
  'node:fs', 'node:fs/*', 'node:child_process', 'net', 'http', 'https', 'fs', 'fs/*', 'child_process'
]

/** @param {string[]} dirs @returns {string[]} */
const relativeInto = (dirs) => dirs.flatMap((d) => [`../${d}`, `../${d}/*`, `../../${d}`, `../../${d}/*`, `**/src/${d}/*`])

/** @param {string[]} forbiddenDirs @param {string} why */
const restrict = (forbiddenDirs, why) => ({
  'no-restricted-imports': ['error', {
    patterns: [
      { group: NETWORK_AND_STORAGE, message: `${why}: no networking or storage here (docs/ARCHITECTURE.md).` },
      { group: relativeInto(forbiddenDirs), message: `${why}: import direction violated (docs/ARCHITECTURE.md).` }
    ]
  }]
})

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bench/results/**', '.devnet/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'CallExpression[callee.property.name="only"][callee.object.name=/^(it|describe)$/]', message: 'no focused tests' }]
    }
  },
  {
    // the explorer's browser script (src/explorer/static), served as is: no imports, browser globals
    files: ['src/explorer/static/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(['window', 'document', 'location', 'fetch', 'crypto', 'btoa', 'setTimeout', 'clearTimeout', 'Node', 'URLSearchParams', 'globalThis'].map((g) => [g, 'readonly']))
    }
  },
  { files: ['src/crypto/**/*.ts'], rules: restrict(['puf', 'blocks', 'sse', 'records', 'consensus', 'node', 'rpc', 'client', 'cli'], 'src/crypto is the bottom layer') },
  { files: ['src/puf/**/*.ts'], rules: restrict(['blocks', 'sse', 'records', 'consensus', 'node', 'rpc', 'client', 'cli'], 'src/puf is a pure library') },
  { files: ['src/blocks/**/*.ts'], rules: restrict(['puf', 'sse', 'records', 'consensus', 'node', 'rpc', 'client', 'cli'], 'src/blocks is a pure library') },
  { files: ['src/sse/**/*.ts'], rules: restrict(['puf', 'blocks', 'records', 'consensus', 'node', 'rpc', 'client', 'cli'], 'src/sse is a pure library') },
  { files: ['src/records/**/*.ts'], rules: restrict(['puf', 'blocks', 'sse', 'consensus', 'node', 'rpc', 'client', 'cli'], 'src/records is a pure library') },
  { files: ['src/fhir/**/*.ts'], rules: restrict(['puf', 'blocks', 'records', 'consensus', 'node', 'rpc', 'client', 'cli'], 'src/fhir is a pure library (it may use src/sse\'s keyword normalization)') },
  { files: ['src/consensus/**/*.ts'], rules: restrict(['puf', 'sse', 'records', 'node', 'rpc', 'client', 'cli'], 'src/consensus imports only blocks and crypto') },
  {
    files: ['src/rpc/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['libp2p', '@libp2p/*', '@chainsafe/*', 'helia', '@helia/*', 'blockstore-*', 'datastore-*', 'level'], message: 'src/rpc is an adapter over its backend interface: no libp2p/Helia/storage.' },
          { group: relativeInto(['node', 'client', 'cli']), message: 'src/rpc defines the backend interface the node implements; it never imports the node.' }
        ]
      }]
    }
  },
  {
    files: ['src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['libp2p', '@libp2p/*', '@chainsafe/*', 'helia', '@helia/*', 'blockstore-*', 'datastore-*', 'level'], message: 'src/client talks to nodes over JSON-RPC only.' },
          { group: relativeInto(['node', 'consensus']), message: 'src/client never imports the node.' }
        ]
      }]
    }
  }
)
