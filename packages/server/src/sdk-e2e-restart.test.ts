/**
 * The SDK across a server crash (SIGKILL, restart on the same port and data dir): requests in
 * flight end instead of hanging, the lost model says so and names its last checkpoint, and
 * training resumes exactly from that checkpoint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Datum, RequestFailedError, ServiceClient, type ForwardBackwardOutput } from '@tinker-ts/sdk';
import { E2E_API_KEY, E2E_MODEL, maxAbsDiff, startChildServer, type ChildServer } from './e2e-testkit.js';

let server: ChildServer;
let sc: ServiceClient;

before(async () => {
  server = await startChildServer({ settings: { longPollMs: 2_000 } });
  // Short backoffs: the SDK retries through the seconds the server is down.
  sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY, timing: { backoffUnitMs: 50 } });
});

after(async () => {
  await sc?.close();
  await server?.close();
});

function logprobs(out: ForwardBackwardOutput): number[] {
  return out.lossFnOutputs.flatMap((o) => o['logprobs']!.toArray());
}

test('after a crash the lost model names its checkpoint, and training resumes from it exactly', async () => {
  const data = [Datum.fromTokens([1, 2, 3, 4, 5, 6]), Datum.fromTokens([9, 8, 7, 6])];
  const tc = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 1 });
  await tc.forwardBackward(data, 'cross_entropy');
  await tc.optimStep({ learningRate: 1e-2 });
  const saved = await tc.saveState('before-crash');
  const want = logprobs(await tc.forward(data, 'cross_entropy'));
  // Work in flight when the server dies either finished before it did or fails; it never hangs.
  const inFlight = tc.forwardBackward(data, 'cross_entropy');
  await server.crashAndRestart();
  await inFlight.resultAsync(30_000).then(
    (out) => assert.equal(out.lossFnOutputs.length, 2),
    (e: unknown) => assert.ok(e instanceof RequestFailedError, `got ${String(e)}`),
  );

  await assert.rejects(tc.forward(data, 'cross_entropy').resultAsync(30_000), (e: unknown) => {
    assert.ok(e instanceof RequestFailedError, `got ${String(e)}`);
    assert.equal(e.category, 'user');
    assert.match(e.message, /restarted/);
    assert.ok(e.message.includes(saved.path), 'names the checkpoint to resume from');
    return true;
  });

  const resumed = await sc.createTrainingClientFromStateWithOptimizer(saved.path).resultAsync(30_000);
  assert.ok(maxAbsDiff(logprobs(await resumed.forward(data, 'cross_entropy')), want) <= 1e-4, 'the checkpoint survived the crash');
  await resumed.forwardBackward(data, 'cross_entropy');
  await resumed.optimStep({ learningRate: 1e-2 });
  const runs = (await sc.createRestClient().listTrainingRuns()).items.map((r) => r.trainingRunId);
  assert.ok(runs.includes(tc.modelId) && runs.includes(resumed.modelId), 'both runs are listed after the restart');
  await resumed.unload();
});
