/**
 * `npm run bench:crypto`: the cost of every cryptographic operation pqmed performs, on this machine.
 *
 * - ML-DSA-65 sign / verify and ML-KEM-768 encapsulate / decapsulate with both PQ backends
 *   (liboqs WebAssembly and noble pure JS); deterministic key generation (noble, from seeds).
 * - node:crypto symmetric primitives through the src/crypto wrappers: SHA-256, HMAC-SHA256,
 *   HKDF-SHA256, AES-256-GCM of 1 KiB and 1 MiB.
 * - Per-record costs with each backend: key transfer (cip0) create / open, sealRecord of three
 *   realistic fields, verifyRecord (signature and three ciphertext hashes), grant create / open.
 * - PUF (SimulatedSramPuf, default settings): enroll, reproduce, deriveIdentityKeys.
 * - RFC 6962 Merkle trees of 64-byte leaves: roots of 1,000 and 100,000 leaves, an inclusion proof
 *   and its verification in a tree of 100,000.
 *
 * Each row is warmed up, then timed for about a second (bench/lib/measure.ts); the full run takes
 * under a minute. Prints a markdown table and writes bench/results/crypto.json.
 *
 * Options: `--quick` (a few iterations per row, for the smoke test; writes nothing unless `--out`),
 * `--out PATH` (JSON output; default bench/results/crypto.json).
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  aeadOpen, aeadSeal, equalBytes, hkdfSha256, hmacSha256, kemKeygen, loadLiboqs, noblePq, randomBytes, sha256,
  sigKeygen, utf8, type PqBackend
} from '../src/crypto/index.js'
import * as records from '../src/records/index.js'
import { deriveIdentityKeys, enroll, reproduce, SimulatedSramPuf } from '../src/puf/index.js'
import { inclusionProof, leafHash, merkleLevels, merkleRoot, proofFromLevels, verifyInclusion } from '../src/blocks/index.js'
import {
  checkArgs, formatNumber, hasFlag, machineInfo, machineLine, markdownTable, measure, optionValue, writeJson,
  type MeasureOptions, type Measurement
} from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['quick'], ['out'])
const QUICK = hasFlag(argv, 'quick')
const OUT = optionValue(argv, 'out') ?? (QUICK ? undefined : join(dirname(fileURLToPath(import.meta.url)), 'results', 'crypto.json'))

/** Per-row timing: ~0.8 s after 0.15 s of warm-up; --quick: one warm-up call and 2 timed calls. */
const SETTINGS: MeasureOptions = QUICK
  ? { timeMs: 0, warmupMs: 0, minIterations: 2, maxIterations: 2 }
  : { timeMs: 800, warmupMs: 150, minIterations: 5 }
/** The 100,000-leaf Merkle rows take ~0.3 s a call: fewer calls, same minimum. */
const HEAVY: MeasureOptions = QUICK ? SETTINGS : { timeMs: 1000, warmupMs: 0, minIterations: 3 }

const seed = (label: string, n = 32): Uint8Array => hkdfSha256(utf8(`pqmed/bench/crypto/${label}`), new Uint8Array(0), 'seed', n)
/** A JSON field grown from `items` until it reaches `targetBytes` (a realistic shape, not random bytes). */
function jsonField (targetBytes: number, make: (i: number) => unknown): Uint8Array {
  const items: unknown[] = []
  let enc = records.encodeJsonField(items)
  while (enc.length < targetBytes) { items.push(make(items.length)); enc = records.encodeJsonField(items) }
  return enc
}

