/**
 * Loaded by mocha before every test file (.mocharc.json `require`). The CLI processes the tests
 * start inherit this environment: a developer's `.pqmed.json` in the repository (written by
 * `npm start`) or a PQMED_RPC / PQMED_CONFIG in their shell must not change what they do.
 * Tests that exercise the config lookup pass their own environment (test/cli/node-url.test.ts).
 */
process.env.PQMED_CONFIG = 'none'
delete process.env.PQMED_RPC
