import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readMetrics } from './metrics-log.js';
import { discountedFutureSum, trainOnPolicyDistillation } from './on-policy-distillation.js';
import { promptDistillationDataFile, trainPromptDistillation } from './prompt-distillation.js';
import { trainSupervised, type SupervisedResult } from './supervised.js';
import { RENDERER, STAND_IN, intentConversations, quiet, startRecipeServer, type RecipeServer } from './testing/recipe-server.js';

let env: RecipeServer;
/** A stand-in taught the intent replies: it writes them, the base model does not. */
let taught: SupervisedResult;
const prompts = intentConversations().slice(0, 4).map((c) => c.slice(0, 1));

before(async () => {
  env = await startRecipeServer();
  taught = await trainSupervised(env.service, {
    baseModel: STAND_IN, logDir: join(env.dir, 'taught'), conversations: intentConversations().slice(0, 2), renderer: RENDERER,
    batchSize: 2, steps: 6, learningRate: 1e-2, lrSchedule: 'constant', rank: 8, seed: 6, log: quiet,
  });
});
after(async () => env?.close());

test('on-policy distillation lowers the reverse KL to the teacher, and a rerun resumes at the right step', async (t) => {
  // The taught model distils back towards the base model (recovering what it was before).
  const logDir = join(env.dir, 'opd');
  const config = {
    baseModel: STAND_IN, logDir, prompts: prompts.slice(0, 2), initialStatePath: taught.final.statePath!, teacherBaseModel: STAND_IN,
    renderer: RENDERER, batchSize: 2, groupSize: 4, maxTokens: 8, learningRate: 2e-3, seed: 7, log: quiet,
  };
  const first = await trainOnPolicyDistillation(env.service, { ...config, steps: 2 });
  assert.equal(first.startStep, 0);
  const resumed = await trainOnPolicyDistillation(env.service, { ...config, steps: 5 });
  assert.equal(resumed.startStep, 2);
  const logged = readMetrics(logDir);
  assert.deepEqual(logged.map((m) => m.step), [0, 1, 2, 3, 4]);
  const kl = logged.map((m) => m['teacher_kl']!);
  t.diagnostic(`reverse KL per token: ${kl.map((x) => x.toFixed(3)).join(' ')}`);
  assert.ok(kl[0]! > 0.5, `the taught student starts away from the base model: ${kl[0]}`);
  assert.ok(kl[4]! < kl[0]! * 0.8, `reverse KL ${kl[0]!.toFixed(3)} → ${kl[4]!.toFixed(3)}`);
  assert.ok(logged.every((m) => m['optim/logprob_gap_mean']! < 0.01 && m['tokens/sample']! > 0));
});

test('on-policy distillation needs exactly one teacher', async () => {
  await assert.rejects(
    trainOnPolicyDistillation(env.service, { baseModel: STAND_IN, logDir: join(env.dir, 'bad'), prompts, learningRate: 1e-3, log: quiet }),
    /give exactly one of teacherModelPath or teacherBaseModel/,
  );
});

test('prompt distillation trains the student on the teacher\'s answers without the system prompt, and resumes on the same data', async (t) => {
  const logDir = join(env.dir, 'pd');
  const config = {
    baseModel: STAND_IN, logDir, prompts, systemPrompt: 'Reply with the intent as JSON.', teacherModelPath: taught.final.samplerPath!,
    samplesPerPrompt: 2, maxTokens: 10, renderer: RENDERER, batchSize: 4, learningRate: 5e-3, lrSchedule: 'constant' as const, rank: 8, seed: 8, log: quiet,
  };
  const first = await trainPromptDistillation(env.service, { ...config, steps: 2 });
  const data = readFileSync(promptDistillationDataFile(logDir), 'utf8');
  const lines = data.trim().split('\n').map((l) => JSON.parse(l) as { messages: Array<{ role: string; content: string }> });
  assert.ok(lines.length > 0 && lines.length <= 8);
  assert.ok(lines.every((l) => l.messages.length === 2 && l.messages[0]!.role === 'user' && l.messages[1]!.role === 'assistant'), 'the student never sees the system prompt');
  assert.equal(first.startStep, 0);

  const resumed = await trainPromptDistillation(env.service, { ...config, steps: 6 });
  assert.equal(resumed.startStep, 2);
  assert.equal(readFileSync(promptDistillationDataFile(logDir), 'utf8'), data, 'the resumed run trains on the same teacher answers');
  const nll = readMetrics(logDir).map((m) => [m.step, m['train_mean_nll']!] as const);
  t.diagnostic(`student NLL per step: ${nll.map(([, x]) => x.toFixed(2)).join(' ')}`);
  assert.deepEqual(nll.map(([s]) => s), [0, 1, 2, 3, 4, 5]);
  assert.ok(nll[5]![1] < nll[0]![1] - 2, `student NLL ${nll[0]![1].toFixed(2)} → ${nll[5]![1].toFixed(2)}`);
});

test('the discounted reverse-KL advantage sums the tokens after each one', () => {
  assert.deepEqual(discountedFutureSum([1, 2, 4], 0), [1, 2, 4]);
  assert.deepEqual(discountedFutureSum([1, 2, 4], 0.5), [1 + 1 + 1, 2 + 2, 4]);
});
