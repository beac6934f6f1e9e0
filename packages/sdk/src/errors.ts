// The SDK's one error tree. Every error a call can end with is a TinkerError; HTTP failures are
// APIError subclasses chosen by status (as in openai-node), failed futures are RequestFailedError.
// Errors are created on the network thread and rebuilt on the caller's thread, so each class
// registers itself for (de)serialisation and keeps only plain, cloneable fields.

import { ProtocolError, TinkerProtocolError, ValidationError } from '@tinker-ts/protocol';

export type Headers = Record<string, string>;

/** Bad input caught on the client before anything is sent (`field` names the offending value). */
export { ValidationError, ProtocolError };

export class TinkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  // The protocol package's errors (ValidationError, ProtocolError) belong to the same tree:
  // `e instanceof TinkerError` holds for them too.
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === TinkerError && value instanceof TinkerProtocolError) return true;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

export interface APIErrorFields {
  status?: number | undefined;
  body?: unknown;
  headers?: Headers | undefined;
  requestId?: string | undefined;
}

/** An HTTP exchange that failed. `status` is undefined when no response came back. */
export class APIError extends TinkerError {
  readonly status: number | undefined;
  readonly body: unknown;
  readonly headers: Headers | undefined;
  readonly requestId: string | undefined;

  constructor(message: string, fields: APIErrorFields = {}) {
    super(message);
    this.status = fields.status;
    this.body = fields.body;
    this.headers = fields.headers;
    this.requestId = fields.requestId;
  }

  /** The subclass for an HTTP status, with a message that carries the server's detail. */
  static fromResponse(status: number, body: unknown, headers: Headers, requestId?: string): APIError {
    const message = `${status} ${describeBody(body)}`;
    const fields = { status, body, headers, requestId };
    const cls = statusErrorClass(status);
    return new cls(message, fields);
  }
}

export class BadRequestError extends APIError {}
export class AuthenticationError extends APIError {}
export class PermissionDeniedError extends APIError {}
export class NotFoundError extends APIError {}
export class ConflictError extends APIError {}
export class UnprocessableEntityError extends APIError {}
export class RateLimitError extends APIError {}
export class InternalServerError extends APIError {}

export interface APIConnectionErrorFields extends APIErrorFields {
  code?: string | undefined;
}

/** No usable response: refused connection, reset, DNS failure. */
export class APIConnectionError extends APIError {
  /** The system error code when the socket layer gave one (ECONNREFUSED, ENOTFOUND, ECONNRESET, …). */
  readonly code: string | undefined;
  constructor(message = 'Connection error.', fields: APIConnectionErrorFields = {}) {
    super(message, fields);
    this.code = fields.code;
  }
}

/** An HTTP attempt, or a whole call bounded by `timeoutMs`, ran out of time. */
export class APIConnectionTimeoutError extends APIConnectionError {
  constructor(message = 'Request timed out.', fields: APIConnectionErrorFields = {}) {
    super(message, fields);
  }
}

/** The caller aborted the call through its AbortSignal. */
export class APIUserAbortError extends APIError {
  constructor(message = 'Request was aborted.', fields: APIErrorFields = {}) {
    super(message, fields);
  }
}

export type RequestErrorCategory = 'user' | 'server' | 'unknown';

/** A server request that completed in a failed state (`{error, category}` from retrieve_future). */
export class RequestFailedError extends TinkerError {
  readonly category: RequestErrorCategory;
  readonly requestId: string | undefined;
  constructor(message: string, fields: { category: RequestErrorCategory; requestId?: string | undefined }) {
    super(message);
    this.category = fields.category;
    this.requestId = fields.requestId;
  }
}

/** Waiting on a future took longer than the caller allowed; the future itself stays valid. */
export class TimeoutError extends TinkerError {
  readonly timeoutMs: number;
  constructor(message: string, fields: { timeoutMs: number }) {
    super(message);
    this.timeoutMs = fields.timeoutMs;
  }
}

export function statusErrorClass(status: number): new (message: string, fields: APIErrorFields) => APIError {
  switch (status) {
    case 400: return BadRequestError;
    case 401: return AuthenticationError;
    case 403: return PermissionDeniedError;
    case 404: return NotFoundError;
    case 409: return ConflictError;
    case 422: return UnprocessableEntityError;
    case 429: return RateLimitError;
    default: return status >= 500 ? InternalServerError : APIError;
  }
}

function describeBody(body: unknown): string {
  if (body === undefined || body === null || body === '') return 'status code (no body)';
  if (typeof body === 'string') return body.slice(0, 2000);
  if (typeof body === 'object') {
    const o = body as Record<string, unknown>;
    const detail = o['detail'] ?? o['error'] ?? o['message'];
    if (typeof detail === 'string') return detail;
  }
  try {
    return JSON.stringify(body).slice(0, 2000);
  } catch {
    return String(body);
  }
}

// ---- crossing a thread boundary ----

const registry = new Map<string, Function>();
for (const cls of [
  TinkerError, APIError, BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
  ConflictError, UnprocessableEntityError, RateLimitError, InternalServerError, APIConnectionError,
  APIConnectionTimeoutError, APIUserAbortError, RequestFailedError, TimeoutError, ValidationError, ProtocolError, TinkerProtocolError,
]) {
  registry.set(cls.name, cls);
}

/** Lets other error classes (for example one from @tinker-ts/protocol) keep their class across threads. */
export function registerErrorClass(cls: Function): void {
  registry.set(cls.name, cls);
}

export interface SerializedError {
  className: string;
  message: string;
  stack?: string | undefined;
  fields: Record<string, unknown>;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(err)) {
      if (key === 'name' || key === 'message' || key === 'stack') continue;
      const v = (err as unknown as Record<string, unknown>)[key];
      if (isCloneable(v)) fields[key] = v;
    }
    const className = registry.has(err.constructor.name) ? err.constructor.name : 'TinkerError';
    const message = className === err.constructor.name ? err.message : `${err.name}: ${err.message}`;
    return { className, message, stack: err.stack, fields };
  }
  return { className: 'TinkerError', message: String(err), fields: {} };
}

export function deserializeError(s: SerializedError): Error {
  const cls = registry.get(s.className) ?? TinkerError;
  const err = Object.create(cls.prototype) as Error;
  Object.defineProperty(err, 'message', { value: s.message, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(err, 'name', { value: cls.name, writable: true, configurable: true, enumerable: false });
  Object.assign(err, s.fields);
  // Keep the remote stack (where it happened) below a marker for where it was received.
  const local = new Error(s.message).stack?.split('\n').slice(2).join('\n') ?? '';
  Object.defineProperty(err, 'stack', {
    value: `${s.stack ?? `${cls.name}: ${s.message}`}\n    --- received on the calling thread ---\n${local}`,
    writable: true, configurable: true, enumerable: false,
  });
  return err;
}

function isCloneable(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (t === 'function' || t === 'symbol' || t === 'bigint') return false;
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}
