import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readCheckpoints } from './checkpoint-log.js';
import { metricsLogFile, readMetrics } from './metrics-log.js';
import { trainSupervised } from './supervised.js';
import { RENDERER, STAND_IN, intentConversations, quiet, startRecipeServer, type RecipeServer } from './testing/recipe-server.js';

let env: RecipeServer;
before(async () => (env = await startRecipeServer()));
after(async () => env?.close());

test('supervised lowers the training and held-out NLL, and a rerun resumes at the checkpoint without repeating a step', async (t) => {
  const logDir = join(env.dir, 'sl');
  const data = intentConversations();
  const config = {
    baseModel: STAND_IN, logDir, conversations: data.slice(0, 12), evalConversations: data.slice(12),
    renderer: RENDERER, batchSize: 4, learningRate: 5e-3, lrSchedule: 'constant' as const, rank: 8, seed: 1, evalEvery: 3, log: quiet,
  };
  const first = await trainSupervised(env.service, { ...config, steps: 4, saveEvery: 2 });
  assert.equal(first.startStep, 0);
  assert.deepEqual(readCheckpoints(logDir).map((c) => [c.name, c.step]), [['000002', 2], ['final', 4]]);
  assert.match(first.final.samplerPath ?? '', /^tinker:\/\/.+\/sampler_weights\/final$/);
  // As if a run had logged step 4 and died before its next checkpoint: the rerun redoes step 4.
  appendFileSync(metricsLogFile(logDir), JSON.stringify({ step: 4, train_mean_nll: 0 }) + '\n');

  const resumed = await trainSupervised(env.service, { ...config, steps: 9 });
  assert.equal(resumed.startStep, 4, 'resumes at the step of the latest checkpoint');
  const logged = readMetrics(logDir);
  assert.deepEqual(logged.map((m) => m.step), [0, 1, 2, 3, 4, 5, 6, 7, 8], 'one metrics line per step');
  assert.ok(logged.every((m) => m['tokens/train']! > 0 && m['cost/total_usd'] === 0 && m['time/step_s']! >= 0));
  assert.ok(logged[8]!['tokens/train_total']! > logged[3]!['tokens/train_total']!, 'cumulative tokens continue across the resume');

  const nll = logged.map((m) => m['train_mean_nll']!);
  t.diagnostic(`train NLL per step: ${nll.map((x) => x.toFixed(2)).join(' ')}`);
  assert.ok(nll[0]! > 8, `a fresh stand-in starts near ln(vocab): ${nll[0]}`);
  assert.ok(nll[8]! < nll[0]! - 3, `training NLL ${nll[0]!.toFixed(2)} → ${nll[8]!.toFixed(2)}`);
  const evals = logged.filter((m) => m['eval/nll'] !== undefined).map((m) => [m.step, m['eval/nll']!] as const);
  assert.deepEqual(evals.map(([s]) => s), [0, 3, 6, 8], 'held-out NLL every 3 steps and at the last');
  assert.ok(evals[3]![1] < evals[0]![1] - 2, `held-out NLL ${evals[0]![1].toFixed(2)} → ${evals[3]![1].toFixed(2)}`);
});

test('supervised refuses a batch larger than the data and an uncalibrated model without a learning rate', async () => {
  const data = intentConversations();
  await assert.rejects(
    trainSupervised(env.service, { baseModel: STAND_IN, logDir: join(env.dir, 'bad1'), conversations: data.slice(0, 2), batchSize: 4, learningRate: 1e-3, log: quiet }),
    /batchSize: must be an integer from 1 to the 2 conversations/,
  );
  await assert.rejects(
    trainSupervised(env.service, { baseModel: STAND_IN, logDir: join(env.dir, 'bad2'), conversations: data, log: quiet }),
    /no calibrated learning rate for "tinker-ts\/tiny-qwen3"/,
  );
});
