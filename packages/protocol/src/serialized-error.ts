/**
 * Errors as plain, structured-cloneable objects, so that an error raised on one side of a thread
 * or process boundary is rebuilt on the other with its class, category and fields: the SDK's
 * network thread hands its errors to the calling thread this way. The receiving side names the
 * classes it can rebuild; an error of any other class arrives as a TinkerError that keeps its
 * category, its fields and its class name in the message.
 */
import { ProtocolError, TinkerError, TinkerProtocolError, ValidationError, isErrorCategory, type ErrorCategory } from './errors.js';

export interface SerializedError {
  /** The error's class: a TinkerError subclass's name, or "TinkerError" for any other error. */
  className: string;
  message: string;
  category: ErrorCategory;
  stack?: string | undefined;
  /** The error's own cloneable fields (`field`, `status`, `requestId`, …). */
  fields: Record<string, unknown>;
}

/** A TinkerError class the receiving side rebuilds errors as, by its name. */
export interface ErrorClass {
  readonly name: string;
  readonly prototype: TinkerError;
}

/** The protocol package's own classes, which every receiver can rebuild. */
const PROTOCOL_CLASSES: readonly ErrorClass[] = [TinkerError, TinkerProtocolError, ValidationError, ProtocolError];

/** Properties carried outside `fields`. */
const OWN_SLOTS = new Set(['name', 'message', 'stack', 'category']);

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { className: 'TinkerError', message: String(err), category: 'unknown', fields: {} };
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (OWN_SLOTS.has(key)) continue;
    const v = (err as unknown as Record<string, unknown>)[key];
    if (isCloneable(v)) fields[key] = v;
  }
  const category = (err as { category?: unknown }).category;
  if (err instanceof TinkerError) {
    return { className: err.constructor.name, message: err.message, category: err.category, stack: err.stack, fields };
  }
  // Not one of ours (a TypeError, a system error): it crosses as the root, named in its message.
  return {
    className: 'TinkerError',
    message: `${err.name}: ${err.message}`,
    category: isErrorCategory(category) ? category : 'unknown',
    stack: err.stack,
    fields,
  };
}

/** Rebuilds a serialised error as the class of that name among `classes` (and the protocol's own). */
export function deserializeError(s: SerializedError, classes: readonly ErrorClass[] = []): TinkerError {
  const known = [...classes, ...PROTOCOL_CLASSES].find((c) => c.name === s.className);
  const cls = known ?? TinkerError;
  const message = known ? s.message : `${s.className}: ${s.message}`;
  const err = Object.create(cls.prototype) as TinkerError;
  const hidden = (key: string, value: unknown) =>
    Object.defineProperty(err, key, { value, writable: true, configurable: true, enumerable: false });
  hidden('message', message);
  hidden('name', cls.name);
  Object.assign(err, s.fields);
  Object.defineProperty(err, 'category', { value: isErrorCategory(s.category) ? s.category : 'unknown', writable: true, enumerable: true, configurable: true });
  // Keep the remote stack (where it happened) below a marker for where it was received.
  const local = new Error(message).stack?.split('\n').slice(2).join('\n') ?? '';
  hidden('stack', `${s.stack ?? `${cls.name}: ${message}`}\n    --- received on the calling thread ---\n${local}`);
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
