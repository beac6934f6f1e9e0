/**
 * Reading the JSON bodies of the OpenAI- and Anthropic-compatible endpoints field by field:
 * each read checks the type and range and refuses with a 400 naming the field, and fields the
 * endpoint does not know are refused too (those APIs answer unknown parameters with a 400).
 */
import { BadRequestError } from '../errors.js';

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class BodyFields {
  readonly body: JsonObject;

  constructor(value: unknown, known: readonly string[], what: string) {
    if (!isObject(value)) throw new BadRequestError(`the body of ${what} must be a JSON object`);
    this.body = value;
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) throw new BadRequestError(`Unrecognized request argument supplied: ${key}`, { field: key });
    }
  }

  has(name: string): boolean {
    return this.body[name] !== undefined && this.body[name] !== null;
  }

  /** Refuses a field that is present (and not its neutral value), saying why. */
  unsupported(name: string, why: string, neutral: (v: unknown) => boolean = () => false): void {
    if (this.has(name) && !neutral(this.body[name])) throw new BadRequestError(`${name} is not supported by this server (${why})`, { field: name });
  }

  string(name: string): string | null {
    if (!this.has(name)) return null;
    const v = this.body[name];
    if (typeof v !== 'string') throw new BadRequestError(`${name} must be a string`, { field: name });
    return v;
  }

  requiredString(name: string): string {
    const v = this.string(name);
    if (v === null || v.length === 0) throw new BadRequestError(`${name} is required`, { field: name });
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    if (!this.has(name)) return fallback;
    const v = this.body[name];
    if (typeof v !== 'boolean') throw new BadRequestError(`${name} must be true or false`, { field: name });
    return v;
  }

  number(name: string, fallback: number, min: number, max: number, opts: { minExclusive?: boolean } = {}): number {
    if (!this.has(name)) return fallback;
    const v = this.body[name];
    const low = opts.minExclusive ? (v as number) > min : (v as number) >= min;
    if (typeof v !== 'number' || !Number.isFinite(v) || !low || v > max) {
      throw new BadRequestError(`${name} must be a number in ${opts.minExclusive ? '(' : '['}${min}, ${max}], got ${JSON.stringify(v)}`, { field: name });
    }
    return v;
  }

  integer(name: string, min: number, max: number): number | null {
    if (!this.has(name)) return null;
    const v = this.body[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new BadRequestError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`, { field: name });
    }
    return v;
  }

  /** A string or a list of strings (stop sequences). */
  strings(name: string, maxCount: number): string[] {
    if (!this.has(name)) return [];
    const v = this.body[name];
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new BadRequestError(`${name} must be a non-empty string or a list of non-empty strings`, { field: name });
    }
    if (list.length > maxCount) throw new BadRequestError(`${name} may hold at most ${maxCount} sequences, got ${list.length}`, { field: name });
    return list as string[];
  }

  object(name: string): JsonObject | null {
    if (!this.has(name)) return null;
    const v = this.body[name];
    if (!isObject(v)) throw new BadRequestError(`${name} must be an object`, { field: name });
    return v;
  }
}
