/**
 * The SDK against this server over real HTTP, awaiting every future (server in this process):
 * the whole local-server flow, custom losses, chunked batches, call ordering under
 * concurrency, and how bad input and cancellation surface.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIError,
  APIUserAbortError,
  BadRequestError,
  Datum,
  NotFoundError,
  RequestFailedError,
  ServiceClient,
  TensorData,
  TimeoutError,
  ValidationError,
  differentiable,
  dpoLoss,
  evaluateCustomLoss,
  sequenceLogprob,
  type CustomLossFn,
  type ForwardBackwardOutput,
  type TrainingClient,
} from '@tinker-ts/sdk';
import type { RunningServer } from './server.js';
import { E2E_API_KEY, E2E_MODEL, e2eBatch, maxAbsDiff, runLocalServerFlow, startClientConfigProxy, startInProcessServer, type InProcessServer } from './e2e-testkit.js';

let server: RunningServer;
let dataDir: string;
let sc: ServiceClient;

let env: InProcessServer | undefined;

before(async () => {
  env = await startInProcessServer('tinker-e2e-await-');
  ({ server, dataDir, sc } = env);
});

after(async () => {
  await env?.close();
});

function logprobs(out: ForwardBackwardOutput): number[][] {
  return out.lossFnOutputs.map((o) => o['logprobs']!.toArray());
}

function newModel(client: ServiceClient = sc, seed = 5): Promise<TrainingClient> {
  return client.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed }).then((tc) => tc);
}

test('the local-server flow runs end to end with await', async (t) => {
  const report = await runLocalServerFlow(sc, (f) => f, false);
  t.diagnostic(`losses ${report.losses.map((l) => l.toFixed(3)).join(' → ')}; resume diff ${report.resumeDiff.toExponential(2)}; prompt logprob diff ${report.promptLogprobDiff.toExponential(2)}`);
  assert.ok(report.losses.at(-1)! < report.losses[0]!);
});

/** Chosen/rejected completions after a shared prompt; the weights mask the completion tokens. */
function preferencePairs(): Datum[] {
  const prompt = [7, 8, 9];
  const make = (completion: number[]) =>
    Datum.fromTokens([...prompt, ...completion], [...prompt.map(() => 0), ...completion.map(() => 1)]);
  return [make([40, 41, 42]), make([50, 51, 52]), make([60, 61]), make([70, 71, 72, 73])];
}

/** DPO over pairs (0,1), (2,3) with fixed reference logprobs. */
const dpo: CustomLossFn = differentiable((data, lps) => {
  const seq = (i: number) => sequenceLogprob(lps[i]!, data[i]!.lossFnInputs['weights']!.toArray());
  return dpoLoss(
    [
      { chosen: seq(0), rejected: seq(1), refChosen: -30, refRejected: -31 },
      { chosen: seq(2), rejected: seq(3), refChosen: -20, refRejected: -22 },
    ],
    0.5,
  );
});

test('forwardBackwardCustom with a DPO loss trains exactly like cross_entropy with weights = -dLoss/dlogprobs', async () => {
  const data = preferencePairs();
  const [custom, reference] = await Promise.all([newModel(sc, 11), newModel(sc, 11)]);

  // The gradient the custom loss should produce, from the same weights' logprobs.
  const before = logprobs(await reference.forward(data, 'cross_entropy'));
  const expected = evaluateCustomLoss(dpo, data, before.map((lp) => Float32Array.from(lp)));
  const referenceData = data.map(
    (d, i) => d.withLossFnInputs({ weights: TensorData.float32(Array.from(expected.grads[i]!, (g) => -g)) }),
  );

  const out = await custom.forwardBackwardCustom(data, dpo);
  assert.ok(Number.isFinite(out.metrics['dpo_margin:mean']), 'the loss function metrics are merged in');
  assert.equal(out.metrics['dpo_accuracy:mean'], expected.metrics['dpo_accuracy:mean']);
  assert.equal(out.lossFnOutputs.length, data.length);
  logprobs(out).forEach((lp, i) => assert.ok(maxAbsDiff(lp, before[i]!) <= 1e-5, 'outputs are the forward logprobs in datum order'));
  // The backward pass's loss is cross_entropy with weights = -g: -Σ (-g)·logprob.
  const ceLoss = before.reduce((acc, lp, i) => acc + lp.reduce((a, x, k) => a + expected.grads[i]![k]! * x, 0), 0);
  assert.ok(Math.abs(out.metrics['loss:sum']! - ceLoss) < 1e-3, `loss:sum ${out.metrics['loss:sum']} vs ${ceLoss}`);

  await reference.forwardBackward(referenceData, 'cross_entropy');
  await Promise.all([custom.optimStep({ learningRate: 1e-2 }), reference.optimStep({ learningRate: 1e-2 })]);
  const a = logprobs(await custom.forward(data, 'cross_entropy'));
  const b = logprobs(await reference.forward(data, 'cross_entropy'));
  let diff = 0;
  a.forEach((lp, i) => (diff = Math.max(diff, maxAbsDiff(lp, b[i]!))));
  assert.ok(diff <= 1e-5, `same update (max logprob diff ${diff})`);
  assert.ok(maxAbsDiff(a.flat(), before.flat()) > 1e-3, 'the step changed the model');
  // The DPO margin grew: the step went downhill on the custom loss.
  const after = evaluateCustomLoss(dpo, data, a.map((lp) => Float32Array.from(lp)));
  assert.ok(after.loss < expected.loss, `DPO loss falls: ${expected.loss} → ${after.loss}`);
  await Promise.all([custom.unload(), reference.unload()]);
});

