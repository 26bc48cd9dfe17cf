/**
 * HL7 FHIR R4 for pqmed, as a pure library (no networking, no storage): parsing and validating a
 * Bundle while keeping its exact bytes (bundle.ts), mapping it to a record's fields and keywords
 * (map.ts), and the FHIR search semantics the local gateway serves (search.ts).
 */
export * from './errors.js'
export * from './bundle.js'
export * from './map.js'
export * from './search.js'
