/**
 * The production install (`npm ci --omit=dev`, what the Docker image runs) carries no WebRTC or
 * React Native: `@helia/bitswap` names `@helia/libp2p` only for types, and package.json's
 * `overrides` replaces it there, so the WebRTC tree that `@helia/libp2p` pulls in is installed only
 * for the tests' plain Helia node (a devDependency).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

interface LockPackage { dev?: boolean, optional?: boolean, devOptional?: boolean }

describe('lint: the production install', () => {
  const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, LockPackage> }
  const production = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev !== true && p.devOptional !== true)

  it('has no WebRTC or React Native package', () => {
    const heavy = production.map(([path]) => path).filter((path) => /node_modules\/(@libp2p\/webrtc|react-native|@react-native|node-datachannel)(\/|$)/.test(path))
    assert.deepEqual(heavy, [])
  })

  it('has @helia/bitswap, with @helia/libp2p replaced under it', () => {
    assert.ok(production.some(([path]) => path === 'node_modules/@helia/bitswap'))
    const alias = lock.packages['node_modules/@helia/bitswap/node_modules/@helia/libp2p'] as (LockPackage & { name?: string }) | undefined
    assert.equal(alias?.name, '@libp2p/interface')
  })
})
