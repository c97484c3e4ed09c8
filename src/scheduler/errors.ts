/**
 * Cinder's NoValidBackend: no pool can take the request. `reason` is the human text on its own
 * (Cinder's wording where it has one); `message` adds Cinder's fixed prefix:
 * "No valid backend was found. <reason>".
 */
export class NoValidBackend extends Error {
  readonly reason: string;

  /** Both parameters are optional so the class keeps Error's constructor shape. */
  constructor(reason = '', options?: ErrorOptions) {
    super(reason ? `No valid backend was found. ${reason}` : 'No valid backend was found.', options);
    this.name = 'NoValidBackend';
    this.reason = reason;
  }
}
