/**
 * The protocol package's error hierarchy. Both carry `field`, the dotted path
 * of the offending value (e.g. `forward_backward_input.data[3].loss_fn_inputs.weights.dtype`),
 * so a server can answer 400 with it and a client can point at its own bug.
 */

export interface ProtocolErrorOptions {
  /** Dotted path of the offending value; '' when it is the whole input. */
  field?: string;
  cause?: unknown;
}

export class TinkerProtocolError extends Error {
  readonly field: string;
  /** `field` may be given directly or in an options object. */
  constructor(message: string, fieldOrOptions: string | ProtocolErrorOptions = '') {
    const opts = typeof fieldOrOptions === 'string' ? { field: fieldOrOptions } : fieldOrOptions;
    const field = opts.field ?? '';
    // A message that already starts with the field (or a path inside it) is not prefixed again.
    super(field && !namesField(message, field) ? `${field}: ${message}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
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
