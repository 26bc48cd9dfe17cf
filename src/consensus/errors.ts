/** Typed errors of the consensus state machine. Every failure carries a stable `code`. */
export type ConsensusErrorCode =
  | 'BAD_CONFIG' // invalid configuration (manager count, index, timing)
  | 'BAD_EVENT' // an event the state machine cannot accept in its current phase (e.g. `restored` after `start`)
  | 'MALFORMED' // a message or WAL record that does not decode to a well-formed value

export class ConsensusError extends Error {
  readonly code: ConsensusErrorCode
  constructor (code: ConsensusErrorCode, message: string) {
    super(message)
    this.name = 'ConsensusError'
    this.code = code
  }
}
