/**
 * Errors the engine raises. Each says whose fault it is with `category`, spelled as a failed
 * future's category on the wire: "user" when the request itself is wrong (bad tokens, missing loss
 * inputs, unknown loss, ...), "server" for an internal fault. The category is plain data, so it
 * crosses the engine process boundary as it is and a server answers by it. Anything else thrown
 * from the engine is an internal fault.
 */
export type EngineErrorCategory = 'user' | 'server' | 'unknown';

export class EngineError extends Error {
  readonly category: EngineErrorCategory;
  constructor(message: string, category: EngineErrorCategory = 'server') {
    super(message);
    this.name = new.target.name;
    this.category = category;
  }
}

/** The caller's input is invalid (category "user"); retrying the same request will fail the same way. */
export class EngineUserError extends EngineError {
  constructor(message: string) {
    super(message, 'user');
  }
}
