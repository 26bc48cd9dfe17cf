/** The node's logger: two levels, lines for an operator. */
export interface Logger {
  info: (msg: string) => void
  warn: (msg: string) => void
}

export const quietLog: Logger = { info: () => {}, warn: () => {} }
