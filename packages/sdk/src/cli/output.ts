/** Human output of the CLI: aligned tables, key/value blocks, sizes and times. */
import { formatByteSize } from '../progress.js';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function keyValues(pairs: Array<[string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}`).join('\n');
}

export function formatBytes(n: number | undefined): string {
  return n === undefined || n === null ? '-' : formatByteSize(n);
}

export function formatTime(d: Date | undefined | null): string {
  if (!d) return '-';
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** One line for a failed command or request: SDK API errors carry the server's JSON body, whose `error` says what was wrong. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const e = err as Error & { status?: number; body?: { error?: unknown } };
    if (typeof e.status === 'number' && e.body && typeof e.body.error === 'string') return `${e.body.error} (HTTP ${e.status})`;
    return err.message;
  }
  return String(err);
}
