/**
 * The SDK against this server over real HTTP in blocking style: every future is waited on with
 * `result()`, which stops this thread's event loop, so the server runs in a child process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIError,
  Datum,
  RequestFailedError,
  ServiceClient,
  TimeoutError,
  ValidationError,
  differentiable,
  dpoLoss,
  evaluateCustomLoss,
  sequenceLogprob,
  type ForwardBackwardOutput,
  type TrainingClient,
} from '@tinker-ts/sdk';
import { E2E_API_KEY, E2E_MODEL, e2eBatch, maxAbsDiff, runLocalServerFlow, startChildServer, type ChildServer } from './e2e-testkit.js';

let server: ChildServer;
let sc: ServiceClient;

before(async () => {
  // The other side of each client/config choice than the await-style test: zstd request
  // bodies, results announced as metadata first, and resuming via create_model + load_weights.
  server = await startChildServer({
    settings: { longPollMs: 2_000, compressForwardBackward: true, metadataOnlyThresholdBytes: 256, createModelViaLoadWeights: false },
  });
  const config = (await (await fetch(`${server.url}/api/v1/client/config`, { headers: { 'X-API-Key': E2E_API_KEY } })).json()) as Record<string, unknown>;
  assert.equal(config['proto_compress_fwdbwd'], true);
  assert.equal(config['create_model_via_load_weights'], false);
  sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY });
});

after(async () => {
  await sc?.close();
  await server?.close();
});

function logprobs(out: ForwardBackwardOutput): number[][] {
  return out.lossFnOutputs.map((o) => o['logprobs']!.toArray());
}

function newModel(seed: number): TrainingClient {
  return sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed }).result();
}

test('the local-server flow runs end to end with blocking result()', async (t) => {
  const report = await runLocalServerFlow(sc, (f) => f.result(), true);
  t.diagnostic(`losses ${report.losses.map((l) => l.toFixed(3)).join(' → ')}; resume diff ${report.resumeDiff.toExponential(2)}; prompt logprob diff ${report.promptLogprobDiff.toExponential(2)}`);
  assert.ok(report.losses.at(-1)! < report.losses[0]!);
});

test('result(timeoutMs) times out, leaves the future valid, and later returns the result', () => {
  const tc = newModel(7);
  const f = tc.forwardBackward(e2eBatch(), 'cross_entropy');
  assert.throws(() => f.result(1), TimeoutError);
  const out = f.result(60_000);
  assert.equal(out.lossFnOutputs.length, 2);
  assert.ok(f.done());
  tc.unload().result();
});

test('futures collected without waiting, then blocked on, keep call order', () => {
  const data = e2eBatch();
  const tc = newModel(8);
  const first = tc.forward(data, 'cross_entropy');
  const fb = tc.forwardBackward(data, 'cross_entropy');
  const step = tc.optimStep({ learningRate: 1e-2 });
  const after = tc.forward(data, 'cross_entropy');
  // Blocking on the last first: it must still see the step taken before it.
  const afterOut = after.result();
  step.result();
  const fbOut = fb.result();
  const firstOut = first.result();
  assert.ok(maxAbsDiff(logprobs(fbOut).flat(), logprobs(firstOut).flat()) <= 1e-5, 'forward_backward ran before the step');
  assert.ok(afterOut.metrics['loss:sum']! < firstOut.metrics['loss:sum']!, 'the last forward ran after the step');
  tc.unload().result();
});

test('forwardBackwardCustom blocks to its result and its gradient trains the model', () => {
  const tc = newModel(10);
  const data = [Datum.fromTokens([1, 2, 3, 4]), Datum.fromTokens([1, 2, 5, 6])];
  // DPO on one pair: prefer the first continuation.
  const loss = differentiable((_d, lps) =>
    dpoLoss([{ chosen: sequenceLogprob(lps[0]!), rejected: sequenceLogprob(lps[1]!), refChosen: -20, refRejected: -20 }], 0.5),
  );
  const before = evaluateCustomLoss(loss, data, logprobs(tc.forward(data, 'cross_entropy').result()).map((lp) => Float32Array.from(lp)));
  const out = tc.forwardBackwardCustom(data, loss).result();
  assert.ok(Math.abs(out.metrics['dpo_margin:mean']! - before.metrics['dpo_margin:mean']!) < 1e-4, 'metrics of the loss at the current weights');
  tc.optimStep({ learningRate: 1e-2 }).result();
  const after = evaluateCustomLoss(loss, data, logprobs(tc.forward(data, 'cross_entropy').result()).map((lp) => Float32Array.from(lp)));
  assert.ok(after.loss < before.loss, `DPO loss falls: ${before.loss} → ${after.loss}`);
  tc.unload().result();
});

test('errors surface from result(): client validation, server user errors, unknown models', () => {
  const tc = newModel(9);
  assert.throws(
    () => tc.forward([Datum.fromTokens([1, 2, 3])], 'importance_sampling').result(),
    (e: unknown) =>
      e instanceof ValidationError &&
      e.field === 'data[0].loss_fn_inputs.logprobs' &&
      e.message === 'data[0].loss_fn_inputs.logprobs: loss importance_sampling requires loss_fn_inputs.logprobs',
  );
  assert.throws(
    () => tc.forward([Datum.fromTokens([1, 2, 999_999])], 'cross_entropy').result(),
    (e: unknown) => e instanceof RequestFailedError && e.category === 'user',
  );
  assert.throws(
    () => sc.createLoraTrainingClient({ baseModel: 'nobody/no-such-model', rank: 4 }).result(),
    (e: unknown) => e instanceof APIError && e.status !== undefined && e.status >= 400 && e.status < 500,
  );
  assert.equal(tc.forward(e2eBatch(), 'cross_entropy').result().lossFnOutputs.length, 2, 'the model carries on');
  tc.unload().result();
});