test('a batch split into chunks by the server config gives the unchunked outputs in datum order, metrics merged', async () => {
  const proxy = await startClientConfigProxy(server.url, { fwdbwd_max_chunk_len: 2 });
  const viaProxy = new ServiceClient({ baseURL: proxy.url, apiKey: E2E_API_KEY });
  try {
    const data = [...e2eBatch(), ...preferencePairs()]; // 6 datums → 3 chunks
    const [small, whole] = await Promise.all([newModel(viaProxy, 21), newModel(sc, 21)]);
    const [outChunked, outWhole] = await Promise.all([small.forwardBackward(data, 'cross_entropy'), whole.forwardBackward(data, 'cross_entropy')]);
    assert.equal(proxy.requestCounts.get('/api/v1/forward_backward'), 3, 'six datums at two per chunk: three requests');
    assert.equal(outChunked.lossFnOutputs.length, data.length);
    logprobs(outChunked).forEach((lp, i) => {
      assert.equal(lp.length, data[i]!.lossFnInputs['target_tokens']!.size, `datum ${i} keeps its place`);
      assert.ok(maxAbsDiff(lp, logprobs(outWhole)[i]!) <= 1e-5);
    });
    assert.ok(Math.abs(outChunked.metrics['loss:sum']! - outWhole.metrics['loss:sum']!) < 1e-3, 'loss:sum adds up over chunks');
    // Gradients of every chunk accumulate into one step.
    await Promise.all([small.optimStep({ learningRate: 1e-2 }), whole.optimStep({ learningRate: 1e-2 })]);
    const [a, b] = await Promise.all([small.forward(data, 'cross_entropy'), whole.forward(data, 'cross_entropy')]);
    logprobs(a).forEach((lp, i) => assert.ok(maxAbsDiff(lp, logprobs(b)[i]!) <= 1e-5, 'same step after chunked accumulation'));
    // A custom loss over chunks: forward chunks, then backward chunks, same result as one request.
    const before = proxy.requestCounts.get('/api/v1/forward_backward')!;
    const [customChunked, customWhole] = await Promise.all([small.forwardBackwardCustom(preferencePairs(), dpo), whole.forwardBackwardCustom(preferencePairs(), dpo)]);
    assert.equal(proxy.requestCounts.get('/api/v1/forward_backward')! - before, 4, 'four datums: two forward and two backward chunks');
    assert.ok(maxAbsDiff(logprobs(customChunked).flat(), logprobs(customWhole).flat()) <= 1e-5);
    assert.ok(Math.abs(customChunked.metrics['dpo_margin:mean']! - customWhole.metrics['dpo_margin:mean']!) < 1e-5);
    assert.ok(Math.abs(customChunked.metrics['loss:sum']! - customWhole.metrics['loss:sum']!) < 1e-4);
    await Promise.all([small.unload(), whole.unload()]);
  } finally {
    await viaProxy.close();
    await proxy.close();
  }
});

