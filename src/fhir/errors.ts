/** A FHIR input that cannot be imported; the message names the entry and the field. */
export class FhirError extends Error {
  /** Every problem found (the message shows the first ten). */
  readonly problems: readonly string[]
  constructor (message: string, problems: readonly string[] = [message]) {
    super(message)
    this.name = 'FhirError'
    this.problems = problems
  }
}
