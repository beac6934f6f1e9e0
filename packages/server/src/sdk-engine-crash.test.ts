/**
 * The SDK across a crash of the engine alone: the calls in flight fail with a
 * RequestFailedError of category "server" saying the engine restarted, and the same training
 * client then goes on — the model was rebuilt from its checkpoint, exactly.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Datum, RequestFailedError, ServiceClient, type ForwardBackwardOutput } from '@tinker-ts/sdk';
import { E2E_API_KEY, E2E_MODEL } from './e2e-testkit.js';
import { startServer, type RunningServer } from './server.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-sdk-engine-crash-'));
let server: RunningServer | undefined;
let sc: ServiceClient | undefined;

after(async () => {
  await sc?.close();
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function logprobs(out: ForwardBackwardOutput): number[] {
  return out.lossFnOutputs.flatMap((o) => o['logprobs']!.toArray());
}

function restartFailure(e: unknown): boolean {
  assert.ok(e instanceof RequestFailedError, `got ${String(e)}`);
  assert.equal(e.category, 'server');
  assert.match(e.message, /the engine restarted/);
  return true;
}

test('after the engine is killed, in-flight calls fail as the server\'s fault and the training client goes on', async () => {
  server = await startServer({ dataDir, port: 0, settings: { longPollMs: 2_000 }, engineRestarts: { backoffMs: [50] } });
  sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY, timing: { backoffUnitMs: 50 } });
  const data = [Datum.fromTokens([1, 2, 3, 4, 5, 6]), Datum.fromTokens([9, 8, 7, 6])];
  const tc = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 1 });
  await tc.forwardBackward(data, 'cross_entropy');
  await tc.optimStep({ learningRate: 1e-2 });
  await tc.saveState('before-crash');
  const want = logprobs(await tc.forward(data, 'cross_entropy'));

  // A long sample keeps the engine busy; the training step waits behind it in the engine.
  const sampler = await sc.createSamplingClient({ baseModel: E2E_MODEL });
  const sample = sampler.sample({ prompt: [1, 2, 3], numSamples: 8, samplingParams: { maxTokens: 2000, temperature: 1 } });
  const step = tc.forwardBackward(data, 'cross_entropy');
  await new Promise((r) => setTimeout(r, 300));
  process.kill(server.engine.pid!, 'SIGKILL');
  await assert.rejects(sample.resultAsync(30_000), restartFailure);
  await assert.rejects(step.resultAsync(30_000), restartFailure);

  // Retried as new calls, they work, on exactly the saved state.
  assert.deepEqual(logprobs(await tc.forward(data, 'cross_entropy').resultAsync(30_000)), want);
  await tc.forwardBackward(data, 'cross_entropy');
  await tc.optimStep({ learningRate: 1e-2 });
  const out = await sampler.sample({ prompt: [1, 2, 3], samplingParams: { maxTokens: 3 } });
  assert.equal(out.sequences.length, 1);
});
