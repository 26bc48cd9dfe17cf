/**
 * The one definition of every `pqmed` command and of the npm entry points (`npm start`,
 * `sim:local`, `sim:compose`): flags, arguments, help text and examples. The built-in help, the
 * usage errors and the README's CLI section (`npm run docs:cli`) are all generated from here.
 *
 * Loading this module costs only commander: each command's handler (and with it the crypto
 * backend, the PUF, libp2p) is imported when that command runs.
 */
import { readFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { collect, commandPath, operands, optionValues, type OptionValues } from './usage.js'

/** A command's handler: its option values (keyed by long flag) and its operands. */
export type Handler = (values: OptionValues, operands: string[]) => Promise<void>

/** The version of the package (package.json, next to dist/ and src/). */
export function packageVersion (): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

const EXIT_CODES = 'Exit codes: 0 ok, 1 error (node unreachable, RPC error, unreadable file), 2 bad usage or input, 3 verification failed.'

function examples (...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`
}

/** `[--flag ARG]` / `--flag ARG` / `[--flag ARG]...` for each visible option, then the operands. */
function synopsis (cmd: Command): string {
  const opts = cmd.options.filter((o) => !o.hidden && o.long !== undefined && o.long !== '--help').map((o) => {
    const arg = /<(.+)>|\[(.+)\]$/.exec(o.flags)?.slice(1).find((x) => x !== undefined)
    const term = `${o.long as string}${arg !== undefined ? ` ${arg}` : ''}`
    const repeat = o.description.includes('repeatable') ? '...' : ''
    return o.mandatory ? `${term}${repeat}` : `[${term}]${repeat}`
  })
  const args = cmd.registeredArguments.map((a) => {
    const n = `${a.name()}${a.variadic ? '...' : ''}`
    return a.required ? `<${n}>` : `[${n}]`
  })
  return [...args, ...opts].join(' ')
}

/** Sets every leaf command's usage line from its options (so the synopsis is never written by hand). */
function setUsage (cmd: Command): void {
  for (const c of cmd.commands) {
    if (c.commands.length > 0) setUsage(c)
    else if (c.name() !== 'help') c.usage(synopsis(c))
  }
}

const lazy = (load: () => Promise<Handler>) => async (...args: unknown[]): Promise<void> => {
  const self = args[args.length - 1] as Command
  const handler = await load()
  await handler(optionValues(self), operands(self))
}

/** A node-side command: its handler lives in ./pqmed.js (libp2p, LevelDB), loaded only when it runs. */
const nodeHandler = (name: 'genesisCmd' | 'nodeCmd' | 'peerIdCmd' | 'consortiumKeyCmd') => lazy(async () => (await import('./pqmed.js'))[name] as Handler)

type ClientHandlerName = 'enroll' | 'recordSubmit' | 'recordGet' | 'recordVerify' | 'recordList' | 'recordExport' | 'fileVerify' | 'searchCmd' | 'grantCmd' | 'fhirGateway' |
  'doctorAdd' | 'doctorRotate' | 'doctorRevoke' | 'userNodeAdd' | 'userNodeRemove' | 'keyRotate' | 'keyFetch' |
  'consortiumPropose' | 'consortiumSign' | 'consortiumSubmit' | 'consortiumShow'
/** A client command: ./client.js, which loads the SDK and (except `file verify`) the crypto backend. */
const clientHandler = (group: string, name: ClientHandlerName) => lazy(async () => {
  const { runClientCommand } = await import('./client.js')
  return async (values, args) => { await runClientCommand(group, name, values, args) }
})

/** `--rpc` and `--json`, taken by every client command. */
function client (cmd: Command): Command {
  return cmd
    .option('--rpc <URL>', 'JSON-RPC URL of the node (default: $PQMED_RPC, else the rpc of the .pqmed.json that npm start / sim:local write, found from the current directory upward or named by $PQMED_CONFIG, else http://127.0.0.1:8645/)')
    .option('--json', 'print one JSON object on stdout instead of text')
    .addHelpText('after', `\n${EXIT_CODES}`)
}

function genesisCommand (): Command {
  return new Command('genesis')
    .summary('create a network: genesis.json and manager, doctor and user-node identities')
    .description('Creates DIR/genesis.json (chain id, managers\' ML-DSA keys, peer ids and addresses, registered doctors, user-node peer ids, consensus parameters) ' +
      'and DIR/identities/ (simulated PUFs: only public helper data and the simulated chip seed are written).')
    .requiredOption('--dir <DIR>', 'directory to write (genesis.json, identities/)')
    .option('--managers <N>', 'manager nodes, 1..100 (default 4)')
    .option('--doctors <N>', 'registered doctors, 0..10000 (default 2)')
    .option('--users <N>', 'user-node identities identities/user-<i>.json, listed in genesis userNodes (default 0)')
    .option('--chain-id <ID>', 'chain id (default pqmed-devnet)')
    .option('--host <HOST>', 'host of the managers\' addresses (default 127.0.0.1)')
    .option('--base-port <N>', 'TCP port of manager 0; manager i listens on BASE+i (default 4100)')
    .addHelpText('after', examples(
      'pqmed genesis --dir net --managers 4 --doctors 2 --users 1 --base-port 4100'))
    .action(nodeHandler('genesisCmd'))
}

function nodeCommand (): Command {
  return new Command('node')
    .summary('run a manager or user node (prints {"event":"ready",...} when up)')
    .description('Runs a node until SIGINT or SIGTERM (clean stop); SIGHUP re-reads its allow lists. ' +
      'A manager admits only the genesis managers, the genesis userNodes, the --allow-peer ids and the ids in --allow-peers-file; ' +
      '--open admits anyone, with a warning. A user node is open unless given a list.')
    .addOption(new Option('--role <manager|user>', 'node role').choices(['manager', 'user']).makeOptionMandatory())
    .requiredOption('--genesis <FILE>', 'genesis.json of the network')
    .requiredOption('--data-dir <DIR>', 'the node\'s stores (created if missing)')
    .option('--identity <FILE>', 'identity file: required for a manager; on a user node a user identity (genesis --users, peer-id --new-identity) so its peer id is fixed (default DATA_DIR/peer-key)')
    .option('--listen <MULTIADDR>', 'libp2p listen address, repeatable (default /ip4/127.0.0.1/tcp/0)', collect)
    .option('--bootstrap <MULTIADDR>', 'extra peer to dial, repeatable', collect)
    .option('--allow-peer <PEER_ID>', 'admit this peer id, repeatable', collect)
    .option('--allow-peers-file <FILE>', 'admit the peer ids in FILE (one per line, # comments; re-read when it changes and on SIGHUP)')
    .addOption(new Option('--open', 'admit any libp2p peer (benchmarks and labs only; logs a warning)').conflicts(['allowPeer', 'allowPeersFile']))
    .option('--rpc-port <N>', 'serve JSON-RPC on this port (0: any free port; without it no JSON-RPC)')
    .option('--rpc-host <HOST>', 'JSON-RPC bind address, with --rpc-port (default 127.0.0.1)')
    .option('--rpc-rate-limit <PER_S[:BURST]|off>', 'JSON-RPC calls per second per client IP, with --rpc-port; burst default 2x (default 100:200; off: none, for tests)')
    .option('--loopback', 'tune libp2p for many nodes on 127.0.0.0/8 (devnets and tests only)')
    .option('--max-connections <N>', 'libp2p connections kept before pruning (default 4096 on a manager, 300 on a user node)')
    .option('--store-open-files <N>', 'files each LevelDB store keeps open, 74 to 50000 (default 74: 64 cached tables of up to 2 MiB, mapped into memory); more makes searches of a large store faster and its RSS larger (README "Scale")')
    .addOption(new Option('--pq <liboqs|noble>', 'ML-DSA/ML-KEM backend (default liboqs, falls back to noble with a warning)').choices(['liboqs', 'noble']))
    .option('--quiet', 'log only warnings and errors on stderr (the ready line is still printed); same as --log-level warn')
    .option('--ops-port <N>', 'serve the operations endpoints /metrics (Prometheus), /healthz and /readyz on this port (0: any free port; without it none)')
    .option('--ops-host <HOST>', 'operations server bind address, with --ops-port (default 127.0.0.1)')
    .addOption(new Option('--log-level <LEVEL>', 'least severe log events written on stderr (default info)').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).conflicts('quiet'))
    .addOption(new Option('--log-format <FORMAT>', 'log lines: pretty ("[manager] message key=value") or json (one pino JSON object per event) (default pretty)').choices(['pretty', 'json']))
    // fault injection for the adversarial tests (test/cli/duplicate-labels.test.ts, test/node/*byzantine*): never in production
    .addOption(new Option('--fault-equivocate').hideHelp().conflicts('faultUncheckedLabels'))
    .addOption(new Option('--fault-unchecked-labels').hideHelp())
    .addOption(new Option('--fault-records <MODE>').hideHelp().choices(['wrong-records', 'withhold-records', 'extra-records', 'corrupt-records']).conflicts(['faultEquivocate', 'faultUncheckedLabels']))
    .addHelpText('after', examples(
      'pqmed node --role manager --genesis net/genesis.json --data-dir net/m0 --identity net/identities/manager-0.json \\',
      '    --listen /ip4/127.0.0.1/tcp/4100 --rpc-port 8645 --allow-peers-file net/allow-peers.txt',
      'pqmed node --role user --genesis net/genesis.json --data-dir net/u0 --identity net/identities/user-0.json --rpc-port 8650 --quiet'))
    .action(nodeHandler('nodeCmd'))
}

function peerIdCommand (): Command {
  return new Command('peer-id')
    .summary('print a node\'s libp2p peer id (the line to add to a manager\'s allow file)')
    .description('Prints the peer id of an identity file (--identity), of a user node\'s DATA_DIR/peer-key (--data-dir; created if missing), ' +
      'or of a new identity written to FILE (--new-identity: a user node\'s by default; --role manager for a hospital that joins, ' +
      'or with --hospital-id for the new key of a hospital whose manager key is rotated). Give exactly one of the three.')
    .option('--identity <FILE>', 'an identity file')
    .option('--data-dir <DIR>', 'a user node\'s data dir')
    .option('--new-identity <FILE>', 'write a new user identity to FILE (never overwrites)')
    .option('--name <NAME>', 'name of the new identity, with --new-identity (default: the file name)')
    .option('--role <ROLE>', 'with --new-identity: user (default) or manager')
    .option('--hospital-id <HEX>', 'with --new-identity --role manager: the hospital this new manager key belongs to (a key rotation: pqmed consortium propose --action rotate)')
    .addHelpText('after', examples(
      'pqmed peer-id --data-dir /srv/pqmed/u7 >> /etc/pqmed/allow-peers.txt',
      'pqmed peer-id --new-identity net/identities/user-9.json',
      'pqmed peer-id --new-identity hospital-5.json --role manager',
      'pqmed peer-id --new-identity manager-2-key2.json --role manager --hospital-id 3f1c...e9'))
    .action(nodeHandler('peerIdCmd'))
}

function consortiumKeyCommand (): Command {
  const group = new Command('consortium-key')
    .summary('the doctors\' search key (index 2): create it, rotate it to a new epoch, fetch its epochs')
    .description('The consortium key file holds the index-2 search key of every key epoch, each wrapped to the doctors active when it was issued: ' +
      'create writes epoch 1 for the genesis doctors; rotate (a manager) commits a new epoch on chain after a doctor is revoked; fetch adds the committed epochs to a doctor\'s file. ' +
      '`pqmed consortium-key --genesis FILE --out FILE` still works as create.')
    .enablePositionalOptions()
    .addOption(new Option('--genesis <FILE>').hideHelp())
    .addOption(new Option('--out <FILE>').hideHelp())
    .addHelpText('after', examples('pqmed consortium-key create --help'))
    .action(nodeHandler('consortiumKeyCmd'))
  group.addCommand(new Command('create')
    .summary('make a network\'s consortium key file (epoch 1 of the doctors\' index key)')
    .description('Writes a new consortium-key.json for the doctors of a genesis: one fresh index key wrapped to every doctor (ML-KEM-768), ' +
      'which only they can open. Make it once per network and give the same file to every doctor; an existing file is never replaced. ' +
      '`pqmed genesis`, `npm start`, `sim:local` and the Compose init service write one next to the genesis.')
    .requiredOption('--genesis <FILE>', 'genesis.json of the network (its doctors)')
    .requiredOption('--out <FILE>', 'consortium key file to write (never overwritten)')
    .addHelpText('after', examples('pqmed consortium-key create --genesis net/genesis.json --out net/consortium-key.json'))
    .action(nodeHandler('consortiumKeyCmd')))
  group.addCommand(client(new Command('rotate')
    .summary('commit a new key epoch wrapped to the active doctors (as a manager; after a revocation)')
    .description('Generates a fresh index-2 key, wraps it to every active doctor (ML-KEM-768; the node reports them, the managers check the set), ' +
      'signs the key-epoch tx with the hospital\'s manager identity and waits for its commit. A revoked doctor holds no entry of the new epoch, so it cannot ' +
      'search records written under it; doctors pick it up with `consortium-key fetch` (record submit and search fetch it too). ' +
      'The key is generated here and never written: this machine\'s operator sees it once (docs/SSE.md, "Key epochs").')
    .requiredOption('--hospital <MANAGER_IDENTITY_FILE>', 'the manager identity of a current hospital (signs the epoch)')
    .option('--hospital-id <HEX>', 'the hospital id, if its manager key was rotated since it joined (default: SHA-256 of the identity\'s ML-DSA-65 key)')
    .addHelpText('after', examples('pqmed consortium-key rotate --hospital net/identities/manager-0.json --rpc http://127.0.0.1:8645/')))
    .action(clientHandler('consortium-key', 'keyRotate')))
  group.addCommand(client(new Command('fetch')
    .summary('add the committed key epochs to a doctor\'s consortium key file')
    .description('Fetches the key epochs committed after the newest one the file holds (chain_getKeyEpochs; a user node verifies their inclusion) ' +
      'and adds them to the file (format pqmed-consortium-key/2; a format-1 file is upgraded when an epoch is added). Reports which epochs the --identity doctor can open. ' +
      'The file is replaced atomically; it holds nothing secret in clear.')
    .requiredOption('--identity <DOCTOR_FILE>', 'the doctor\'s identity file (to report the epochs it holds)')
    .option('--consortium-key <FILE>', 'consortium key file (default: the config file\'s consortiumKey without --state, else STATE/consortium-key.json)')
    .option('--state <DIR>', 'client state directory (default: the config file\'s state, else ~/.pqmed/client)')
    .addHelpText('after', examples('pqmed consortium-key fetch --identity net/identities/doctor-0.json --consortium-key net/consortium-key.json')))
    .action(clientHandler('consortium-key', 'keyFetch')))
  return group
}

/** `backup` and `restore`: ./backup-cmd.js (LevelDB), loaded only when they run. */
const backupHandler = (name: 'backupCmd' | 'restoreCmd') => lazy(async () => (await import('./backup-cmd.js'))[name] as Handler)

function backupCommand (): Command {
  return new Command('backup')
    .summary('back up a node\'s data dir to one file (consistent while the node runs)')
    .description('Writes every LevelDB store of the data dir (all keys and values) and every other file in it to FILE, with a manifest and a SHA-256 per section. ' +
      'If a node runs on DIR, it is asked through DIR/admin.sock (only its own user may connect) and sends a snapshot of all its stores taken at one instant; ' +
      'otherwise the stores are read directly. FILE is written under a temporary name, read back and checked, then renamed; it is never replaced. ' +
      'FILE is mode 0600: it can hold a secret key (a user node\'s DIR/peer-key). The --identity and --genesis files of the node are outside the data dir: keep copies of them too.')
    .requiredOption('--data-dir <DIR>', 'the node\'s data dir (as given to pqmed node)')
    .requiredOption('--out <FILE>', 'backup file to write (must not exist; mode 0600)')
    .addHelpText('after', examples(
      'pqmed backup --data-dir /srv/pqmed/m0 --out /backups/m0-$(date +%F).pqbak'))
    .action(backupHandler('backupCmd'))
}

function restoreCommand (): Command {
  return new Command('restore')
    .summary('restore a backup into a new data dir (checked completely before it appears)')
    .description('Restores FILE into DIR, which must not exist or be empty (restore never overwrites a node\'s data: move an old data dir aside first). ' +
      'Everything is written into a temporary directory next to DIR and checked (each section\'s SHA-256, each store read back) before it is renamed to DIR; ' +
      'a truncated or corrupt backup is refused with what is wrong (exit 3) and leaves nothing. Start the node on DIR afterwards: a manager catches up from its peers. ' +
      'Never run two nodes with the same identity: restore a manager only where the original is stopped for good.')
    .requiredOption('--in <FILE>', 'backup file (from pqmed backup)')
    .requiredOption('--data-dir <DIR>', 'data dir to create (must not exist, or be empty)')
    .addHelpText('after', examples(
      'pqmed restore --in /backups/m0-2026-12-02.pqbak --data-dir /srv/pqmed/m0'))
    .action(backupHandler('restoreCmd'))
}

function consortiumCommand (): Command {
  const c = new Command('consortium')
    .summary('change the manager set: propose, sign (each hospital), submit, show')
    .description('A hospital joins, leaves or rotates its manager key with the signatures of at least 2f + 1 current managers, each made on the hospital\'s own machine. ' +
      'propose writes an unsigned change file (JSON, nothing secret) against the configuration in effect; each hospital signs its copy; submit merges the copies and submits them (consortium_submitChange). ' +
      'The change takes effect configDelay blocks (genesis, default 2) after its commit. See docs/CONSENSUS.md, "Manager changes: how to".')
    .addHelpText('after', examples('pqmed consortium propose --help'))
  c.addCommand(client(new Command('propose')
    .summary('write an unsigned change file: add a hospital, remove one, or rotate a manager key')
    .requiredOption('--action <ACTION>', 'add, remove or rotate')
    .requiredOption('--out <FILE>', 'change file to write (never overwritten)')
    .option('--identity <FILE>', 'add: the joining manager\'s identity; rotate: the new identity (only its public key and peer id are used)')
    .option('--name <NAME>', 'add: the hospital\'s name (default: the identity\'s name)')
    .option('--hospital <ID>', 'remove, rotate: the hospital id (64 hex digits)')
    .option('--addr <MULTIADDR>', 'add, rotate: the manager node\'s listen address (repeatable)', collect, [])
    .addHelpText('after', examples('pqmed consortium propose --action add --identity hospital-5.json --addr /ip4/10.0.0.5/tcp/4005 --out join-h5.json',
      'pqmed consortium propose --action remove --hospital 3f1c...e9 --out leave.json'))
    .action(clientHandler('consortium', 'consortiumPropose'))))
  c.addCommand(client(new Command('sign')
    .summary('sign a change file as one hospital (on its own machine)')
    .argument('<CHANGE_FILE>', 'the change file')
    .requiredOption('--identity <FILE>', 'this hospital\'s manager identity')
    .option('--out <FILE>', 'where to write the signed copy (default: CHANGE_FILE, in place)')
    .addHelpText('after', examples('pqmed consortium sign join-h5.json --identity net/identities/manager-0.json --out join-h5.m0.json'))
    .action(clientHandler('consortium', 'consortiumSign'))))
  c.addCommand(client(new Command('submit')
    .summary('merge signed copies of a change and submit it (waits for commit)')
    .argument('<CHANGE_FILE...>', 'signed copies of one change')
    .addHelpText('after', examples('pqmed consortium submit join-h5.m0.json join-h5.m2.json join-h5.m3.json'))
    .action(clientHandler('consortium', 'consortiumSubmit'))))
  c.addCommand(client(new Command('show')
    .summary('print a change file and its signers')
    .argument('<CHANGE_FILE>', 'the change file')
    .addHelpText('after', examples('pqmed consortium show join-h5.json --json'))
    .action(clientHandler('consortium', 'consortiumShow'))))
  return c
}

function enrollCommand (): Command {
  return client(new Command('enroll')
    .summary('create a patient identity and register it')
    .description('Creates a patient identity (a simulated PUF enrollment) and registers its public keys on the chain (ehr_registerPatient); ' +
      'the file is written only once the node confirmed the registration, so a failed enroll leaves nothing and can be run again. ' +
      'If the registration was sent but not confirmed, the file is kept and the command exits 1: run enroll --identity FILE. ' +
      'With --identity FILE, registers the identity in an existing file (repeating it is harmless).')
    .option('--name <NAME>', 'the patient\'s name (1..128 characters), with --out')
    .option('--out <FILE>', 'identity file to write (never overwritten), with --name')
    .addOption(new Option('--identity <FILE>', 'register the existing identity in FILE instead of creating one').conflicts(['name', 'out']))
    .addHelpText('after', examples('pqmed enroll --name "Rosa Okafor" --out rosa.json', 'pqmed enroll --identity rosa.json'))
    .action(clientHandler('enroll', 'enroll')))
}

function recordCommand (): Command {
  const record = new Command('record')
    .summary('submit, read, verify and list records')
    .description('Records: submit (as a doctor, for a patient), get (verified; decrypted with --decrypt), verify, list (a patient\'s records), export (a CAR file for IPFS).')
    .addHelpText('after', examples('pqmed record get --help'))
  record.addCommand(client(new Command('submit')
    .summary('encrypt and submit a record for a patient (waits for commit)')
    .description('Encrypts a record on this client (the patient\'s key transfer to the doctor, three encrypted fields, the doctor\'s signature, ' +
      'searchable index updates) and submits it. A FHIR R4 Bundle whose Patient name differs from the --patient identity\'s name is refused ' +
      '(records cannot be removed from the chain) unless --allow-patient-mismatch is given.')
    .requiredOption('--doctor <ID_FILE>', 'the writing doctor\'s identity file')
    .requiredOption('--patient <ID_FILE>', 'the patient\'s identity file')
    .requiredOption('--input <FILE>', 'the record: a JSON record or a FHIR R4 Bundle')
    .option('--consortium-key <FILE>', 'consortium key file (default: the config file\'s consortiumKey without --state, else STATE/consortium-key.json)')
    .option('--file-type <T>', 'file type indexed for searches (default: the input\'s fileType; fhir-bundle for a Bundle)')
    .option('--state <DIR>', 'the doctor\'s client state: searchable-index counters (default: the config file\'s state, else ~/.pqmed/client)')
    .option('--allow-patient-mismatch', 'submit even if the input names another patient than --patient (with a warning)')
    .addHelpText('after', examples(
      'pqmed record submit --doctor net/identities/doctor-0.json --patient rosa.json --input visit.json --consortium-key net/consortium-key.json',
      'pqmed record submit --doctor net/identities/doctor-0.json --patient rosa.json --input bundle.json --file-type discharge --json'))
    .action(clientHandler('record', 'recordSubmit'))))
  record.addCommand(client(new Command('get')
    .summary('fetch a record, verified on this client; decrypt it with --decrypt --as')
    .description('Fetches a record and verifies it on this client (header hash, ciphertext hashes, inclusion; with --genesis also the doctor\'s signature and the commit certificate). ' +
      'Prints each ciphertext\'s IPFS CID (managers serve them over bitswap). ' +
      'With --decrypt --as ID_FILE, decrypts the fields that identity holds keys for (the record\'s patient, or a grantee).')
    .argument('<RECORD_ID>', 'record id (64 hex digits)')
    .option('--decrypt', 'decrypt the fields the --as identity may read')
    .option('--as <ID_FILE>', 'the identity that decrypts, with --decrypt')
    .option('--genesis <FILE>', 'genesis.json: also check the doctor\'s signature and the commit certificate (default: the config file\'s genesis, which npm start and sim:local write)')
    .option('--save-ciphertexts <DIR>', 'write the record\'s ciphertexts to DIR/<RECORD_ID>.cip<i> (attachments follow the fields: cip4 is attachment 0)')
    .option('--fhir', 'with --decrypt: print the record\'s original FHIR Bundle (attachment 0), byte for byte, and nothing else')
    .addHelpText('after', examples(
      'pqmed record get 3f1c...e9 --genesis net/genesis.json',
      'pqmed record get 3f1c...e9 --decrypt --as rosa.json --fhir > bundle-back.json',
      'pqmed record get 3f1c...e9 --decrypt --as rosa.json --json',
      'pqmed record get 3f1c...e9 --save-ciphertexts cips/ && pqmed file verify cips/3f1c...e9.cip2'))
    .action(clientHandler('record', 'recordGet'))))
  record.addCommand(client(new Command('verify')
    .summary('verify a record on the node and again on this client')
    .argument('<RECORD_ID>', 'record id (64 hex digits)')
    .option('--genesis <FILE>', 'genesis.json: the client also checks the signature and the certificate (default: the config file\'s genesis, which npm start and sim:local write)')
    .addHelpText('after', examples('pqmed record verify 3f1c...e9 --genesis net/genesis.json'))
    .action(clientHandler('record', 'recordVerify'))))
  record.addCommand(client(new Command('export')
    .summary('write a record as a CAR file (its IPFS blocks), verified on this client first')
    .description('Fetches the record, verifies it on this client like record get, and writes FILE: a CARv1 archive importable by any IPFS implementation ' +
      '(e.g. ipfs dag import FILE). Its root is a dag-cbor block (format pqmed-record/1) linking the record tx, the header of its block, the commit certificate ' +
      'and the ciphertexts (raw blocks under the CIDs record get prints); the Merkle proof is in the root. Nothing is written if verification fails; an existing FILE is never replaced.')
    .argument('<RECORD_ID>', 'record id (64 hex digits)')
    .requiredOption('--car <FILE>', 'the CAR file to write (never overwritten)')
    .option('--genesis <FILE>', 'genesis.json: also check the doctor\'s signature and the commit certificate (default: the config file\'s genesis, which npm start and sim:local write)')
    .addHelpText('after', examples('pqmed record export 3f1c...e9 --car 3f1c.car'))
    .action(clientHandler('record', 'recordExport'))))
  record.addCommand(client(new Command('list')
    .summary('list a patient\'s records (searched in the index, checked for omissions)')
    .description('Lists the records of the --as patient. The doctors who write the index come from the consortium key file or from the genesis (give one).')
    .requiredOption('--as <PATIENT_ID_FILE>', 'the patient\'s identity file')
    .addOption(new Option('--consortium-key <FILE>', 'consortium key file (its doctors are the index writers)').conflicts('genesis'))
    .option('--genesis <FILE>', 'genesis.json (its registered doctors are the index writers)')
    .addHelpText('after', examples('pqmed record list --as rosa.json --genesis net/genesis.json'))
    .action(clientHandler('record', 'recordList'))))
  return record
}

function fileCommand (): Command {
  const file = new Command('file')
    .summary('check files against the chain')
    .addHelpText('after', examples('pqmed file verify --help'))
  file.addCommand(client(new Command('verify')
    .summary('check whether a file (or an IPFS CID) is a committed record field or attachment')
    .description('Asks the node whether these exact bytes are a committed ciphertext (field or attachment) and of which record. ' +
      'With --cid CID (or a CID given instead of PATH, when no such file exists), asks the same of the ciphertext that IPFS CID names (CIDv1, raw, sha2-256, as record get prints). Exit 3 if they match nothing.')
    .argument('[PATH]', 'the file (or a CID)')
    .option('--cid <CID>', 'a ciphertext\'s IPFS CID instead of a file')
    .addHelpText('after', examples('pqmed file verify cips/3f1c...e9.cip2', 'pqmed file verify --cid bafkrei...'))
    .action(clientHandler('file', 'fileVerify'))))
  return file
}

function searchCommand (): Command {
  return client(new Command('search')
    .summary('search the encrypted index as a doctor (results verified, omissions detected)')
    .description('Searches by keyword, file type and birth-year range (all given must match). Tokens are made on this client from the consortium key; ' +
      'the answer is verified, and results the node omitted or forged give exit 3.')
    .argument('[KEYWORD...]', 'keywords (all must match)')
    .option('--type <T>', 'file type (e.g. fhir-bundle)')
    .option('--born <FROM-TO>', 'birth year or range, e.g. 1970-1989')
    .requiredOption('--doctor <ID_FILE>', 'the searching doctor\'s identity file')
    .option('--consortium-key <FILE>', 'consortium key file (default: the config file\'s consortiumKey without --state, else STATE/consortium-key.json)')
    .option('--state <DIR>', 'client state with the index counters (default: the config file\'s state, else ~/.pqmed/client)')
    .option('--recover', 'recover every doctor\'s index counters from the node first (the default; finds records written by any client)')
    .option('--no-recover', 'search only what the --state DIR knows (records written by other clients are not searched; the output says so)')
    .option('--page-size <N>', 'index entries per sse_search call, 1..10000 (default: the node\'s, 1000); every page is fetched and verified')
    .addHelpText('after', examples(
      'pqmed search fever --doctor net/identities/doctor-0.json --consortium-key net/consortium-key.json --state net/client-state',
      'pqmed search --type fhir-bundle --born 1960-1965 --doctor net/identities/doctor-0.json --json'))
    .action(clientHandler('search', 'searchCmd')))
}

function grantCommand (): Command {
  return client(new Command('grant')
    .summary('grant another identity access to fields of a record (as its patient)')
    .description('The record\'s patient grants the grantee the keys of the listed fields (ML-KEM-768 key transfer, signed with the record\'s owner key).')
    .argument('<RECORD_ID>', 'record id (64 hex digits)')
    .requiredOption('--from <ID_FILE>', 'the record\'s patient (identity file)')
    .requiredOption('--to <ID_FILE|PATIENT_ID>', 'the grantee: an identity file, or an enrolled patient\'s id (64 hex digits)')
    .requiredOption('--fields <LIST>', 'comma-separated: personalInfo, symptoms, prescriptions')
    .addHelpText('after', examples('pqmed grant 3f1c...e9 --from rosa.json --to net/identities/doctor-1.json --fields symptoms,prescriptions'))
    .action(clientHandler('grant', 'grantCmd')))
}

const HOSPITAL_HELP = 'the hospital\'s manager identity file (identities/manager-<i>.json): it signs the tx'

function doctorCommand (): Command {
  const doctor = new Command('doctor')
    .summary('register, rotate and revoke a hospital\'s doctors (signed by the hospital\'s manager identity)')
    .description('A hospital (a manager) registers, rotates and revokes its own doctors with txs signed by its manager identity (docs/GOVERNANCE.md). ' +
      'A change takes effect in the blocks after the one that commits it.')
    .addHelpText('after', examples('pqmed doctor add --help'))
  doctor.addCommand(client(new Command('add')
    .summary('create a doctor identity and register it for a hospital (waits for commit)')
    .description('Creates a doctor identity (a simulated PUF enrollment) and registers its ML-DSA-65 and ML-KEM-768 public keys with a doctor add tx signed by the hospital; ' +
      'the file is written only once the registration is committed (a refused one leaves nothing). With --consortium-key and --key-holder, the consortium index key ' +
      '(opened with the holder doctor\'s key) is then wrapped to the new doctor and added to that file, which record submit and search need.')
    .requiredOption('--name <NAME>', 'the doctor\'s name (1..128 characters)')
    .requiredOption('--out <FILE>', 'identity file to write (never overwritten)')
    .requiredOption('--hospital <MANAGER_IDENTITY_FILE>', HOSPITAL_HELP)
    .option('--consortium-key <FILE>', 'consortium key file to add the new doctor to, with --key-holder')
    .option('--key-holder <ID_FILE>', 'a doctor identity that holds the consortium key, with --consortium-key')
    .addHelpText('after', examples(
      'pqmed doctor add --name "Dr. Ada Obi" --out ada.json --hospital net/identities/manager-0.json',
      'pqmed doctor add --name "Dr. Ada Obi" --out ada.json --hospital net/identities/manager-0.json --consortium-key net/consortium-key.json --key-holder net/identities/doctor-0.json'))
    .action(clientHandler('doctor', 'doctorAdd'))))
  doctor.addCommand(client(new Command('rotate')
    .summary('replace a doctor\'s keys (a lost or exposed device); the old key signs nothing new')
    .description('Creates a new identity for the doctor of --identity (same name) and registers its keys with a doctor rotate tx signed by the doctor\'s hospital; ' +
      'the new doctor id is SHA-256 of the new key. Records signed with the old key before the rotation stay valid; new ones with it are refused (-32018). ' +
      'The new file is written only once the rotation is committed. With --consortium-key, the new key is added to that file (opened with the old identity).')
    .requiredOption('--identity <FILE>', 'the doctor\'s current identity file (only its public key is used)')
    .requiredOption('--out <NEW_FILE>', 'new identity file to write (never overwritten)')
    .requiredOption('--hospital <MANAGER_IDENTITY_FILE>', HOSPITAL_HELP)
    .option('--consortium-key <FILE>', 'consortium key file to add the new key to (opened with --identity)')
    .addHelpText('after', examples('pqmed doctor rotate --identity ada.json --out ada-2.json --hospital net/identities/manager-0.json'))
    .action(clientHandler('doctor', 'doctorRotate'))))
  doctor.addCommand(client(new Command('revoke')
    .summary('revoke a doctor: its records and grants so far stay valid, new ones are refused')
    .argument('<DOCTOR_ID>', 'the doctor\'s active id (64 hex digits), or its identity file')
    .requiredOption('--hospital <MANAGER_IDENTITY_FILE>', HOSPITAL_HELP)
    .addHelpText('after', examples('pqmed doctor revoke 5be1...07 --hospital net/identities/manager-0.json'))
    .action(clientHandler('doctor', 'doctorRevoke'))))
  return doctor
}

function userNodeCommand (): Command {
  const un = new Command('user-node')
    .summary('admit or remove a hospital\'s user node at the managers\' connection gate')
    .description('A hospital admits (add) or removes (remove) a user node by its libp2p peer id (pqmed peer-id) with a tx signed by its manager identity; ' +
      'every manager\'s connection gater follows the chain (a removed node\'s connections are closed).')
    .addHelpText('after', examples('pqmed user-node add --help'))
  for (const [action, summary] of [['add', 'admit a user node (libp2p peer id)'], ['remove', 'remove a user node the hospital admitted']] as const) {
    un.addCommand(client(new Command(action)
      .summary(summary)
      .argument('<PEER_ID>', 'the user node\'s libp2p peer id (pqmed peer-id)')
      .requiredOption('--hospital <MANAGER_IDENTITY_FILE>', HOSPITAL_HELP)
      .addHelpText('after', examples(`pqmed user-node ${action} 12D3KooW... --hospital net/identities/manager-0.json`))
      .action(clientHandler('user-node', action === 'add' ? 'userNodeAdd' : 'userNodeRemove'))))
  }
  return un
}

function fhirGatewayCommand (): Command {
  return client(new Command('fhir-gateway')
    .summary('serve a local FHIR R4 REST API for one doctor or patient (search through the encrypted indexes)')
    .description('A FHIR R4 server on 127.0.0.1 acting for the --as identity: it searches the encrypted indexes, decrypts with that identity\'s keys ' +
      'and answers GET /metadata, /Patient/{id}, /Patient?birthdate=, /Condition?code=, /MedicationRequest?patient= (searchset Bundles with _count paging) ' +
      'and POST / (a transaction Bundle becomes a record, as a doctor, for the --patient identity its Patient names). Errors are OperationOutcomes. ' +
      'Prints {"event":"ready","url":...} when listening; runs until SIGINT or SIGTERM.')
    .requiredOption('--as <ID_FILE>', 'the doctor or patient the gateway acts for')
    .requiredOption('--port <N>', 'TCP port on 127.0.0.1 (0: any free port)')
    .option('--patient <ID_FILE>', 'a patient a doctor may submit records for with POST / (repeatable)', collect)
    .option('--consortium-key <FILE>', 'consortium key file, for a doctor (default: the config file\'s consortiumKey without --state, else STATE/consortium-key.json)')
    .option('--state <DIR>', 'client state with the index counters (default: the config file\'s state, else ~/.pqmed/client)')
    .option('--genesis <FILE>', 'genesis.json: also check each record\'s doctor signature and certificate (default: the config file\'s genesis)')
    .addHelpText('after', examples(
      'pqmed fhir-gateway --as net/identities/doctor-0.json --port 8080 --patient rosa.json',
      'curl -s \'http://127.0.0.1:8080/Condition?code=http://snomed.info/sct|38341003\''))
    .action(clientHandler('fhir-gateway', 'fhirGateway')))
}

function explorerCommand (): Command {
  return new Command('explorer')
    .summary('serve the web explorer for a node (blocks, consortium, peers, charts, verify a file)')
    .description('Serves the explorer pages that every node also serves at /explorer/ on its JSON-RPC port, and passes their JSON-RPC calls on to the node at --rpc ' +
      '(for a node whose JSON-RPC port the browser cannot reach directly). No external network: the pages load nothing from elsewhere. ' +
      'Prints {"event":"ready","url":...} when up; runs until Ctrl-C.')
    .requiredOption('--rpc <URL>', 'JSON-RPC URL of the node to explore')
    .option('--port <N>', 'port to serve on (default 8660; 0: any free port)')
    .option('--host <HOST>', 'bind address (default 127.0.0.1)')
    .addHelpText('after', examples('pqmed explorer --rpc http://127.0.0.1:8645/   # then open http://127.0.0.1:8660/explorer/'))
    .action(lazy(async () => (await import('../explorer/cli.js')).explorerCmd as Handler))
}

/** The `pqmed` program: every command and subcommand, each with its own help. */
export function pqmedProgram (): Command {
  const program = new Command('pqmed')
    .description('pqmed: post-quantum peer-to-peer node for private, tamper-evident, searchable medical records.\n' +
      'Network commands (genesis, node, peer-id, consortium-key, backup, restore) run the network; client commands talk to a node over JSON-RPC and verify every answer.')
    .version(packageVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help (also: pqmed help COMMAND, pqmed COMMAND --help)')
    .helpCommand('help [COMMAND]', 'show help for a command')
    .configureHelp({ sortSubcommands: false })
  for (const c of [genesisCommand(), nodeCommand(), peerIdCommand(), consortiumKeyCommand(), consortiumCommand(), backupCommand(), restoreCommand(), enrollCommand(), recordCommand(), fileCommand(), searchCommand(), grantCommand(), doctorCommand(), userNodeCommand(), fhirGatewayCommand(), explorerCommand()]) program.addCommand(c)
  setUsage(program)
  program.addHelpText('after', () => `\nSynopsis:\n${leafCommands(program).map((c) => `  ${commandPath(c)} ${c.usage()}`).join('\n')}\n\n` +
    `Client commands take --rpc URL (else $PQMED_RPC, else .pqmed.json, else http://127.0.0.1:8645/) and --json.\n${EXIT_CODES}\n` +
    examples('pqmed record --help', 'pqmed help search'))
  return program
}

/** Every command that runs something (not a group, not `help`), in definition order. */
export function leafCommands (cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => c.name() === 'help' ? [] : c.commands.length > 0 ? leafCommands(c) : [c])
}