interface Row extends Measurement { name: string, backend: string }
const rows: Row[] = []
function run (name: string, backend: string, fn: () => unknown, opts: MeasureOptions = SETTINGS): void {
  const m = measure(fn, opts)
  rows.push({ name, backend, ...m })
  process.stderr.write(`  ${name} [${backend}]: ${formatNumber(m.meanUs)} µs (${m.iterations} iterations)\n`)
}
function check (ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench:crypto sanity check failed: ${what}`)
}

const machine = machineInfo()
const started = performance.now()
process.stderr.write(`pqmed crypto benchmark${QUICK ? ' (--quick)' : ''}: ${machineLine(machine)}\n`)

// ---- keys and workload --------------------------------------------------------------------------
const liboqs = await loadLiboqs()
const backends: PqBackend[] = [liboqs, noblePq]
const patient = { sig: sigKeygen(seed('patient/sig')), kem: kemKeygen(seed('patient/kem', 64)) }
const doctor = { sig: sigKeygen(seed('doctor/sig')), kem: kemKeygen(seed('doctor/kem', 64)) }
const researcher = { kem: kemKeygen(seed('researcher/kem', 64)) }
const patientId = records.principalId(patient.sig.publicKey)
const recordId = seed('record')
const fieldKeys: records.FieldKeys = [seed('k0'), seed('k1'), seed('k2')]
const indexUpdatesHash = sha256(utf8('bench index updates'))
const time = 1_767_225_600_000
const msg = sha256(utf8('a 32-byte message, as a record or block digest'))

const personalInfo = records.encodeJsonField({
  name: 'Maria Example-Schmidt',
  born: '1978-04-12',
  sex: 'F',
  address: 'Hauptstrasse 12, 10115 Berlin, Germany',
  phone: '+49 30 1234 5678',
  insurance: { provider: 'Example Health Insurance', member: 'A123456789', plan: 'statutory' },
  emergencyContact: { name: 'Jonas Example', phone: '+49 30 8765 4321' },
  bloodType: 'A+'
})
const SYMPTOMS = [
  'persistent dry cough, worse at night',
  'fever up to 38.9 C, intermittent',
  'fatigue and reduced exercise tolerance',
  'mild shortness of breath on exertion',
  'sore throat, no difficulty swallowing',
  'headache, frontal, responds to paracetamol'
]
const symptoms = jsonField(1024, (i) => ({
  onset: `2026-01-${String(2 + i).padStart(2, '0')}`,
  description: SYMPTOMS[i % SYMPTOMS.length],
  severity: ['mild', 'moderate', 'severe'][i % 3],
  vitals: { temperatureC: 37.4 + (i % 5) * 0.3, heartRate: 84 + i, spo2: 97 - (i % 3) }
}))
const DRUGS = [
  ['amoxicillin', '500 mg', 'three times daily', 7],
  ['paracetamol', '1 g', 'up to four times daily as needed', 5],
  ['dextromethorphan syrup', '15 mg', 'every 6 hours as needed', 5],
  ['salbutamol inhaler', '100 microgram, 2 puffs', 'as needed for breathlessness', 14]
] as const
const prescriptions = jsonField(1024, (i) => {
  const d = DRUGS[i % DRUGS.length] as (typeof DRUGS)[number]
  return { drug: d[0], dose: d[1], frequency: d[2], days: d[3], route: 'oral', refills: 0, note: 'review if symptoms persist beyond the course' }
})
const fields: records.RecordFields = { personalInfo, symptoms, prescriptions }

// ---- post-quantum primitives --------------------------------------------------------------------
process.stderr.write('post-quantum primitives\n')
for (const pq of backends) {
  const sig = pq.sign(msg, doctor.sig.secretKey)
  check(pq.verify(sig, msg, doctor.sig.publicKey), `${pq.name} verify`)
  const enc = pq.encapsulate(doctor.kem.publicKey)
  check(equalBytes(pq.decapsulate(enc.cipherText, doctor.kem.secretKey), enc.sharedSecret), `${pq.name} decapsulate`)
  run('ML-DSA-65 sign (32 B message)', pq.name, () => pq.sign(msg, doctor.sig.secretKey))
  run('ML-DSA-65 verify', pq.name, () => pq.verify(sig, msg, doctor.sig.publicKey))
  run('ML-KEM-768 encapsulate', pq.name, () => pq.encapsulate(doctor.kem.publicKey))
  run('ML-KEM-768 decapsulate', pq.name, () => pq.decapsulate(enc.cipherText, doctor.kem.secretKey))
}
const sigSeed = seed('keygen/sig')
const kemSeed = seed('keygen/kem', 64)
run('ML-DSA-65 keygen from seed (sigKeygen)', 'noble', () => sigKeygen(sigSeed))
run('ML-KEM-768 keygen from seed (kemKeygen)', 'noble', () => kemKeygen(kemSeed))

// ---- symmetric primitives -----------------------------------------------------------------------
process.stderr.write('symmetric primitives\n')
const key = seed('aead')
const kib = randomBytes(1024)
const mib = randomBytes(1024 * 1024)
const b64 = randomBytes(64)
const salt = seed('salt')
run('SHA-256, 1 KiB', 'node:crypto', () => sha256(kib))
run('HMAC-SHA256, 64 B', 'node:crypto', () => hmacSha256(key, b64))
run('HKDF-SHA256, 32 B output', 'node:crypto', () => hkdfSha256(key, salt, 'pqmed/bench/hkdf', 32))
const sealedKib = aeadSeal(key, kib)
const sealedMib = aeadSeal(key, mib)
check(equalBytes(aeadOpen(key, sealedMib), mib), 'AES-GCM round trip')
run('AES-256-GCM seal, 1 KiB', 'node:crypto', () => aeadSeal(key, kib))
run('AES-256-GCM open, 1 KiB', 'node:crypto', () => aeadOpen(key, sealedKib))
run('AES-256-GCM seal, 1 MiB', 'node:crypto', () => aeadSeal(key, mib))
run('AES-256-GCM open, 1 MiB', 'node:crypto', () => aeadOpen(key, sealedMib))

// ---- per-record costs ---------------------------------------------------------------------------
process.stderr.write(`per record (fields: personal info ${personalInfo.length} B, symptoms ${symptoms.length} B, prescriptions ${prescriptions.length} B)\n`)
for (const pq of backends) {
  const transfer = { recordId, patientId, fieldKeys, personalInfo }
  const cip0 = records.createKeyTransfer(pq, transfer, doctor.kem.publicKey)
  check(equalBytes(records.openKeyTransfer(pq, cip0, doctor.kem.secretKey, { recordId, patientId }).personalInfo, personalInfo), `${pq.name} openKeyTransfer`)
  const sealInput = { recordId, owner: sha256(patientId), fieldKeys, fields, indexUpdatesHash, time }
  const sealed = records.sealRecord(pq, doctor.sig.secretKey, sealInput)
  const v = records.verifyRecord(pq, doctor.sig.publicKey, sealed, sealed)
  check(v.valid && v.cip.every((c) => c === 'valid'), `${pq.name} verifyRecord`)
  const grantInput = { recordId, fields: [1, 2], fieldKeys, granteeKemPublicKey: researcher.kem.publicKey, grantorId: patientId }
  const wrapped = records.createGrant(pq, grantInput)
  check(records.openGrant(pq, wrapped, researcher.kem.secretKey, { recordId }).keys.size === 2, `${pq.name} openGrant`)

  run('createKeyTransfer (cip0, patient → doctor)', pq.name, () => records.createKeyTransfer(pq, transfer, doctor.kem.publicKey))
  run('openKeyTransfer (doctor)', pq.name, () => records.openKeyTransfer(pq, cip0, doctor.kem.secretKey, { recordId, patientId }))
  run('sealRecord (3 fields + signature)', pq.name, () => records.sealRecord(pq, doctor.sig.secretKey, sealInput))
  run('verifyRecord (signature + 3 hashes)', pq.name, () => records.verifyRecord(pq, doctor.sig.publicKey, sealed, sealed))
  run('createGrant (2 fields)', pq.name, () => records.createGrant(pq, grantInput))
  run('openGrant (2 fields)', pq.name, () => records.openGrant(pq, wrapped, researcher.kem.secretKey, { recordId }))
}

// ---- PUF ----------------------------------------------------------------------------------------
process.stderr.write('PUF\n')
const device = new SimulatedSramPuf({ seed: seed('puf/chip') })
const enrollment = enroll(device)
check(equalBytes(reproduce(device, enrollment.helper), enrollment.secret), 'PUF reproduce')
run('PUF enroll (SimulatedSramPuf, defaults)', 'js', () => enroll(device))
run('PUF reproduce (SimulatedSramPuf, 10% BER)', 'js', () => reproduce(device, enrollment.helper))
run('deriveIdentityKeys (HKDF + ML-DSA-65 + ML-KEM-768 keygen)', 'noble', () => deriveIdentityKeys(enrollment.secret))

// ---- Merkle -------------------------------------------------------------------------------------
process.stderr.write('Merkle trees\n')
const LEAF = 64
const leavesOf = (n: number): Uint8Array[] => {
  const pool = randomBytes(n * LEAF)
  return Array.from({ length: n }, (_, i) => pool.subarray(i * LEAF, (i + 1) * LEAF))
}
// The 1,000-leaf tree first, before the 100,000-leaf one fills the heap (its major GCs would be charged to the small tree).
const leaves1k = leavesOf(1000)
run('merkleRoot, 1,000 leaves of 64 B', 'node:crypto', () => merkleRoot(leaves1k))
const leaves100k = leavesOf(100_000)
const root100k = merkleRoot(leaves100k)
const levels100k = merkleLevels(leaves100k.map(leafHash))
const INDEX = 61_803
const proof = proofFromLevels(levels100k, INDEX)
check(equalBytes(levels100k[levels100k.length - 1]?.[0] ?? new Uint8Array(0), root100k), 'Merkle levels root')
check(verifyInclusion(leaves100k[INDEX] as Uint8Array, INDEX, leaves100k.length, proof, root100k), 'Merkle inclusion proof')
run('merkleRoot, 100,000 leaves of 64 B', 'node:crypto', () => merkleRoot(leaves100k), HEAVY)
run('inclusionProof, 100,000 leaves (rebuilds the tree)', 'node:crypto', () => inclusionProof(leaves100k, INDEX), HEAVY)
run('proofFromLevels, 100,000 leaves (levels cached)', 'js', () => proofFromLevels(levels100k, INDEX))
run(`verifyInclusion, 100,000 leaves (${proof.length}-hash path)`, 'node:crypto', () => verifyInclusion(leaves100k[INDEX] as Uint8Array, INDEX, leaves100k.length, proof, root100k))

// ---- output -------------------------------------------------------------------------------------
const seconds = (performance.now() - started) / 1000
const table = markdownTable(
  ['Operation', 'Backend', 'ops/s', 'mean µs', 'p50 µs', 'p95 µs', 'iterations'],
  rows.map((r) => [r.name, r.backend, formatNumber(r.opsPerSec), formatNumber(r.meanUs), formatNumber(r.p50Us), formatNumber(r.p95Us), String(r.iterations)]),
  ['left', 'left', 'right', 'right', 'right', 'right', 'right']
)
console.log(`Machine: ${machineLine(machine)}`)
console.log('')
console.log(table)
console.log('')
console.log(`Record fields: personal info ${personalInfo.length} B, symptoms ${symptoms.length} B, prescriptions ${prescriptions.length} B (JSON). ` +
  'p50/p95 of operations under ~200 µs are over batches of calls (see "batch" in the JSON).')
const disturbed = rows.filter((r) => r.cpuShare < 0.9)
if (disturbed.length > 0) {
  console.log(`Busy machine: ${disturbed.length} row(s) got under 90% of a core while timed (cpuShare in the JSON): ` +
    disturbed.map((r) => `${r.name} [${r.backend}] ${Math.round(r.cpuShare * 100)}%`).join('; '))
}
console.log(`total ${seconds.toFixed(1)} s`)

if (OUT !== undefined) {
  const r3 = (x: number): number => Math.round(x * 1000) / 1000
  const file = writeJson(OUT, {
    command: 'npm run bench:crypto' + (argv.length > 0 ? ' -- ' + argv.join(' ') : ''),
    quick: QUICK,
    machine,
    settings: { default: SETTINGS, heavy: HEAVY },
    workload: {
      message: 'ML-DSA-65 signs and verifies a 32-byte message',
      personalInfoBytes: personalInfo.length,
      symptomsBytes: symptoms.length,
      prescriptionsBytes: prescriptions.length,
      grantFields: [1, 2],
      merkleLeafBytes: LEAF,
      merkleProofIndex: INDEX
    },
    seconds: r3(seconds),
    rows: rows.map((r) => ({
      name: r.name,
      backend: r.backend,
      opsPerSec: r3(r.opsPerSec),
      meanUs: r3(r.meanUs),
      p50Us: r3(r.p50Us),
      p95Us: r3(r.p95Us),
      iterations: r.iterations,
      samples: r.samples,
      batch: r.batch,
      cpuShare: Math.round(r.cpuShare * 100) / 100
    }))
  })
  console.log(`wrote ${file}`)
}
