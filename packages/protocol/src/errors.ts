/**
 * The one error root of tinker-ts. Every error the SDK, the server or the protocol code raises on
 * purpose is a `TinkerError`, and each says whose fault it is with `category`, spelled as a failed
 * future's category on the wire: "user" (the request is wrong; sending it again fails again),
 * "server" (a fault on the serving side) or "unknown". Subclasses exist only where callers branch
 * on them: the SDK's HTTP errors, the server's HTTP answers, and the two below, which carry
 * `field`, the dotted path of the offending value (e.g.
 * `forward_backward_input.data[3].loss_fn_inputs.weights.dtype`), so a server can answer 400 with
 * it and a client can point at its own bug.
 */

/** Whose fault an error is, as on the wire for failed futures. */
export type ErrorCategory = 'user' | 'server' | 'unknown';

export const ERROR_CATEGORIES: readonly ErrorCategory[] = ['user', 'server', 'unknown'];

export function isErrorCategory(value: unknown): value is ErrorCategory {
  return typeof value === 'string' && (ERROR_CATEGORIES as readonly string[]).includes(value);
}

export interface TinkerErrorOptions {
  /** Default "unknown". */
  category?: ErrorCategory;
  cause?: unknown;
}

export class TinkerError extends Error {
  readonly category: ErrorCategory;

  constructor(message: string, options: TinkerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.category = options.category ?? 'unknown';
  }
}

export interface ProtocolErrorOptions {
  /** Dotted path of the offending value; '' when it is the whole input. */
  field?: string;
  cause?: unknown;
}

/** A value or bytes the caller sent are wrong (category "user"); `field` says where. */
export class TinkerProtocolError extends TinkerError {
  readonly field: string;
  /** `field` may be given directly or in an options object. */
  constructor(message: string, fieldOrOptions: string | ProtocolErrorOptions = '') {
    const opts = typeof fieldOrOptions === 'string' ? { field: fieldOrOptions } : fieldOrOptions;
    const field = opts.field ?? '';
    // A message that already starts with the field (or a path inside it) is not prefixed again.
    super(field && !namesField(message, field) ? `${field}: ${message}` : message, { category: 'user', cause: opts.cause });
    this.field = field;
  }
}

/** A value (JSON body, Datum, params) does not match what the wire allows. */
export class ValidationError extends TinkerProtocolError {}

/** Bytes on the wire (protobuf, zstd) are corrupt, truncated or too large. */
export class ProtocolError extends TinkerProtocolError {}

/** Whether `message` starts with `field` itself or a path inside it (`field:`, `field[`, `field.`). */
function namesField(message: string, field: string): boolean {
  return message.startsWith(field) && ':[.'.includes(message.charAt(field.length) || ' ');
}
