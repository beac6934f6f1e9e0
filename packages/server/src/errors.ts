/**
 * The server's error hierarchy. Every error a request can hit is an `HttpError`: the router
 * turns it into a JSON `{error, code, ...details}` body with its 4xx status. Anything else
 * thrown by a handler is an internal fault and is answered as a 500 without crashing.
 */
export class HttpError extends Error {
  readonly status: number;
  /** Short machine-readable name, e.g. "bad_request". */
  readonly code: string;
  /** Extra JSON fields for the error body (e.g. `field`). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.message, code: this.code, ...this.details };
  }
}

/** The request is malformed or not allowed in the current state. Never retried by clients. */
export class BadRequestError extends HttpError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(400, 'bad_request', message, details);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

/** Also used for resources owned by another user: their existence is not revealed. */
export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class MethodNotAllowedError extends HttpError {
  readonly allowed: string[];
  constructor(message: string, allowed: string[]) {
    super(405, 'method_not_allowed', message, { allowed });
    this.allowed = allowed;
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}

/** Categories of a failed future, spelled as on the wire. */
export type FailureCategory = 'user' | 'server' | 'unknown';

/**
 * Thrown while executing a queued request: the future fails with this category and message
 * instead of the request getting an HTTP error (it was already acknowledged).
 */
export class RequestFailure extends Error {
  readonly category: FailureCategory;
  constructor(message: string, category: FailureCategory = 'user') {
    super(message);
    this.name = new.target.name;
    this.category = category;
  }
}
