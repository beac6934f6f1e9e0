// A run's metrics, one JSON line per step in <logDir>/metrics.jsonl (as the Tinker cookbook's
// ml_log writes them). A resumed run first drops the lines of steps it is about to redo, so the
// file never repeats or skips a step.
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';

export type StepMetrics = Record<string, number>;

export function metricsLogFile(logDir: string): string {
  return join(logDir, 'metrics.jsonl');
}

/** Every logged line, in file order (each has a `step`). */
export function readMetrics(logDir: string): Array<StepMetrics & { step: number }> {
  const file = metricsLogFile(logDir);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as StepMetrics & { step: number });
}

export class MetricsLog {
  readonly file: string;

  /** Opens the log of a run that starts (or resumes) at `startStep`. */
  constructor(readonly logDir: string, startStep: number) {
    this.file = metricsLogFile(logDir);
    mkdirSync(logDir, { recursive: true });
    if (existsSync(this.file)) {
      // Steps at or after the resume point were logged after the checkpoint: they are redone.
      const kept = readMetrics(logDir).filter((m) => m.step < startStep);
      writeFileSync(this.file, kept.map((m) => JSON.stringify(m) + '\n').join(''));
    }
  }

  /** The last line logged before `step`, e.g. for cumulative counters. */
  lastBefore(step: number): StepMetrics | undefined {
    return readMetrics(this.logDir).filter((m) => m.step < step).pop();
  }

  write(step: number, metrics: StepMetrics): void {
    appendFileSync(this.file, JSON.stringify({ step, ...metrics }) + '\n');
  }
}
