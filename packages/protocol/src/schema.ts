/**
 * A small runtime schema language for JSON bodies.
 *
 * `parse(schema, value, path)` returns the typed value or throws a
 * ValidationError whose `field` is the dotted path of the first bad value
 * and whose message says what was expected and what came. Object schemas
 * strip unknown keys by default, because newer clients add fields that an
 * older server must tolerate.
 */

import { ValidationError } from './errors.js';

export interface Schema<T> {
  /** Human-readable name of what is expected, used in error messages. */
  readonly expected: string;
  /** Validate `value` found at `path`; return the parsed value or throw. */
  check(value: unknown, path: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** Validate `value` against `schema`; `path` prefixes every reported field. */
export function parse<T>(schema: Schema<T>, value: unknown, path = ''): T {
  return schema.check(value, path);
}

// ---------------------------------------------------------------- helpers

/** Short description of a received value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `array(${value.length})`;
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
      return `string ${JSON.stringify(shown)}`;
    }
    case 'number':
      return `number ${String(value)}`;
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'object':
      return 'object';
    default:
      return typeof value;
  }
}

export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function fail(path: string, expected: string, value: unknown): never {
  throw new ValidationError(`expected ${expected}, got ${describeValue(value)}`, path);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------- primitives

export interface StringOptions {
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** Says what the pattern means, for the error message. */
  patternName?: string;
}

export function string(opts: StringOptions = {}): Schema<string> {
  const expected = opts.patternName ?? 'string';
  return {
    expected,
    check(value, path) {
      if (typeof value !== 'string') fail(path, expected, value);
      if (opts.minLength !== undefined && value.length < opts.minLength) {
        fail(path, `string of at least ${opts.minLength} characters`, value);
      }
      if (opts.maxLength !== undefined && value.length > opts.maxLength) {
        fail(path, `string of at most ${opts.maxLength} characters`, value);
      }
      if (opts.pattern && !opts.pattern.test(value)) fail(path, expected, value);
      return value;
    },
  };
}

export interface NumberOptions {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  greaterThan?: number;
}

function rangeText(opts: NumberOptions): string {
  const parts: string[] = [];
  if (opts.greaterThan !== undefined) parts.push(`> ${opts.greaterThan}`);
  if (opts.min !== undefined) parts.push(`>= ${opts.min}`);
  if (opts.max !== undefined) parts.push(`<= ${opts.max}`);
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

function checkRange(value: number, path: string, kind: string, opts: NumberOptions): void {
  const bad =
    (opts.min !== undefined && value < opts.min) ||
    (opts.max !== undefined && value > opts.max) ||
    (opts.greaterThan !== undefined && !(value > opts.greaterThan));
  if (bad) fail(path, `${kind}${rangeText(opts)}`, value);
}

/** A finite number (JSON has no NaN/Infinity, but JS callers might pass them). */
export function number(opts: NumberOptions = {}): Schema<number> {
  const expected = `finite number${rangeText(opts)}`;
  return {
    expected,
    check(value, path) {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, expected, value);
      checkRange(value, path, 'finite number', opts);
      return value;
    },
  };
}

/** An integer-valued number (pydantic `int` also rejects 1.5). */
export function int(opts: NumberOptions = {}): Schema<number> {
  const expected = `integer${rangeText(opts)}`;
  return {
    expected,
    check(value, path) {
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(path, expected, value);
      checkRange(value, path, 'integer', opts);
      return value;
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    expected: 'boolean',
    check(value, path) {
      if (typeof value !== 'boolean') fail(path, 'boolean', value);
      return value;
    },
  };
}

/** One of the given literal values (a one-element list is a literal). */
export function literal<const L extends readonly (string | number | boolean)[]>(
  ...values: L
): Schema<L[number]> {
  const expected =
    values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    expected,
    check(value, path) {
      if (!values.includes(value as L[number])) fail(path, expected, value);
      return value as L[number];
    },
  };
}

/** Alias of `literal` for string enums. */
export const enumOf = literal;

/** Any JSON value, unchecked (user_metadata values, event payloads). */
export function unknownValue(): Schema<unknown> {
  return { expected: 'any value', check: (value) => value };
}

// ---------------------------------------------------------------- containers

export interface ArrayOptions {
  minLength?: number;
  maxLength?: number;
}

function checkArray(value: unknown, path: string, expected: string, opts: ArrayOptions): asserts value is unknown[] {
  if (!Array.isArray(value)) fail(path, expected, value);
  if (opts.maxLength !== undefined && value.length > opts.maxLength) {
    fail(path, `array of at most ${opts.maxLength} items`, value);
  }
  if (opts.minLength !== undefined && value.length < opts.minLength) {
    fail(path, `array of at least ${opts.minLength} items`, value);
  }
}

export function array<T>(item: Schema<T>, opts: ArrayOptions = {}): Schema<T[]> {
  const expected = `array of ${item.expected}`;
  return {
    expected,
    check(value, path) {
      checkArray(value, path, expected, opts);
      const out = new Array<T>(value.length);
      for (let i = 0; i < value.length; i++) out[i] = item.check(value[i], joinPath(path, i));
      return out;
    },
  };
}

/**
 * Array of numbers checked in one tight loop (token ids, tensor data can be
 * hundreds of thousands long; one closure call per element is wasteful).
 */
export function numberArray(
  kind: 'integer' | 'finite number',
  opts: ArrayOptions & NumberOptions = {},
): Schema<number[]> {
  const expected = `array of ${kind}${rangeText(opts)}`;
  return {
    expected,
    check(value, path) {
      checkArray(value, path, expected, opts);
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        const ok =
          typeof v === 'number' && (kind === 'integer' ? Number.isInteger(v) : Number.isFinite(v));
        if (!ok) fail(joinPath(path, i), kind, v);
        checkRange(v as number, joinPath(path, i), kind, opts);
      }
      return value as number[];
    },
  };
}

