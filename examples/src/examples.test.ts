// Each example runs for a few steps on a stand-in model against an in-process server and must
// learn something measurable. Together they take a minute or two on 2 cores.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '@tinker-ts/server';
import type { ServiceClientOptions } from '@tinker-ts/sdk';
import { readCheckpoints } from './checkpoint-log.js';
import { main as demo } from './demo.js';
import { main as dpoStep } from './dpo-step.js';
import { intentProblems, main as rlLoop } from './rl-loop.js';
import { main as slLoop } from './sl-loop.js';

let server: RunningServer;
let dir: string;
let client: ServiceClientOptions;
const quiet = () => {};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tinker-ts-examples-'));
  server = await startServer({ dataDir: join(dir, 'server'), port: 0 });
  client = { baseURL: server.url, apiKey: 'tml-examples-test' };
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Set by the supervised test, the starting point of the RL test. */
let supervisedState: string | undefined;

test('sl-loop lowers the training NLL and a rerun resumes from the latest checkpoint', async () => {
  const logPath = join(dir, 'sl');
  const first = await slLoop({ logPath, steps: 6, saveEvery: 3, learningRate: 3e-3, seed: 1, client, log: quiet });
  assert.equal(first.startStep, 0);
  assert.deepEqual(readCheckpoints(logPath).map((c) => [c.name, c.step]), [['000003', 3], ['final', 6]]);
  assert.match(first.finalSamplerPath, /^tinker:\/\/.+\/sampler_weights\/final$/);

  const resumed = await slLoop({ logPath, steps: 40, saveEvery: 0, learningRate: 3e-3, client, log: quiet });
  assert.equal(resumed.startStep, 6, 'resumes at the step of the latest checkpoint');
  assert.deepEqual(resumed.metrics.map((m) => m.step), [...Array(34).keys()].map((i) => i + 6));
  const start = first.metrics[0]!.trainMeanNll;
  const end = mean(resumed.metrics.slice(-3).map((m) => m.trainMeanNll));
  assert.ok(start > 10, `a fresh stand-in starts near ln(vocab): ${start}`);
  assert.ok(end < start - 6, `NLL per token ${start.toFixed(2)} → ${end.toFixed(2)}`);
  supervisedState = resumed.finalStatePath;
});

test('rl-loop raises the mean reward, starting from the supervised state', async (t) => {
  assert.ok(supervisedState, 'needs the supervised test');
  // A few prompts with large groups: the policy-gradient signal of a short run is clearer than on
  // a fresh batch of prompts each iteration, whose difficulty varies.
  const { metrics } = await rlLoop({
    logPath: join(dir, 'rl'), initialStatePath: supervisedState, problems: intentProblems().slice(0, 4),
    iterations: 12, batchSize: 4, groupSize: 16, seed: 3, client, log: quiet,
  });
  t.diagnostic(`mean reward per iteration: ${metrics.map((m) => m.meanReward.toFixed(3)).join(' ')}`);
  assert.ok(metrics.every((m) => m.numDatums > 0), 'every iteration trains on some groups');
  const early = mean(metrics.slice(0, 2).map((m) => m.meanReward));
  const late = mean(metrics.slice(-4).map((m) => m.meanReward));
  assert.ok(late > early + 0.01, `mean reward ${early.toFixed(3)} → ${late.toFixed(3)}`);
});

test('dpo-step widens the preference margin with a client-side loss', async () => {
  const { metrics } = await dpoStep({ steps: 4, pairs: 6, client, log: quiet });
  assert.ok(Math.abs(metrics[0]!.margin) < 1e-3, 'the first step measures the reference itself');
  assert.ok(metrics[3]!.margin > 0.05, `margin after 3 updates: ${metrics[3]!.margin}`);
  assert.ok(metrics[3]!.loss < metrics[0]!.loss, 'DPO loss goes down');
  assert.ok(metrics[3]!.accuracy >= 0.5);
});

test('dpo-step with the loss on the server widens the margin too', async () => {
  const { metrics } = await dpoStep({ steps: 4, pairs: 6, client, log: quiet, serverSide: true });
  assert.ok(Math.abs(metrics[0]!.margin) < 1e-3, 'the first step measures the reference itself');
  assert.ok(Math.abs(metrics[0]!.loss - Math.LN2) < 1e-3, 'at the reference, -log σ(0)');
  assert.ok(metrics[3]!.margin > 0.05, `margin after 3 updates: ${metrics[3]!.margin}`);
  assert.ok(metrics[3]!.loss < metrics[0]!.loss, 'DPO loss goes down');
  assert.ok(metrics[3]!.accuracy >= 0.5);
});

test('blocking-style trains with result() from a separate process', async () => {
  // result() blocks its thread, so the loop runs in a child process while this one serves.
  const script = fileURLToPath(new URL('./blocking-style.js', import.meta.url));
  const code = `const { main } = await import(process.env.EXAMPLE_SCRIPT);
    const r = await main({ steps: 6, learningRate: 3e-3, log: () => {} });
    process.stdout.write(JSON.stringify(r));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, EXAMPLE_SCRIPT: script, TINKER_BASE_URL: server.url, TINKER_API_KEY: 'tml-examples-test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code_ = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code_, 0, err);
  const result = JSON.parse(out) as { losses: number[]; statePath: string };
  assert.equal(result.losses.length, 6);
  assert.ok(result.losses[5]! < result.losses[0]! - 0.5, `loss ${result.losses[0]} → ${result.losses[5]}`);
  assert.match(result.statePath, /^tinker:\/\/.+\/weights\/blocking-final$/);
});

test('demo: held-out NLL drops and the checkpoint path is printed', async () => {
  let printed = '';
  const stream = { isTTY: false, write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WriteStream;
  const result = await demo({ steps: 30, learningRate: 3e-3, sampledPrompts: 4, client, stream });
  assert.ok(result.after.nllPerToken < result.before.nllPerToken - 6, `${result.before.nllPerToken} → ${result.after.nllPerToken}`);
  assert.equal(result.before.formatMatch, 0, 'the untrained stand-in does not write the format');
  assert.match(result.checkpointPath, /^tinker:\/\/.+\/weights\/demo-final$/);
  assert.ok(printed.includes(result.checkpointPath));
  assert.match(printed, /step 30\/30 {2}loss \d+\.\d{3} {2}\d+ tok\/s/);
});
