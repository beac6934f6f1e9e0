import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TrainingClient } from '@tinker-ts/sdk';
import { CostMeter } from '../cost-meter.js';
import { readCheckpoints } from './checkpoint-log.js';
import { MetricsLog, readMetrics } from './metrics-log.js';
import { runStepLoop, type StepOutcome } from './step-loop.js';
import type { TrainingRun } from './training-run.js';

/** A training client that only records the saves it is asked for, in order with the steps. */
function recordingRun(logDir: string, events: string[], startStep = 0): TrainingRun {
  const training = {
    saveState: (name: string) => (events.push(`save ${name}`), Promise.resolve({ path: `tinker://run/weights/${name}` })),
    saveWeightsForSampler: (name: string) => Promise.resolve({ path: `tinker://run/sampler_weights/${name}` }),
  } as unknown as TrainingClient;
  const metrics = new MetricsLog(logDir, startStep);
  // As openTrainingRun does: the cumulative counts continue from the last kept line.
  const cost = new CostMeter(undefined, metrics.lastBefore(startStep));
  return { training, startStep, metrics, cost, log: (l) => events.push(`log ${l.split('  ')[0]}`) };
}

test('the loop submits step k before awaiting step k − 1, and logs a checkpoint only after the metrics of the steps it holds', { timeout: 5_000 }, async () => {
  // A loop that awaited step k − 1 before submitting step k would never see it finish: the timeout fails it.
  const logDir = mkdtempSync(join(tmpdir(), 'step-loop-'));
  try {
    const events: string[] = [];
    const release: Array<() => void> = [];
    const run = recordingRun(logDir, events);
    const loop = runStepLoop({
      run, label: 'test', totalSteps: 4, saveEvery: 2,
      submit: async (step) => {
        events.push(`submit ${step}`);
        const outcome = new Promise<StepOutcome>((resolve) => release.push(() => resolve({ metrics: { loss: 10 - step }, tokens: { train: 5 } })));
        // Each step finishes only once the next one is submitted (or, for the last, at once).
        if (step > 0) release[step - 1]!();
        if (step === 3) release[3]!();
        return { outcome };
      },
    });
    const result = await loop;
    assert.deepEqual(events, [
      'submit 0',
      'submit 1', 'log test step 1/4',
      'save 000002', 'submit 2', 'log test step 2/4',
      'submit 3', 'log test step 3/4',
      'log test step 4/4',
      'save final', 'log test: final checkpoint tinker://run/weights/final (sampler: tinker://run/sampler_weights/final)',
    ]);
    assert.deepEqual(readMetrics(logDir).map((m) => [m.step, m['loss'], m['tokens/train_total']]), [[0, 10, 5], [1, 9, 10], [2, 8, 15], [3, 7, 20]]);
    assert.deepEqual(readCheckpoints(logDir).map((c) => [c.name, c.step]), [['000002', 2], ['final', 4]]);
    assert.equal(result.final.samplerPath, 'tinker://run/sampler_weights/final');
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
});

test('a resumed metrics log drops the lines of steps it redoes and continues the cumulative counts', async () => {
  const logDir = mkdtempSync(join(tmpdir(), 'step-loop-'));
  try {
    const first = recordingRun(logDir, []);
    for (let s = 0; s < 4; s++) first.metrics.write(s, first.cost.record({ train: 10 }));
    const resumed = recordingRun(logDir, [], 2);
    assert.deepEqual(readMetrics(logDir).map((m) => m.step), [0, 1]);
    assert.equal(resumed.cost.record({ train: 1 })['tokens/train_total'], 21);
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
});

test('on a terminal the loop draws one progress bar with the metrics instead of a line per step', async () => {
  const logDir = mkdtempSync(join(tmpdir(), 'step-loop-'));
  try {
    const events: string[] = [];
    let drawn = '';
    const run = { ...recordingRun(logDir, events), progress: { isTTY: true, write: (s: string) => void (drawn += s) } };
    await runStepLoop({
      run, label: 'bar', totalSteps: 3, saveEvery: 0, progressKeys: ['loss'],
      submit: async (step) => ({ outcome: Promise.resolve({ metrics: { loss: 3 - step }, tokens: {} }) }),
    });
    assert.ok(!events.some((e) => e.startsWith('log bar step')), 'no per-step lines');
    assert.match(drawn, /\r\x1b\[2Kbar .*3\/3.*loss 1\n$/s, `bar: ${JSON.stringify(drawn)}`);
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
});
