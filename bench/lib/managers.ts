import { join } from 'node:path'
import type { ProcSpec } from '../../src/cli/procs.js'

/**
 * The `pqmed node` process of manager `i` of a network written by `writeDevnet(root, ...)`:
 * its identity and data dir under `root`, libp2p on 127.0.0.1:`port`, JSON-RPC on a free port,
 * loopback tuning. Name `m<i>`. Permissioned (genesis managers and `userNodes`) unless `open`:
 * benchmarks that run hundreds of throwaway in-process user nodes start the managers with
 * `--open`, which each manager logs as a warning.
 */
export function managerSpec (root: string, i: number, port: number, opts: { open?: boolean } = {}): ProcSpec {
  return {
    name: `m${i}`,
    args: ['--role', 'manager', '--genesis', join(root, 'genesis.json'), '--data-dir', join(root, `m${i}`), '--identity', join(root, 'identities', `manager-${i}.json`),
      '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--rpc-port', '0', '--loopback', ...(opts.open === true ? ['--open'] : [])]
  }
}