// ---- the npm entry points (their handlers stay in their own files) ----

/** `npm start`: the devnet. */
export function devnetCommand (): Command {
  const cmd = new Command('npm start --')
    .description('A devnet: 4 managers and 2 user nodes as processes on loopback, 50 seeded synthetic records. ' +
      'Prints every node\'s JSON-RPC URL and copy-paste examples; runs until Ctrl-C, which stops every node. A later start reuses the data dir.')
    .option('--data-dir <DIR>', 'data dir (default .devnet)')
    .option('--records <N>', 'synthetic records seeded on the first start, 0..10000 (default 50)')
    .option('--users <N>', 'user nodes (default 2)')
    .option('--rpc-port <N>', 'user-0\'s JSON-RPC port (user-j: N + j, manager-i: N - 4 + i); 0: free ports (default 8645, the CLI\'s default node). ' +
      'Applies when the data dir is created; a taken port is replaced by a free one, and the banner says so')
    .option('--p2p-port <N>', 'manager-0\'s libp2p port (manager-i: N + i); 0: free ports (default 4100)')
    .option('--ops-port <N>', 'user-0\'s operations port: /metrics, /healthz, /readyz (user-j: N + j, manager-i: N - 4 + i); 0: free ports (default 9645, or free ports with --rpc-port 0). ' +
      'A taken port is replaced by a free one, and the banner says so')
    .option('--config <FILE>', 'where to write the CLI\'s config: node URL, consortium key, client state (default: $PQMED_CONFIG, else ./.pqmed.json)')
    .addHelpText('after', examples('npm start', 'npm start -- --data-dir /tmp/dn --records 0 --rpc-port 0 --config /tmp/dn/pqmed.json'))
  cmd.usage(synopsis(cmd))
  return cmd
}

