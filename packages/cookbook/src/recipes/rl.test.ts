import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Qwen3Renderer } from '../renderers/qwen3.js';
import { promptAnswerDataset, prefixMatchReward } from './prompt-answer-env.js';
import { readMetrics } from './metrics-log.js';
import { centeredAdvantages, trajectoryToData } from './rl-rollouts.js';
import { trainRl } from './rl.js';
import { trainSupervised } from './supervised.js';
import { RENDERER, STAND_IN, intentConversations, mean, quiet, startRecipeServer, type RecipeServer } from './testing/recipe-server.js';

let env: RecipeServer;
before(async () => (env = await startRecipeServer()));
after(async () => env?.close());

test('rl raises the mean reward from a short supervised start, reports sampler/trainer metrics each step, and resumes at the right step', async (t) => {
  const conversations = intentConversations();
  let t0 = Date.now();
  // A short supervised start on the two prompts: the replies have the format about half the time.
  const warm = await trainSupervised(env.service, {
    baseModel: STAND_IN, logDir: join(env.dir, 'warm'), conversations: conversations.slice(0, 2), renderer: RENDERER,
    batchSize: 2, steps: 10, learningRate: 1e-2, lrSchedule: 'constant', rank: 8, seed: 2, log: quiet,
  });
  t.diagnostic(`warm start: ${Date.now() - t0} ms, NLL ${warm.steps.map((m) => m['train_mean_nll']!.toFixed(2)).join(' ')}`);
  const training = await env.service.createTrainingClientFromState(warm.final.statePath!);
  const renderer = new Qwen3Renderer(await training.getTokenizer(), { thinking: false });
  const problems = conversations.slice(0, 2).map((c) => ({ prompt: c.slice(0, 1), answer: c[1]!.content }));
  const dataset = promptAnswerDataset({ problems, renderer, groupSize: 8, groupsPerBatch: 2, maxTokens: 8, seed: 3 });
  const logDir = join(env.dir, 'rl');
  const config = { baseModel: STAND_IN, logDir, dataset, initialStatePath: warm.final.statePath!, learningRate: 3e-3, temperature: 1, seed: 4 };

  t0 = Date.now();
  const first = await trainRl(env.service, { ...config, steps: 4, log: quiet });
  t.diagnostic(`4 rl steps: ${Date.now() - t0} ms`);
  assert.equal(first.startStep, 0);
  const lines: string[] = [];
  // A negative threshold: every step's (zero) gap is above it, so every trained step warns.
  const resumed = await trainRl(env.service, { ...config, steps: 8, logprobGapThreshold: -1, log: (l) => lines.push(l) });
  assert.equal(resumed.startStep, 4);

  const logged = readMetrics(logDir);
  assert.deepEqual(logged.map((m) => m.step), [0, 1, 2, 3, 4, 5, 6, 7]);
  const rewards = logged.map((m) => m['env/reward_mean']!);
  t.diagnostic(`mean reward per step: ${rewards.map((r) => r.toFixed(3)).join(' ')}`);
  const trained = logged.filter((m) => m['num_datums']! > 0);
  assert.ok(trained.length >= 6, 'most steps train on some groups');
  for (const m of trained) {
    assert.ok(m['optim/logprob_gap_mean']! < 0.01, `the local sampler computes what the trainer computes: gap ${m['optim/logprob_gap_mean']}`);
    assert.ok(Number.isFinite(m['optim/kl_sample_train_v1']) && Number.isFinite(m['optim/entropy']) && m['optim/ratio_mean']! > 0.99);
    assert.ok(m['tokens/sample']! > 0 && m['tokens/train']! > 0);
  }
  assert.ok(lines.some((l) => l.startsWith('warning: sampler and trainer logprobs differ')), 'the gap warning reaches the log');
  assert.ok(lines.some((l) => /^rl step 8\/8 {2}env\/reward_mean /.test(l)), 'a progress line per step');
  const early = mean(rewards.slice(0, 2));
  const late = mean(rewards.slice(-3));
  assert.ok(late > early + 0.02, `mean reward ${early.toFixed(3)} → ${late.toFixed(3)}`);
});

test('group-centred advantages and multi-turn trajectories as one sequence', () => {
  assert.deepEqual(centeredAdvantages([1, 0, 0.5, 0.5]), [0.5, -0.5, 0, 0]);
  const data = trajectoryToData(
    {
      transitions: [
        { observation: [1, 2], action: [3, 4], actionLogprobs: [-0.1, -0.2], reward: 0, episodeDone: false, metrics: {} },
        // The next observation extends the previous one with the env's reply (5): one datum.
        { observation: [1, 2, 3, 4, 5], action: [6], actionLogprobs: [-0.3], reward: 1, episodeDone: true, metrics: {} },
      ],
    },
    0.5,
  );
  assert.equal(data.length, 1);
  const d = data[0]!;
  assert.deepEqual(d.datum.modelInput.toInts(), [1, 2, 3, 4, 5]);
  assert.deepEqual(d.datum.lossFnInputs['target_tokens']!.toArray(), [2, 3, 4, 5, 6]);
  assert.deepEqual([...d.mask], [0, 1, 1, 0, 1]);
  assert.deepEqual([...d.datum.lossFnInputs['advantages']!.toArray()], [0, 0.5, 0.5, 0, 0.5]);
  assert.deepEqual([...d.samplingLogprobs].map((x) => Math.round(x * 10) / 10), [0, -0.1, -0.2, 0, -0.3]);
  // An observation that does not extend the sequence starts a new datum.
  const split = trajectoryToData({
    transitions: [
      { observation: [1, 2], action: [3], actionLogprobs: [-1], reward: 0, episodeDone: false, metrics: {} },
      { observation: [9, 8], action: [7], actionLogprobs: [-1], reward: 0, episodeDone: true, metrics: {} },
    ],
  }, 1);
  assert.equal(split.length, 2);
});

test('prefixMatchReward: 1 for the answer, partial credit for a right start', () => {
  assert.equal(prefixMatchReward(' {"intent": "timer"}\n', '{"intent": "timer"}'), 1);
  assert.equal(prefixMatchReward('', 'abcd'), 0);
  assert.equal(prefixMatchReward('abxx', 'abcd'), 0.25);
});
