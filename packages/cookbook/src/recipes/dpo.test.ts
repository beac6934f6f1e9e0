import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { trainDpo } from './dpo.js';
import type { PreferencePair } from './jsonl-data.js';
import { readMetrics } from './metrics-log.js';
import { STAND_IN, RENDERER, intentConversations, intentReply, quiet, startRecipeServer, type RecipeServer } from './testing/recipe-server.js';

let env: RecipeServer;
before(async () => (env = await startRecipeServer()));
after(async () => env?.close());

const INTENTS = ['weather', 'timer', 'music', 'recipe'];

/** Chosen: the right intent; rejected: the next one. */
function intentPairs(n: number): PreferencePair[] {
  return intentConversations().slice(0, n).map((c) => {
    const right = JSON.parse(c[1]!.content).intent as string;
    const wrong = INTENTS[(INTENTS.indexOf(right) + 1) % INTENTS.length]!;
    return { prompt: c.slice(0, 1), chosen: c[1]!, rejected: { role: 'assistant', content: intentReply(wrong) } };
  });
}

test('dpo widens the preference margin against a frozen reference, and a rerun resumes at the right step', async (t) => {
  const logDir = join(env.dir, 'dpo');
  const config = { baseModel: STAND_IN, logDir, pairs: intentPairs(6), renderer: RENDERER, batchSize: 6, beta: 0.1, learningRate: 1e-3, rank: 8, seed: 5, log: quiet };
  const first = await trainDpo(env.service, { ...config, steps: 2 });
  assert.equal(first.startStep, 0);
  const resumed = await trainDpo(env.service, { ...config, steps: 5 });
  assert.equal(resumed.startStep, 2);

  const logged = readMetrics(logDir);
  assert.deepEqual(logged.map((m) => m.step), [0, 1, 2, 3, 4]);
  const margins = logged.map((m) => m['dpo/margin']!);
  t.diagnostic(`margin per step: ${margins.map((x) => x.toFixed(4)).join(' ')}; loss ${logged.map((m) => m['dpo/loss']!.toFixed(4)).join(' ')}`);
  assert.ok(Math.abs(margins[0]!) < 1e-3, `the first step measures the reference itself (the base model's sampler): ${margins[0]}`);
  assert.ok(margins[4]! > 0.05, `margin after 4 updates: ${margins[4]}`);
  assert.ok(logged[4]!['dpo/loss']! < logged[0]!['dpo/loss']!, 'DPO loss goes down');
  assert.ok(logged[4]!['dpo/accuracy']! >= 0.5);
  assert.ok(logged.every((m) => m['tokens/train']! > 0 && m['tokens/prefill']! > 0));
});

test('dpo refuses a non-positive beta', async () => {
  await assert.rejects(
    trainDpo(env.service, { baseModel: STAND_IN, logDir: join(env.dir, 'bad'), pairs: intentPairs(2), beta: 0, learningRate: 1e-3, log: quiet }),
    /beta: must be positive/,
  );
});
