// What every semantic check (datum, params, optimizer) is built from: field paths and finite numbers.
import { ValidationError } from './errors.js';

/** `path.key`, or `key` at the top. */
export function joinPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** `value` when it is a finite number, else a ValidationError naming `path`. */
export function finiteNumber(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ValidationError(`expected a finite number, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`, path);
  }
  return value;
}