test('calls submitted without awaiting run in call order', async () => {
  const data = e2eBatch();
  const [concurrent, sequential] = await Promise.all([newModel(sc, 31), newModel(sc, 31)]);
  const steps = 3;
  const pending: Array<PromiseLike<unknown>> = [];
  for (let i = 0; i < steps; i++) {
    pending.push(concurrent.forward(data, 'cross_entropy'));
    pending.push(concurrent.forwardBackward(data, 'cross_entropy'));
    pending.push(concurrent.optimStep({ learningRate: 1e-2 }));
  }
  pending.push(concurrent.forward(data, 'cross_entropy'));
  const results = await Promise.all(pending);

  const expected: unknown[] = [];
  for (let i = 0; i < steps; i++) {
    expected.push(await sequential.forward(data, 'cross_entropy'));
    expected.push(await sequential.forwardBackward(data, 'cross_entropy'));
    expected.push(await sequential.optimStep({ learningRate: 1e-2 }));
  }
  expected.push(await sequential.forward(data, 'cross_entropy'));
  results.forEach((r, i) => {
    if (i % 3 === 2 && i < steps * 3) return; // optim_step results
    const got = logprobs(r as ForwardBackwardOutput).flat();
    const want = logprobs(expected[i] as ForwardBackwardOutput).flat();
    assert.ok(maxAbsDiff(got, want) <= 1e-5, `call ${i} saw the same model state as in sequential order`);
  });
  // And training actually happened in between.
  const firstLoss = (results[0] as ForwardBackwardOutput).metrics['loss:sum']!;
  const lastLoss = (results.at(-1) as ForwardBackwardOutput).metrics['loss:sum']!;
  assert.ok(lastLoss < firstLoss, `loss falls across the concurrent steps: ${firstLoss} → ${lastLoss}`);
  // A custom loss takes its backward pass's seq_ids at call time: the step called after it waits for it.
  const pairs = preferencePairs();
  const customFirst = concurrent.forwardBackwardCustom(pairs, dpo);
  const stepAfter = concurrent.optimStep({ learningRate: 1e-2 });
  const seen = concurrent.forward(pairs, 'cross_entropy');
  await Promise.all([customFirst, stepAfter]);
  await sequential.forwardBackwardCustom(pairs, dpo);
  await sequential.optimStep({ learningRate: 1e-2 });
  assert.ok(maxAbsDiff(logprobs(await seen).flat(), logprobs(await sequential.forward(pairs, 'cross_entropy')).flat()) <= 1e-5);
  await Promise.all([concurrent.unload(), sequential.unload()]);
});

test('sampler weights taken between concurrent steps see exactly the steps before them', async () => {
  const data = e2eBatch();
  const tokens = [11, 22, 33, 44, 55, 66, 77, 88];
  const [tc, twin] = await Promise.all([newModel(sc, 71), newModel(sc, 71)]);
  const fb1 = tc.forwardBackward(data, 'cross_entropy');
  const step1 = tc.optimStep({ learningRate: 1e-2 });
  const liveAfterOne = tc.saveWeightsAndGetSamplingClient();
  const savedAfterOne = tc.saveWeightsForSampler('after-one');
  const fb2 = tc.forwardBackward(data, 'cross_entropy');
  const step2 = tc.optimStep({ learningRate: 1e-2 });
  await Promise.all([fb1, step1, fb2, step2]);
  // The twin takes one step only: the state both sampler weights should hold.
  await twin.forwardBackward(data, 'cross_entropy');
  await twin.optimStep({ learningRate: 1e-2 });
  const want = logprobs(await twin.forward([Datum.fromTokens(tokens)], 'cross_entropy'))[0]!;
  const now = logprobs(await tc.forward([Datum.fromTokens(tokens)], 'cross_entropy'))[0]!;
  assert.ok(maxAbsDiff(now, want) > 1e-3, 'the second step changed the model');
  const live = await (await liveAfterOne).computeLogprobs(tokens);
  assert.ok(maxAbsDiff(live.slice(1) as number[], want) <= 1e-4, 'the live sampler holds the weights after one step');
  const saved = await (await sc.createSamplingClient({ modelPath: (await savedAfterOne).path })).computeLogprobs(tokens);
  assert.ok(maxAbsDiff(saved.slice(1) as number[], want) <= 1e-4, 'the saved sampler weights hold the weights after one step');
  await Promise.all([tc.unload(), twin.unload()]);
});

