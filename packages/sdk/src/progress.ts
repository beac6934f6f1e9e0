import { environment } from '#environment';
import type { LineSink } from './platform/environment.js';

/**
 * Progress of a long operation (a download, a training loop, a batch of samples): on a
 * terminal, one line redrawn in place with a bar, rate and time left; otherwise (logs, CI)
 * plain lines — the first update, then at most one every `plainIntervalMs`, and the end — so
 * logs stay readable. Written to stderr by default, leaving stdout to the program's output.
 */
export interface ProgressOptions {
  /** What is progressing, e.g. "downloading tinker://run/weights/step-10". */
  label: string;
  /** Units of work in all; unknown (undefined) shows a count without a bar. */
  total?: number;
  /** How amounts print: plain counts, or bytes (KiB, MiB, ...). Default 'items'. */
  unit?: 'items' | 'bytes';
  /** Default: standard error (the console in a browser). */
  stream?: ProgressStream;
  /** Characters of the bar on a terminal; default 24. */
  width?: number;
  /** Without a terminal, a line at most this often; default 10 s. */
  plainIntervalMs?: number;
  /** On a terminal, redraws at most this often; default 100 ms. */
  redrawIntervalMs?: number;
  clock?: () => number;
}

/** Where Progress writes: a terminal redraws in place, anything else gets lines. */
export type ProgressStream = LineSink;

function formatAmount(n: number, unit: 'items' | 'bytes'): string {
  return unit === 'items' ? String(Math.round(n)) : formatByteSize(n);
}

/** A byte count for people: `512 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatByteSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(n)} B` : `${v.toFixed(1)} ${units[u]}`;
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  private readonly label: string;
  private readonly total: number | undefined;
  private readonly unit: 'items' | 'bytes';
  private readonly stream: ProgressStream;
  private readonly width: number;
  private readonly plainIntervalMs: number;
  private readonly redrawIntervalMs: number;
  private readonly clock: () => number;
  private readonly startedAt: number;
  private done = 0;
  private lastWriteAt: number | null = null;
  private lastWrittenDone: number | null = null;
  private drawn = false;
  private finished = false;

  constructor(opts: ProgressOptions) {
    this.label = opts.label;
    this.total = opts.total !== undefined && opts.total > 0 ? opts.total : undefined;
    this.unit = opts.unit ?? 'items';
    this.stream = opts.stream ?? environment.standardError();
    this.width = opts.width ?? 24;
    this.plainIntervalMs = opts.plainIntervalMs ?? 10_000;
    this.redrawIntervalMs = opts.redrawIntervalMs ?? 100;
    this.clock = opts.clock ?? Date.now;
    this.startedAt = this.clock();
  }

  /** Whether the stream is a terminal (bar redrawn in place) rather than a log (plain lines). */
  get interactive(): boolean {
    return this.stream.isTTY === true;
  }

  /** Work done so far is `done` units; `note` (e.g. "loss 0.42") is shown after the numbers. */
  update(done: number, note?: string): void {
    if (this.finished) return;
    this.done = done;
    const now = this.clock();
    const every = this.interactive ? this.redrawIntervalMs : this.plainIntervalMs;
    if (this.lastWriteAt !== null && now - this.lastWriteAt < every) return;
    this.write(now, note);
  }

  /** `by` more units done. */
  advance(by = 1, note?: string): void {
    this.update(this.done + by, note);
  }

  /** Shows the final state and ends the line; later updates are ignored. */
  finish(note?: string): void {
    if (this.finished) return;
    // A log already showing the final amount gets no second line.
    if (this.interactive || note || this.lastWrittenDone !== this.done) this.write(this.clock(), note);
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.finished = true;
  }

  private write(now: number, note: string | undefined): void {
    this.lastWriteAt = now;
    this.lastWrittenDone = this.done;
    const line = this.describe(now) + (note ? `  ${note}` : '');
    if (this.interactive) {
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  private describe(now: number): string {
    const elapsed = now - this.startedAt;
    const rate = elapsed > 0 ? (this.done / elapsed) * 1000 : 0;
    const amount = this.total !== undefined ? `${formatAmount(this.done, this.unit)}/${formatAmount(this.total, this.unit)}` : formatAmount(this.done, this.unit);
    const rateText = rate > 0 ? `  ${this.unit === 'items' ? rate.toFixed(rate < 10 ? 1 : 0) : formatAmount(rate, this.unit)}/s` : '';
    if (this.total === undefined) return `${this.label}  ${amount}${rateText}  ${formatDuration(elapsed)}`;
    const fraction = Math.min(1, Math.max(0, this.done / this.total));
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const eta = rate > 0 && fraction < 1 ? `  ${formatDuration(((this.total - this.done) / rate) * 1000)} left` : fraction >= 1 ? `  in ${formatDuration(elapsed)}` : '';
    if (!this.interactive) return `${this.label}: ${percent.trim()} (${amount})${rateText}${eta}`;
    const filled = Math.round(fraction * this.width);
    return `${this.label} ${'█'.repeat(filled)}${'░'.repeat(this.width - filled)} ${percent} ${amount}${rateText}${eta}`;
  }
}
