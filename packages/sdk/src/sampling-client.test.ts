import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeLogprob } from './fake-tinker.testkit.js';
import { connectFakeTinker, validationFieldOf } from './fake-tinker-client.testkit.js';
import { ModelInput } from './model-input.js';

test('sample sends the request of the official SDK and returns camelCase sequences', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const sc = await service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' });
  assert.equal(sc.samplingSessionId, 'sess-1:sample:0');
  const res = await sc.sample({ prompt: ModelInput.fromInts([10, 11, 12]), numSamples: 2, samplingParams: { maxTokens: 3, temperature: 0.7, stop: ['\n'] } });
  assert.equal(res.sequences.length, 2);
  assert.deepEqual(res.sequences[0]!.tokens, [13, 14, 15]);
  assert.deepEqual(res.sequences[1]!.tokens, [14, 15, 16]);
  assert.deepEqual(res.sequences[0]!.logprobs, [13, 14, 15].map((x) => Math.fround(fakeLogprob(x))));
  assert.equal(res.sequences[0]!.stopReason, 'length');
  await sc.sample({ prompt: [1, 2] });
  const bodies = (await peer.log('asample')).map((r) => r.body);
  assert.deepEqual(bodies[0], {
    sampling_session_id: 'sess-1:sample:0',
    seq_id: 0,
    num_samples: 2,
    prompt: { chunks: [{ type: 'encoded_text', tokens: [10, 11, 12] }] },
    sampling_params: { temperature: 0.7, top_k: -1, top_p: 1, max_tokens: 3, stop: ['\n'] },
    prompt_logprobs: false,
    topk_prompt_logprobs: 0,
    topk_sample_logprobs: 0,
    type: 'sample',
  });
  assert.equal(bodies[1].seq_id, 1, 'seq_ids count up per sampling client');
  const create = (await peer.log('create_sampling_session'))[0]!.body;
  assert.deepEqual(create, { session_id: 'sess-1', sampling_session_seq_id: 0, base_model: 'Qwen/Qwen3-8B', type: 'create_sampling_session' });
});

test('computeLogprobs is a one-token sample with prompt logprobs', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const sc = await service.createSamplingClient({ modelPath: 'tinker://run-0/sampler_weights/s' });
  const lps = sc.computeLogprobs([3, 4, 5]).result(10_000);
  assert.deepEqual(lps, [null, Math.fround(fakeLogprob(4)), Math.fround(fakeLogprob(5))]);
  const body = (await peer.log('asample'))[0]!.body;
  assert.equal(body.num_samples, 1);
  assert.equal(body.sampling_params.max_tokens, 1);
  assert.equal(body.prompt_logprobs, true);
});

test('no more than sample_max_concurrent_requests samples are in flight', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { config: { sample_max_concurrent_requests: 2 }, sampleDelayMs: 100 });
  const sc = await service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const results = await Promise.all(Array.from({ length: 5 }, (_, i) => sc.sample({ prompt: [i + 1], samplingParams: { maxTokens: 1 } })));
  assert.deepEqual(results.map((r) => r.sequences[0]!.tokens[0]), [2, 3, 4, 5, 6]);
  const arrivals = await peer.log('asample');
  assert.equal(arrivals.length, 5);
  assert.ok(arrivals.every((r) => (r.samplesInFlight ?? 0) < 2), `in flight at arrival: ${arrivals.map((r) => r.samplesInFlight)}`);
});

test('queued samples also complete when waited on with blocking result()', async (t) => {
  const { service } = await connectFakeTinker(t, { config: { sample_max_concurrent_requests: 1 }, sampleDelayMs: 30 });
  const sc = service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' }).result(10_000);
  const futures = [1, 2, 3].map((p) => sc.sample({ prompt: [p], samplingParams: { maxTokens: 1 } }));
  assert.deepEqual(futures.reverse().map((f) => f.result(10_000).sequences[0]!.tokens), [[4], [3], [2]]);
});

test('base model and tokenizer of a sampling session', async (t) => {
  const { service } = await connectFakeTinker(t);
  const sc = await service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' });
  assert.equal(await sc.getBaseModel(), 'Qwen/Qwen3-8B');
  const tok = await sc.getTokenizer();
  assert.deepEqual(tok.encode('Hello'), [9707]);
});

test('bad sampling input is rejected naming the field', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const sc = await service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' });
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1], numSamples: 0 })), 'num_samples');
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1], samplingParams: { temperature: -1 } })), 'sampling_params.temperature');
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1], samplingParams: { topP: 0 } })), 'sampling_params.top_p');
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [] })), 'prompt');
  assert.equal(validationFieldOf(() => service.createSamplingClient({ modelPath: '' })), 'model_path');
  assert.equal(validationFieldOf(() => service.createSamplingClient({} as never)), 'model_path');
  assert.equal((await peer.log('asample')).length, 0);
});

test('sampler paths in other servers\' forms go to the server as they are, as the official SDK sends them', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  // SkyRL tx answers save_weights_for_sampler with tinker://<run>/<name>; other servers may use other forms.
  for (const modelPath of ['tinker://run-0/final', 'run-0/sampler_weights/s', 'tinker://run 1/sampler_weights/a b']) {
    const sc = await service.createSamplingClient({ modelPath });
    const out = await sc.sample({ prompt: [3], samplingParams: { maxTokens: 2 } });
    assert.equal(out.sequences.length, 1, modelPath);
  }
  assert.deepEqual((await peer.log('create_sampling_session')).map((r) => r.body.model_path), ['tinker://run-0/final', 'run-0/sampler_weights/s', 'tinker://run 1/sampler_weights/a b']);
});