test('publishing lets another user load and sample a checkpoint; unpublishing takes it back', async () => {
  const other = new ServiceClient({ baseURL: server.url, apiKey: 'tml-e2e-other-user' });
  try {
    const tc = await newModel(sc, 81);
    const [weights, sampler] = await Promise.all([tc.saveState('shared'), tc.saveWeightsForSampler('shared')]);
    const rest = sc.createRestClient();
    await assert.rejects(other.createTrainingClientFromState(weights.path).future(), NotFoundError);
    await assert.rejects(other.createSamplingClient({ modelPath: sampler.path }).future(), NotFoundError);
    await Promise.all([rest.publishCheckpoint(weights.path), rest.publishCheckpoint(sampler.path)]);
    const theirs = await other.createTrainingClientFromState(weights.path);
    const tokens = [3, 1, 4, 1, 5, 9];
    const mine = logprobs(await tc.forward([Datum.fromTokens(tokens)], 'cross_entropy'))[0]!;
    assert.ok(maxAbsDiff(logprobs(await theirs.forward([Datum.fromTokens(tokens)], 'cross_entropy'))[0]!, mine) <= 1e-4);
    const theirSampler = await other.createSamplingClient({ modelPath: sampler.path });
    assert.ok(maxAbsDiff((await theirSampler.computeLogprobs(tokens)).slice(1) as number[], mine) <= 1e-4);
    // Reading is all they get.
    await assert.rejects(other.createRestClient().deleteCheckpoint(weights.path).future(), NotFoundError);
    await rest.unpublishCheckpoint(weights.path);
    await assert.rejects(other.createTrainingClientFromState(weights.path).future(), NotFoundError);
    await Promise.all([tc.unload(), theirs.unload()]);
  } finally {
    await other.close();
  }
});

test('bad input is refused on the client, naming the field, before anything is sent', async () => {
  const tc = await newModel(sc, 41);
  const short = new Datum({
    modelInput: [1, 2, 3, 4],
    lossFnInputs: { target_tokens: TensorData.int64([2, 3, 4, 5]), weights: TensorData.float32([1, 1, 1]) },
  });
  // Thrown synchronously by the call itself: no future, so no request.
  assert.throws(() => tc.forwardBackward([short], 'cross_entropy'), (e: unknown) => e instanceof ValidationError && /weights/.test(e.field ?? '') && /weights/.test(e.message));
  assert.throws(() => tc.forward(e2eBatch(), 'no_such_loss' as never), (e: unknown) => e instanceof ValidationError && /loss_fn/.test(e.field ?? ''));
  const floatTargets = new Datum({
    modelInput: [1, 2, 3],
    lossFnInputs: { target_tokens: TensorData.float32([2, 3, 4]), weights: TensorData.float32([1, 1, 1]) },
  });
  assert.throws(() => tc.forward([floatTargets], 'cross_entropy'), (e: unknown) => e instanceof ValidationError && /target_tokens/.test(e.field ?? ''));
  // The model is untouched and still answers in order after the refused calls.
  const out = await tc.forward(e2eBatch(), 'cross_entropy');
  assert.equal(out.lossFnOutputs.length, 2);
  await tc.unload();
});

test('a token id outside the vocabulary fails on the server as a user error', async () => {
  const tc = await newModel(sc, 42);
  const bad = Datum.fromTokens([1, 2, 151_936 + 5, 4]);
  await assert.rejects(tc.forward([bad], 'cross_entropy').future(), (e: unknown) => {
    assert.ok(e instanceof RequestFailedError, `got ${String(e)}`);
    assert.equal(e.category, 'user');
    assert.match(e.message, /151941|vocab/i);
    return true;
  });
  // The model carries on.
  assert.equal((await tc.forward(e2eBatch(), 'cross_entropy')).lossFnOutputs.length, 2);
  await tc.unload();
});

test('an unknown base model is a 4xx API error', async () => {
  await assert.rejects(sc.createLoraTrainingClient({ baseModel: 'nobody/no-such-model', rank: 4 }).future(), (e: unknown) => {
    assert.ok(e instanceof APIError, `got ${String(e)}`);
    assert.ok(e instanceof BadRequestError || (e.status! >= 400 && e.status! < 500), `status ${e.status}`);
    assert.match(e.message, /no-such-model/);
    return true;
  });
});

test('a result timeout leaves the future valid, and it later succeeds', async () => {
  const tc = await newModel(sc, 43);
  const f = tc.forward(e2eBatch(), 'cross_entropy');
  await assert.rejects(f.resultAsync(1), TimeoutError);
  const out = await f.resultAsync(60_000);
  assert.equal(out.lossFnOutputs.length, 2);
  await tc.unload();
});

