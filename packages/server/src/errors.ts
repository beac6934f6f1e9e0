/**
 * The server's errors, all under the project's one root (`TinkerError` from @tinker-ts/protocol),
 * and the one place where an error's category decides how it is answered: a refused request gets
 * a 4xx (an `HttpError` its own status, any other user-category error 400), a queued request that
 * fails ends its future with the error's category. Anything thrown that is not a TinkerError is an
 * internal fault (category "server", a 500), answered without crashing; an engine error arrives
 * with its category as data and keeps it.
 */
import { TinkerError, TinkerProtocolError, isErrorCategory, type ErrorCategory } from '@tinker-ts/protocol';

/** An answer with an HTTP status: 4xx statuses are the caller's fault (category "user"). */
export class HttpError extends TinkerError {
  readonly status: number;
  /** Short machine-readable name, e.g. "bad_request". */
  readonly code: string;
  /** Extra JSON fields for the error body (e.g. `field`). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message, { category: status < 500 ? 'user' : 'server' });
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
export type FailureCategory = ErrorCategory;

/**
 * Thrown while executing a queued request: the future fails with this category and message
 * instead of the request getting an HTTP error (it was already acknowledged).
 */
export class RequestFailure extends TinkerError {
  constructor(message: string, category: FailureCategory = 'user') {
    super(message, { category });
  }
}

/**
 * Any thrown value as the root. TinkerErrors stay as they are. An error from below the server
 * that says whose fault it is by a `category` field (the engine's errors, which cannot depend on
 * this package, carry it as data across the engine process) keeps that category. Anything else
 * is an internal fault.
 */
export function asTinkerError(err: unknown): TinkerError {
  if (err instanceof TinkerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const category = err instanceof Error ? (err as { category?: unknown }).category : undefined;
  if (category === 'user') return new TinkerError(message, { category, cause: err });
  return new TinkerError(`internal error: ${message}`, { category: isErrorCategory(category) ? category : 'server', cause: err });
}

/** A failed future's message and category, for any error thrown while executing a request. */
export function classifyFailure(err: unknown): { message: string; category: FailureCategory } {
  const e = asTinkerError(err);
  return { message: e.message, category: e.category };
}

/** The HTTP answer to a request refused with `err`: an HttpError's own, else 400 by category "user" or 500. */
export function httpAnswerOf(err: unknown): { status: number; body: Record<string, unknown> } {
  const e = asTinkerError(err);
  if (e instanceof HttpError) return { status: e.status, body: e.toJSON() };
  if (e.category === 'user') {
    const field = e instanceof TinkerProtocolError ? e.field || undefined : undefined;
    return { status: 400, body: { error: e.message, code: e instanceof TinkerProtocolError ? 'invalid_request' : 'bad_request', field } };
  }
  return { status: 500, body: { error: e.message, code: 'internal' } };
}
