/**
 * Validators compiled with ajv from the OpenRPC document's own schemas: param validators for the
 * server, result validators for tests (and anyone who wants to check a node's answers).
 */
import { Ajv, type ErrorObject as AjvError, type ValidateFunction } from 'ajv'
import type { ContentDescriptor, JsonSchema, OpenRpcDocument, RpcMethodName } from './openrpc.js'

/** Where the document's component schemas are registered in ajv. */
const COMPONENTS_ID = 'urn:pqmed:openrpc:components'
const LOCAL_REF = '#/components/schemas/'

/** One failing check of a params object: a JSON pointer into the params and ajv's message. */
export interface ParamIssue { path: string, keyword: string, message: string }

/** Validates (and fills defaults into) a by-name params object. */
export type ParamsValidator = (params: Record<string, unknown>) => ParamIssue[] | null

/** Accepts standard padded base64 (RFC 4648 §4). Linear time; no backtracking regex on megabyte strings. */
export function isBase64 (s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s)
}

/** Rewrites the document's `#/components/schemas/X` refs to the ajv-registered components schema. */
function rewriteRefs (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rewriteRefs)
  if (v === null || typeof v !== 'object') return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === '$ref' && typeof x === 'string' && x.startsWith(LOCAL_REF)
      ? `${COMPONENTS_ID}#/$defs/${x.slice(LOCAL_REF.length)}`
      : rewriteRefs(x)
  }
  return out
}

function newAjv (doc: OpenRpcDocument): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true })
  ajv.addFormat('base64', { type: 'string', validate: isBase64 })
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: rewriteRefs(doc.components.schemas) as Record<string, JsonSchema> })
  return ajv
}

/** The params object schema of a method: each param a property, required ones required, no others. */
export function paramsSchema (params: readonly ContentDescriptor[]): JsonSchema {
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required === true).map((p) => p.name),
    additionalProperties: false
  }
}

function issues (errors: readonly AjvError[] | null | undefined): ParamIssue[] {
  return (errors ?? []).slice(0, 20).map((e) => {
    let path = e.instancePath
    if (e.keyword === 'required') path += `/${String(e.params.missingProperty)}`
    if (e.keyword === 'additionalProperties') path += `/${String(e.params.additionalProperty)}`
    return { path, keyword: e.keyword, message: e.message ?? e.keyword }
  })
}

/** Param validators for every method of the document, compiled once. */
export function compileParamValidators (doc: OpenRpcDocument): Map<string, ParamsValidator> {
  const ajv = newAjv(doc)
  const out = new Map<string, ParamsValidator>()
  for (const m of doc.methods) {
    const fn = ajv.compile(rewriteRefs(paramsSchema(m.params)) as JsonSchema)
    out.set(m.name, (params) => fn(params) ? null : issues(fn.errors))
  }
  return out
}

/** Result validators for every method (ajv functions: check `.errors` after a false return). */
export function compileResultValidators (doc: OpenRpcDocument): Map<RpcMethodName | string, ValidateFunction> {
  const ajv = newAjv(doc)
  return new Map(doc.methods.map((m) => [m.name, ajv.compile(rewriteRefs(m.result.schema) as JsonSchema)]))
}