test('an aborted call rejects with APIUserAbortError and later calls still run', async () => {
  const tc = await newModel(sc, 44);
  const controller = new AbortController();
  const f = tc.forward(e2eBatch(), 'cross_entropy', undefined, { signal: controller.signal });
  controller.abort();
  await assert.rejects(f.future(), APIUserAbortError);
  const next = await tc.forward(e2eBatch(), 'cross_entropy').resultAsync(30_000);
  assert.equal(next.lossFnOutputs.length, 2);
  // Aborted while waiting for the result (the request already reached the server).
  const late = new AbortController();
  const polling = tc.forwardBackward(e2eBatch(), 'cross_entropy', undefined, { signal: late.signal });
  setTimeout(() => late.abort(), 20);
  await assert.rejects(polling.future(), APIUserAbortError);
  // A per-call timeout too short to get anything done.
  await assert.rejects(tc.forward(e2eBatch(), 'cross_entropy', undefined, { timeoutMs: 1 }).future(), (e: unknown) => e instanceof APIError);
  // An aborted custom-loss call: its backward pass never goes out, yet its seq_ids are filled.
  const custom = new AbortController();
  const customCall = tc.forwardBackwardCustom(preferencePairs(), dpo, { signal: custom.signal });
  custom.abort();
  await assert.rejects(customCall.future(), APIUserAbortError);
  const last = await tc.forward(e2eBatch(), 'cross_entropy').resultAsync(30_000);
  assert.equal(last.lossFnOutputs.length, 2);
  await tc.unload();
});

test('a base-model sampling client gives the logprobs of a fresh LoRA model, and many samples in flight all finish', async () => {
  const tokens = [5, 6, 7, 8, 9, 10];
  const [tc, base] = await Promise.all([newModel(sc, 51), sc.createSamplingClient({ baseModel: E2E_MODEL })]);
  const train = logprobs(await tc.forward([Datum.fromTokens(tokens)], 'cross_entropy'))[0]!;
  const lp = await base.computeLogprobs(tokens);
  assert.ok(maxAbsDiff(lp.slice(1) as number[], train) <= 1e-4, 'a fresh adapter does not change the base model');
  const many = await Promise.all(
    Array.from({ length: 6 }, (_, i) => base.sample({ prompt: tokens, numSamples: 2, samplingParams: { maxTokens: 3, seed: i } })),
  );
  for (const r of many) assert.equal(r.sequences.length, 2);
  const again = await base.sample({ prompt: tokens, numSamples: 2, samplingParams: { maxTokens: 3, seed: 0 } });
  assert.deepEqual(again.sequences.map((q) => q.tokens), many[0]!.sequences.map((q) => q.tokens), 'seeded samples repeat');
  assert.notDeepEqual(many[1]!.sequences.map((q) => q.tokens), many[0]!.sequences.map((q) => q.tokens), 'another seed, other samples');
  await tc.unload();
});

test('loading without the optimizer restores the weights but restarts Adam', async () => {
  const data = e2eBatch();
  const tc = await newModel(sc, 61);
  for (let i = 0; i < 2; i++) {
    await tc.forwardBackward(data, 'cross_entropy');
    await tc.optimStep({ learningRate: 1e-2 });
  }
  const { path: saved } = await tc.saveState('adam-test');
  const [plain, withAdam] = await Promise.all([sc.createTrainingClientFromState(saved), sc.createTrainingClientFromStateWithOptimizer(saved)]);
  const at = logprobs(await tc.forward(data, 'cross_entropy')).flat();
  assert.ok(maxAbsDiff(logprobs(await plain.forward(data, 'cross_entropy')).flat(), at) <= 1e-4, 'same weights');
  const stepped: number[][] = [];
  for (const client of [tc, plain, withAdam]) {
    await client.forwardBackward(data, 'cross_entropy');
    await client.optimStep({ learningRate: 1e-2 });
    stepped.push(logprobs(await client.forward(data, 'cross_entropy')).flat());
  }
  assert.ok(maxAbsDiff(stepped[2]!, stepped[0]!) <= 1e-4, 'with the optimizer: the same next step');
  assert.ok(maxAbsDiff(stepped[1]!, stepped[0]!) > 1e-3, 'without it: a different next step (fresh Adam moments)');
  await Promise.all([tc.unload(), plain.unload(), withAdam.unload()]);
});
