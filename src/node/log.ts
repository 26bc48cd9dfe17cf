/**
 * The node's logger: lines for an operator. `info` and `warn` take an optional object of
 * structured fields (height, view, peer, method ...) that a structured logger (./log-pino.ts)
 * writes as fields of the same event; `debug` is optional (only a logger that can be made verbose
 * has it). Never pass a secret (a key, a seed, a plaintext) in a message or a field.
 */
export type LogFields = Record<string, string | number | boolean | null | undefined>

export interface Logger {
  info: (msg: string, fields?: LogFields) => void
  warn: (msg: string, fields?: LogFields) => void
  debug?: (msg: string, fields?: LogFields) => void
}

export const quietLog: Logger = { info: () => {}, warn: () => {} }
