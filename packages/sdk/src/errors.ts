// The SDK's one error tree. Every error a call can end with is a TinkerError, the root that
// @tinker-ts/protocol defines for the whole project (its ValidationError and ProtocolError are part
// of it); `category` says whose fault it is. HTTP failures are APIError subclasses chosen by status
// (as in openai-node), failed futures are RequestFailedError. Errors are created on the network
// thread and rebuilt on the caller's thread by the protocol's serialiser, so each class keeps only
// plain, cloneable fields.

import {
  ProtocolError, TinkerError, ValidationError, deserializeError as deserializeWith, serializeError,
  type ErrorCategory, type ErrorClass, type SerializedError,
} from '@tinker-ts/protocol';

export type Headers = Record<string, string>;

/** TinkerError is the root of every error; ValidationError and ProtocolError are bad input caught on the client before anything is sent (`field` names the offending value). */
export { TinkerError, ValidationError, ProtocolError };

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
    super(message, { category: categoryOfStatus(fields.status) });
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

export type RequestErrorCategory = ErrorCategory;

/** A server request that completed in a failed state (`{error, category}` from retrieve_future). */
export class RequestFailedError extends TinkerError {
  readonly requestId: string | undefined;
  constructor(message: string, fields: { category: RequestErrorCategory; requestId?: string | undefined }) {
    super(message, { category: fields.category });
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

/** 4xx: the request was wrong ("user"); 5xx: the server failed ("server"); no response: "unknown". */
function categoryOfStatus(status: number | undefined): ErrorCategory {
  if (status === undefined) return 'unknown';
  if (status >= 500) return 'server';
  return status >= 400 ? 'user' : 'unknown';
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

/** The classes the calling thread rebuilds errors as (the protocol's own are always known). */
const SDK_ERROR_CLASSES: readonly ErrorClass[] = [
  APIError, BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError, ConflictError,
  UnprocessableEntityError, RateLimitError, InternalServerError, APIConnectionError, APIConnectionTimeoutError,
  APIUserAbortError, RequestFailedError, TimeoutError,
];

export { serializeError, type SerializedError };

/** Rebuilds an error serialised on the other thread as its SDK (or protocol) class. */
export function deserializeError(s: SerializedError): TinkerError {
  return deserializeWith(s, SDK_ERROR_CLASSES);
}
