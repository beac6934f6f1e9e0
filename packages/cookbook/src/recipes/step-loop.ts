// The training loop every recipe runs: step k's requests are submitted before step k − 1's
// results are awaited, so the server always has the next forward_backward/optim_step queued
// (the cookbook's pipelining); checkpoints are submitted between steps, so each holds exactly
// the updates before it; each finished step writes one metrics.jsonl line with its token and
// cost accounting, and a progress line.
import { Progress } from '@tinker-ts/sdk';
import type { StepTokens } from '../cost-meter.js';
import { checkpointName, submitCheckpoint, type CheckpointRecord } from './checkpoint-log.js';
import type { StepMetrics } from './metrics-log.js';
import type { TrainingRun } from './training-run.js';

export interface StepOutcome {
  metrics: StepMetrics;
  tokens: StepTokens;
  /** Lines to print after the step's progress line (e.g. a sampler/trainer gap warning). */
  warnings?: string[];
}

/** A submitted step: its requests are queued; `outcome` settles when they are done. */
export interface SubmittedStep {
  outcome: Promise<StepOutcome>;
}

export interface StepLoopOptions {
  run: TrainingRun;
  /** Name in progress lines, e.g. "supervised". */
  label: string;
  /** Steps of the whole run; a resumed run trains from run.startStep up to it. */
  totalSteps: number;
  saveEvery: number;
  /** Submits step `step`'s requests (may await what they need first, e.g. samples) and returns without awaiting their results. */
  submit(step: number): Promise<SubmittedStep>;
  /** Metrics shown in the progress line (default: all). */
  progressKeys?: readonly string[];
}

export interface StepLoopResult {
  startStep: number;
  /** This invocation's steps, in order. */
  steps: Array<StepMetrics & { step: number }>;
  final: CheckpointRecord;
}

export async function runStepLoop(o: StepLoopOptions): Promise<StepLoopResult> {
  const { run, totalSteps } = o;
  const logDir = run.metrics.logDir;
  const steps: Array<StepMetrics & { step: number }> = [];
  let pending: { step: number; started: number; submitted: SubmittedStep } | undefined;
  let checkpoint: (() => Promise<CheckpointRecord>) | undefined;
  // On a terminal, one bar redrawn in place with the step's metrics as its note.
  let lastNote: string | undefined;
  const bar = run.progress?.isTTY ? new Progress({ label: o.label, total: totalSteps - run.startStep, stream: run.progress }) : undefined;

  const finish = async (p: NonNullable<typeof pending>) => {
    const out = await p.submitted.outcome;
    const line: StepMetrics & { step: number } = {
      step: p.step,
      ...out.metrics,
      ...run.cost.record(out.tokens),
      'time/step_s': (Date.now() - p.started) / 1000,
    };
    run.metrics.write(p.step, line);
    steps.push(line);
    lastNote = metricsText(line, o.progressKeys);
    if (bar) bar.update(p.step + 1 - run.startStep, lastNote);
    else run.log(`${o.label} step ${p.step + 1}/${totalSteps}  ${lastNote}`);
    for (const w of out.warnings ?? []) run.log(`${bar ? '\n' : ''}warning: ${w}`);
  };

  for (let step = run.startStep; step < totalSteps; step++) {
    if (o.saveEvery > 0 && step % o.saveEvery === 0 && step > run.startStep) {
      checkpoint = submitCheckpoint(run.training, { name: checkpointName(step), step, logDir, kind: 'state' });
    }
    const started = Date.now();
    const submitted = await o.submit(step);
    submitted.outcome.catch(() => {}); // awaited below, after the previous step
    if (pending) await finish(pending);
    // Logged after every earlier step's metrics, so a resume never skips a step.
    if (checkpoint) await checkpoint();
    checkpoint = undefined;
    pending = { step, started, submitted };
  }
  if (pending) await finish(pending);
  bar?.finish(lastNote);

  const final =
    run.startStep >= totalSteps && run.resumedFrom
      ? run.resumedFrom
      : await submitCheckpoint(run.training, { name: 'final', step: totalSteps, logDir, kind: 'both' })();
  run.log(`${o.label}: final checkpoint ${final.statePath}${final.samplerPath ? ` (sampler: ${final.samplerPath})` : ''}`);
  return { startStep: run.startStep, steps, final };
}

function metricsText(m: StepMetrics, keys?: readonly string[]): string {
  const shown = (keys ?? Object.keys(m).filter((k) => k !== 'step')).filter((k) => m[k] !== undefined);
  return shown.map((k) => `${k} ${formatNumber(m[k]!)}`).join('  ');
}

function formatNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : x.toFixed(4);
}