/** The topology flags `sim:local` and `sim:compose` share (src/cli/topology.ts). */
function topologyOptions (cmd: Command): Command {
  return cmd
    .option('--topology <FILE>', 'topology file (JSON or YAML; flags override it)')
    .option('--managers <N>', 'manager nodes (default 4)')
    .option('--users <N>', 'user nodes (default 2)')
    .option('--doctors <N>', 'registered doctors (default 2)')
    .option('--latency <MS>', 'one-way latency per node in ms (default 0)')
    .option('--chain-id <ID>', 'chain id (default pqmed-devnet)')
}

/** `npm run sim:local`. */
export function simLocalCommand (): Command {
  const cmd = topologyOptions(new Command('npm run sim:local --')
    .description('A topology as local processes, printing every node\'s JSON-RPC endpoint and running until Ctrl-C. ' +
      'A latency needs --netns (root and ip netns: one network namespace per node, tc netem delay).'))
    .option('--netns', 'one network namespace per node (root, ip netns, veth/bridge)')
    .option('--data-dir <DIR>', 'keep the data here (default: a temporary dir removed on exit)')
    .option('--config <FILE>', 'where to write the CLI\'s config: node URL, consortium key, client state (default: $PQMED_CONFIG, else ./.pqmed.json)')
    .addHelpText('after', examples('npm run sim:local -- --managers 4 --users 6', 'sudo npm run sim:local -- --netns --latency 40 --data-dir /tmp/sim'))
  cmd.usage(synopsis(cmd))
  return cmd
}

