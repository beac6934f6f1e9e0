/**
 * Errors the engine raises. `EngineUserError` means the request itself is wrong (bad tokens,
 * missing loss inputs, unknown loss, ...): the server turns it into a user-category failure.
 * Anything else thrown from the engine is an internal fault.
 */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The caller's input is invalid; retrying the same request will fail the same way. */
export class EngineUserError extends EngineError {}
