import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readMetrics } from '../recipes/metrics-log.js';
import { RENDERER, STAND_IN, intentConversations, startRecipeServer, type RecipeServer } from '../recipes/testing/recipe-server.js';
import { runCookbookCli, type CliIo } from './main.js';

let env: RecipeServer;
before(async () => (env = await startRecipeServer()));
after(async () => env?.close());

function capture(extraEnv: Record<string, string> = {}): CliIo & { out: string; err: string } {
  const io = {
    out: '', err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: { TINKER_BASE_URL: env.server.url, TINKER_API_KEY: 'tml-recipes-test', ...extraEnv },
  };
  return io;
}

test('bad arguments exit 2 with a clear message', async () => {
  let io = capture();
  assert.equal(await runCookbookCli(['train'], io), 2);
  assert.match(io.err, /unknown recipe "train"; known: supervised, rl, dpo, distill, prompt-distill/);
  io = capture();
  assert.equal(await runCookbookCli(['supervised', '--base-model', STAND_IN, '--data', 'x.jsonl'], io), 2);
  assert.match(io.err, /--log-dir is required/);
  io = capture();
  assert.equal(await runCookbookCli(['dpo', '--log-dir', env.dir, '--base-model', STAND_IN, '--data', 'p.jsonl', '--steps', 'two'], io), 2);
  assert.match(io.err, /--steps: expected an integer, got "two"/);
  io = capture();
  assert.equal(await runCookbookCli(['rl', '--log-dir', env.dir, '--bogus'], io), 2);
  assert.match(io.err, /Unknown option '--bogus'/);
});

test('supervised from the command line trains, logs metrics.jsonl and prints the final checkpoint; a rerun resumes', async () => {
  const data = join(env.dir, 'conversations.jsonl');
  writeFileSync(data, intentConversations().slice(0, 4).map((messages) => JSON.stringify({ messages }) + '\n').join(''));
  const logDir = join(env.dir, 'cli-sl');
  const args = ['supervised', '--log-dir', logDir, '--base-model', STAND_IN, '--data', data, '--batch-size', '4', '--learning-rate', '5e-3', '--rank', '8', '--renderer', RENDERER];
  let io = capture();
  assert.equal(await runCookbookCli([...args, '--steps', '2'], io), 0, io.err);
  const result = JSON.parse(io.out) as { startStep: number; steps: number; finalStatePath: string };
  assert.deepEqual([result.startStep, result.steps], [0, 2]);
  assert.match(result.finalStatePath, /^tinker:\/\/.+\/weights\/final$/);
  assert.match(io.err, /^supervised step 2\/2 {2}train_mean_nll \d+\.\d{4}/m);

  io = capture();
  assert.equal(await runCookbookCli([...args, '--steps', '3'], io), 0, io.err);
  assert.equal(JSON.parse(io.out).startStep, 2);
  assert.deepEqual(readMetrics(logDir).map((m) => m.step), [0, 1, 2]);

  io = capture();
  assert.equal(await runCookbookCli(['supervised', '--log-dir', join(env.dir, 'cli-bad'), '--base-model', STAND_IN, '--data', data], io), 1);
  assert.match(io.err, /no calibrated learning rate/);
});