export interface RecordOptions {
  maxKeys?: number;
}

export function record<T>(valueSchema: Schema<T>, opts: RecordOptions = {}): Schema<Record<string, T>> {
  const expected = `object of ${valueSchema.expected}`;
  return {
    expected,
    check(value, path) {
      if (!isPlainObject(value)) fail(path, expected, value);
      const keys = Object.keys(value);
      if (opts.maxKeys !== undefined && keys.length > opts.maxKeys) {
        fail(path, `object with at most ${opts.maxKeys} keys`, `object with ${keys.length} keys`);
      }
      const out: Record<string, T> = {};
      for (const key of keys) out[key] = valueSchema.check(value[key], joinPath(path, key));
      return out;
    },
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    expected: `${inner.expected} or null`,
    check(value, path) {
      if (value === null) return null;
      return inner.check(value, path);
    },
  };
}

/** Every option is tried in order; the error lists what each expected. */
export function union<S extends readonly Schema<unknown>[]>(...options: S): Schema<Infer<S[number]>> {
  const expected = options.map((o) => o.expected).join(' | ');
  return {
    expected,
    check(value, path) {
      for (const option of options) {
        try {
          return option.check(value, path) as Infer<S[number]>;
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
        }
      }
      fail(path, expected, value);
    },
  };
}

/**
 * Union of object schemas told apart by a string key (e.g. chunk `type`).
 * When the key is absent, `fallback` (if any) is used, mirroring pydantic
 * models whose literal `type` has a default.
 */
export function discriminated<T>(
  key: string,
  options: Record<string, Schema<T>>,
  fallback?: string,
): Schema<T> {
  const tags = Object.keys(options);
  const expected = `object with ${key} one of ${tags.map((t) => JSON.stringify(t)).join(', ')}`;
  return {
    expected,
    check(value, path) {
      if (!isPlainObject(value)) fail(path, expected, value);
      let tag = value[key];
      if (tag === undefined && fallback !== undefined) tag = fallback;
      if (typeof tag !== 'string' || !Object.hasOwn(options, tag)) {
        fail(joinPath(path, key), `one of ${tags.map((t) => JSON.stringify(t)).join(', ')}`, tag);
      }
      return options[tag]!.check(value, path);
    },
  };
}

// ---------------------------------------------------------------- objects

export type UnknownKeys = 'strip' | 'keep' | 'reject';

export interface ObjectOptions {
  /** What to do with keys the schema does not name. Default 'strip'. */
  unknownKeys?: UnknownKeys;
}

type Shape = Record<string, Schema<unknown>>;

/** Optional-key marker with an optional default filled in when the key is missing. */
export interface OptionalKey<T> extends Schema<T> {
  readonly optional: true;
  readonly defaultValue?: T;
}

export function optional<T>(inner: Schema<T>, defaultValue?: T): OptionalKey<T> {
  return {
    expected: inner.expected,
    optional: true,
    defaultValue,
    check: (value, path) => inner.check(value, path),
  };
}

type RequiredKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends OptionalKey<unknown> ? never : K;
}[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;

export type ObjectOutput<S extends Shape> = {
  [K in RequiredKeys<S>]: Infer<S[K]>;
} & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * An object whose keys are each checked by their schema. Keys wrapped in
 * `optional(...)` may be missing (or `undefined`); all others are required.
 */
export function object<S extends Shape>(
  shape: S,
  opts: ObjectOptions = {},
): Schema<Simplify<ObjectOutput<S>>> {
  const unknownKeys = opts.unknownKeys ?? 'strip';
  const keys = Object.keys(shape);
  return {
    expected: 'object',
    check(value, path) {
      if (!isPlainObject(value)) fail(path, 'object', value);
      const out: Record<string, unknown> = unknownKeys === 'keep' ? { ...value } : {};
      for (const key of keys) {
        const schema = shape[key]!;
        const raw = value[key];
        const field = joinPath(path, key);
        if (raw === undefined) {
          if ((schema as OptionalKey<unknown>).optional) {
            const def = (schema as OptionalKey<unknown>).defaultValue;
            if (def !== undefined) out[key] = structuredClone(def);
            continue;
          }
          throw new ValidationError(`required field is missing (expected ${schema.expected})`, field);
        }
        out[key] = schema.check(raw, field);
      }
      if (unknownKeys === 'reject') {
        for (const key of Object.keys(value)) {
          if (!Object.hasOwn(shape, key)) {
            throw new ValidationError('unknown field', joinPath(path, key));
          }
        }
      }
      return out as Simplify<ObjectOutput<S>>;
    },
  };
}

/** Runs an extra check after `inner` succeeds (cross-field rules). */
export function refine<T>(inner: Schema<T>, rule: (value: T, path: string) => void): Schema<T> {
  return {
    expected: inner.expected,
    check(value, path) {
      const parsed = inner.check(value, path);
      rule(parsed, path);
      return parsed;
    },
  };
}