/** `npm run sim:compose`. */
export function simComposeCommand (): Command {
  const cmd = topologyOptions(new Command('npm run sim:compose --')
    .description('Writes a Docker Compose file for a topology (see docker/README.md).'))
    .option('--out <FILE>', 'compose file to write (default docker/compose.generated.yml)')
    .option('--image <IMAGE>', 'image of every service (default pqmed:local)')
    .option('--monitoring', 'add Prometheus (127.0.0.1:9090, scraping every node\'s :9100/metrics) and Grafana (127.0.0.1:3000, dashboard docker/grafana/pqmed-dashboard.json)')
    .addHelpText('after', examples('npm run sim:compose -- --managers 4 --users 20 --latency 40', 'npm run sim:compose -- --managers 4 --users 3 --monitoring'))
  cmd.usage(synopsis(cmd))
  return cmd
}

/** `npm run sim:k8s`. */
export function simK8sCommand (): Command {
  const cmd = topologyOptions(new Command('npm run sim:k8s --')
    .description('Writes Kubernetes manifests for a topology (StatefulSets, headless Services, genesis ConfigMap, identity Secrets, ' +
      'PodDisruptionBudget; see docker/README.md) and the network files (genesis, identities, consortium key) for clients. ' +
      'A new genesis every time; no latency (netem needs NET_ADMIN).'))
    .option('--out <FILE>', 'manifest file to write, mode 0600: it holds the identities (default docker/k8s/pqmed.generated.yaml)')
    .option('--net-dir <DIR>', 'where to write genesis.json, identities/ and consortium-key.json (default: net/ next to --out; must not hold a genesis)')
    .option('--namespace <NS>', 'Kubernetes namespace (default pqmed)')
    .option('--image <IMAGE>', 'image of every node (default pqmed:local)')
    .option('--monitoring', 'add a Prometheus Deployment scraping every node\'s :9100/metrics')
    .addHelpText('after', examples('npm run sim:k8s -- --managers 4 --users 200', 'npm run sim:k8s -- --topology docker/topologies/devnet.yml --users 50 --monitoring --image registry.example.org/pqmed:0.1.0'))
  cmd.usage(synopsis(cmd))
  return cmd
}
