/**
 * How busy the engine is: the share of recent wall time during which at least one request was
 * running (the engine process serialises compute, so overlapping requests count once), and how
 * many requests finished in that time. The model queues report each run's start and end.
 */
export interface UtilisationReport {
  /** Busy time / window length over the last `window_ms` (or since the server started, if sooner). */
  busy_fraction: number;
  window_ms: number;
  /** Requests that finished inside the window. */
  finished: number;
  running: number;
  busy_ms_total: number;
}

const WINDOW_MS = 60_000;

export class EngineUtilisation {
  private running = 0;
  private busySince = 0;
  private busyTotal = 0;
  /** Busy intervals that ended inside the window, oldest first. */
  private intervals: Array<[number, number]> = [];
  private finishes: number[] = [];

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly startedAt = clock(),
  ) {}

  begin(): void {
    if (this.running++ === 0) this.busySince = this.clock();
  }

  end(): void {
    const now = this.clock();
    this.finishes.push(now);
    if (--this.running === 0) {
      this.intervals.push([this.busySince, now]);
      this.busyTotal += now - this.busySince;
    }
    this.prune(now);
  }

  report(): UtilisationReport {
    const now = this.clock();
    this.prune(now);
    const from = Math.max(now - WINDOW_MS, this.startedAt);
    let busy = 0;
    for (const [s, e] of this.intervals) busy += Math.max(0, e - Math.max(s, from));
    if (this.running > 0) busy += now - Math.max(this.busySince, from);
    const window = Math.max(1, now - from);
    return {
      busy_fraction: Math.min(1, busy / window),
      window_ms: window,
      finished: this.finishes.length,
      running: this.running,
      busy_ms_total: this.busyTotal + (this.running > 0 ? now - this.busySince : 0),
    };
  }

  private prune(now: number): void {
    const from = now - WINDOW_MS;
    while (this.intervals.length > 0 && this.intervals[0]![1] <= from) this.intervals.shift();
    while (this.finishes.length > 0 && this.finishes[0]! <= from) this.finishes.shift();
  }
}
