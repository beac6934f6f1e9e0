import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeLogprob } from './fake-tinker.testkit.js';
import { connectFakeTinker, validationFieldOf } from './fake-tinker-client.testkit.js';
import { Datum } from './datum.js';
import { TensorData } from './tensor-data.js';
import { ValidationError } from './errors.js';
import { Var, track } from './custom-loss.js';

/** A datum whose targets are `tokens` shifted by one. */
function datum(tokens: number[]): Datum {
  return Datum.fromTokens(tokens);
}

test('training clients are numbered within the session and carry the LoRA config', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const a = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B', rank: 4, seed: 7, trainUnembed: false });
  const b = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  assert.equal(a.modelId, 'sess-1:train:0');
  assert.equal(b.modelId, 'sess-1:train:1');
  const creates = (await peer.log('create_model')).map((r) => r.body);
  assert.deepEqual(creates.map((c) => c.model_seq_id), [0, 1]);
  assert.deepEqual(creates[0].lora_config, { rank: 4, seed: 7, train_mlp: true, train_attn: true, train_unembed: false });
  assert.deepEqual(creates[1].lora_config, { rank: 32, train_mlp: true, train_attn: true, train_unembed: true });
  assert.equal(creates[0].session_id, 'sess-1');
});

test('forwardBackward is chunked by the server limits, first chunk sent last, outputs in datum order', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { config: { fwdbwd_max_chunk_len: 2 } });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const data = [datum([1, 2, 3]), datum([4, 5]), datum([6, 7, 8, 9]), datum([10, 11]), datum([12, 13, 14])];
  const out = await tc.forwardBackward(data, 'cross_entropy');

  const sent = (await peer.log('forward_backward')).map((r) => r.body);
  assert.deepEqual(sent.map((b) => b.seq_id), [2, 3, 1], 'chunks 2 and 3 go first, chunk 1 last');
  assert.deepEqual(sent.map((b) => b.forward_backward_input.data.length), [2, 1, 2]);
  assert.ok(sent.every((b) => !b.forward_only && b.model_id === tc.modelId));

  assert.equal(out.lossFnOutputs.length, 5);
  data.forEach((d, i) => {
    const expected = d.lossFnInputs['target_tokens']!.toArray().map(fakeLogprob);
    assert.deepEqual(Array.from(out.lossFnOutputs[i]!['logprobs']!.values), expected, `datum ${i}`);
  });
  const expectedLoss = data.flatMap((d) => d.lossFnInputs['target_tokens']!.toArray()).reduce((s, tok) => s - fakeLogprob(tok), 0);
  assert.ok(Math.abs(out.metrics['loss:sum']! - expectedLoss) < 1e-5);
  assert.equal(out.metrics['seq_id:max'], 3, 'metrics merged with their reductions');
});

test('chunks also split by estimated bytes', async (t) => {
  // Each datum of 10 targets is 10·4 + 10·8 + 10·4 = 160 bytes.
  const { peer, service } = await connectFakeTinker(t, { config: { fwdbwd_max_chunk_bytes_count: 400 } });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const tokens = Array.from({ length: 11 }, (_, i) => i);
  await tc.forward([datum(tokens), datum(tokens), datum(tokens), datum(tokens), datum(tokens)], 'cross_entropy');
  const sizes = (await peer.log('forward_backward')).map((r) => [r.body.seq_id, r.body.forward_backward_input.data.length, Boolean(r.body.forward_only)]);
  assert.deepEqual(sizes, [[2, 2, true], [3, 1, true], [1, 2, true]]);
});

test('seq_ids increase strictly across calls, in call order', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const tc = service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' }).result();
  const fb = tc.forwardBackward([datum([1, 2, 3])], 'cross_entropy');
  const opt = tc.optimStep({ learningRate: 1e-3 });
  const save = tc.saveState('step-1');
  assert.throws(() => tc.forwardBackward([datum([4, 5, 6])], 'importance_sampling'), ValidationError, 'a datum without logprobs/advantages is rejected before sending');
  const fwd = tc.forward([datum([7, 8])], 'cross_entropy');
  await Promise.all([fb, opt, save, fwd]);
  const log = await peer.log();
  const seqs = log.filter((r) => ['forward_backward', 'optim_step', 'save_weights'].includes(r.route)).map((r) => [r.route, r.body.seq_id]);
  assert.deepEqual(seqs, [['forward_backward', 1], ['optim_step', 2], ['save_weights', 3], ['forward_backward', 4]]);
  const optim = log.find((r) => r.route === 'optim_step')!.body;
  assert.deepEqual(optim.adam_params, { learning_rate: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-12, weight_decay: 0, grad_clip_norm: 0 });
  assert.deepEqual((await opt).metrics, { 'learning_rate:mean': 1e-3 });
  assert.equal((await save).path, 'tinker://run-0/weights/step-1');
});

test('bad input is rejected before sending, naming the field', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const short = new Datum({ modelInput: [1, 2, 3], lossFnInputs: { target_tokens: [2, 3, 4], weights: [1, 1] } });
  assert.equal(validationFieldOf(() => tc.forwardBackward([datum([1, 2]), short], 'cross_entropy')), 'data[1].loss_fn_inputs.weights');
  assert.equal(validationFieldOf(() => tc.forwardBackward([datum([1, 2])], 'hinge' as never)), 'loss_fn');
  const wrongDtype = new Datum({ modelInput: [1], lossFnInputs: { target_tokens: [2], weights: TensorData.int64([1]) } });
  assert.equal(validationFieldOf(() => tc.forwardBackward([wrongDtype], 'cross_entropy')), 'data[0].loss_fn_inputs.weights.dtype');
  assert.equal(validationFieldOf(() => tc.forwardBackward([], 'cross_entropy')), 'data');
  assert.equal(validationFieldOf(() => tc.forwardBackward([datum([1, 2]), { modelInput: [1, 2], lossFnInputs: { target_tokens: [1, 2.5] } }], 'cross_entropy')), 'data[1].loss_fn_inputs.target_tokens.data');
  assert.equal(validationFieldOf(() => tc.forwardBackward([datum([1, 2])], 'cross_entropy', { clip_lo: 0.1 })), 'loss_fn_config.clip_lo');
  assert.equal(validationFieldOf(() => tc.optimStep({ learningRate: -1 })), 'adam_params.learning_rate');
  assert.equal(validationFieldOf(() => tc.loadState('')), 'path');
  assert.equal(validationFieldOf(() => tc.saveState('a/b')), 'path');
  assert.equal(validationFieldOf(() => service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B', rank: 0 })), 'rank');
  assert.equal((await peer.log('forward_backward')).length, 0, 'nothing was sent');
  await tc.forwardBackward([datum([1, 2])], 'cross_entropy');
  assert.deepEqual((await peer.log('forward_backward')).map((r) => r.body.seq_id), [1], 'rejected calls took no seq_id');
});

test('forwardBackwardCustom trains with weights = -dLoss/dlogprobs and merges the custom metrics', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const targetsOnly = (tokens: number[]) => new Datum({ modelInput: tokens.slice(0, -1), lossFnInputs: { target_tokens: tokens.slice(1) } });
  const data = [targetsOnly([1, 2, 3, 4]), targetsOnly([5, 6, 7])];
  // loss = Σ lp² / 2, so dLoss/dlp = lp and the weights sent must be -lp.
  const custom = tc.forwardBackwardCustom(data, (_d, logprobs) => {
    const vars = logprobs.flatMap((lp) => track(lp));
    return { loss: Var.sum(vars.map((v) => v.square())).div(2), metrics: { 'custom_loss:sum': 42 } };
  });
  const after = tc.optimStep();
  const out = await custom;
  await after;

  const sent = (await peer.log()).filter((r) => r.route === 'forward_backward' || r.route === 'optim_step');
  assert.deepEqual(sent.map((r) => [r.route, r.body.seq_id, Boolean(r.body.forward_only)]), [
    ['forward_backward', 1, true],
    ['forward_backward', 2, false],
    ['optim_step', 3, false],
  ], 'the backward pass keeps the seq_id reserved at call time, and the optim_step waits for it');
  const forwardWeights = sent[0]!.body.forward_backward_input.data.map((d: any) => protocolDense(d.loss_fn_inputs.weights));
  assert.deepEqual(forwardWeights, [[0, 0, 0], [0, 0]], 'the forward pass gets zero weights when the datum has none');
  const backward = sent[1]!.body.forward_backward_input;
  assert.equal(backward.loss_fn, 'cross_entropy');
  backward.data.forEach((d: any, i: number) => {
    const targets = data[i]!.lossFnInputs['target_tokens']!.toArray();
    assert.deepEqual(protocolDense(d.loss_fn_inputs.target_tokens), targets);
    const weights = protocolDense(d.loss_fn_inputs.weights);
    targets.forEach((tok, k) => assert.ok(Math.abs(weights[k]! - -fakeLogprob(tok)) < 1e-6));
  });
  assert.equal(out.metrics['custom_loss:sum'], 42);
  assert.ok('loss:sum' in out.metrics);
  assert.equal(out.lossFnOutputs.length, 2);
});

test('a failing custom loss still fills its reserved seq_ids so later calls are not stuck', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const custom = tc.forwardBackwardCustom([datum([1, 2, 3])], () => {
    throw new Error('user bug');
  });
  await assert.rejects(custom.future(), /user bug/);
  await tc.optimStep();
  const seqs = (await peer.log()).filter((r) => r.route === 'forward_backward' || r.route === 'optim_step').map((r) => r.body.seq_id).sort();
  assert.deepEqual(seqs, [1, 2, 3]);
});

test('blocking result() works for chained and derived futures', async (t) => {
  const { service } = await connectFakeTinker(t);
  const tc = service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' }).result(10_000);
  const out = tc.forwardBackward([datum([1, 2, 3])], 'cross_entropy').result(10_000);
  assert.equal(out.lossFnOutputs.length, 1);
  const custom = tc.forwardBackwardCustom([datum([3, 4, 5])], (_d, lps) => ({ loss: 0, grads: lps.map((lp) => Array.from(lp, () => 1)) })).result(10_000);
  assert.ok(custom.metrics['loss:sum']! < 0, 'weights = -1 make the cross-entropy loss negative');
  assert.equal(tc.optimStep().result(10_000).metrics?.['learning_rate:mean'], 1e-4);
});

test('weights, sampler and model management calls', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  assert.deepEqual(await tc.saveState('ckpt', { ttlSeconds: 60, userMetadata: { k: 'v' } }), { path: 'tinker://run-0/weights/ckpt' });
  assert.deepEqual(await tc.loadStateWithOptimizer('tinker://run-0/weights/ckpt'), { path: 'tinker://run-0/weights/ckpt', modelId: tc.modelId });
  assert.deepEqual(await tc.saveWeightsForSampler('s1'), { path: 'tinker://run-0/sampler_weights/s1' });
  const sc = await tc.saveWeightsAndGetSamplingClient();
  assert.equal(sc.samplingSessionId, 'sess-1:sample:0');
  const named = await tc.saveWeightsAndGetSamplingClient('s2');
  assert.equal(named.samplingSessionId, 'sess-1:sample:1');
  const info = await tc.getInfo();
  assert.equal(info.modelData.modelName, 'Qwen/Qwen3-8B');
  assert.equal(info.loraRank, 8);
  const tok = await tc.getTokenizer();
  assert.equal(tok.decode(tok.encode('hi there')), 'hi there');
  assert.deepEqual(await tc.unload(), { modelId: tc.modelId });

  const log = await peer.log();
  const bodies = (route: string) => log.filter((r) => r.route === route).map((r) => r.body);
  assert.deepEqual(bodies('save_weights')[0], { model_id: tc.modelId, path: 'ckpt', seq_id: 1, ttl_seconds: 60, user_metadata: { k: 'v' }, type: 'save_weights' });
  assert.equal(bodies('load_weights')[0].optimizer, true);
  assert.deepEqual(bodies('save_weights_for_sampler').map((b) => [b.seq_id, b.path, b.sampling_session_seq_id]), [[3, 's1', undefined], [4, undefined, 0], [5, 's2', undefined]]);
  assert.deepEqual(bodies('create_sampling_session').map((b) => [b.model_path, b.sampling_session_seq_id]), [['tinker://run-0/sampler_weights/s2', 1]]);
});

test('a training client from saved state: weights_info, create_model, load_weights', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const tc = await service.createTrainingClientFromState('tinker://run-0/weights/ckpt');
  const log = await peer.log();
  assert.deepEqual(log.filter((r) => ['weights_info', 'create_model', 'load_weights'].includes(r.route)).map((r) => r.route), ['weights_info', 'create_model', 'load_weights']);
  const create = log.find((r) => r.route === 'create_model')!.body;
  assert.deepEqual(create.lora_config, { rank: 8, train_mlp: true, train_attn: false, train_unembed: true });
  const load = log.find((r) => r.route === 'load_weights')!.body;
  assert.deepEqual([load.model_id, load.seq_id, load.optimizer, load.path], [tc.modelId, 1, false, 'tinker://run-0/weights/ckpt']);
  await tc.forwardBackward([datum([1, 2])], 'cross_entropy');
  assert.equal((await peer.log('forward_backward'))[0]!.body.seq_id, 2);
});

test('servers with create_model_via_load_weights get one load_weights that creates the model', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { config: { create_model_via_load_weights: true } });
  const tc = await service.createTrainingClientFromStateWithOptimizer('tinker://run-0/weights/ckpt', { baseModel: 'Qwen/Qwen3-8B' });
  assert.equal(tc.modelId, 'sess-1:train:0');
  const log = await peer.log();
  assert.equal(log.filter((r) => r.route === 'create_model' || r.route === 'weights_info').length, 0);
  const load = log.find((r) => r.route === 'load_weights')!.body;
  assert.deepEqual(load, { session_id: 'sess-1', model_seq_id: 0, path: 'tinker://run-0/weights/ckpt', optimizer: true, base_model: 'Qwen/Qwen3-8B', type: 'load_weights' });
});

test('server capabilities', async (t) => {
  const { service } = await connectFakeTinker(t);
  assert.deepEqual(await service.getServerCapabilities(), { supportedModels: [{ modelName: 'Qwen/Qwen3-8B', maxContextLength: 4096, trainable: undefined, sampleable: undefined }] });
});

function protocolDense(td: { data: number[]; shape?: number[] | null; sparse_crow_indices?: number[] | null; sparse_col_indices?: number[] | null; dtype: 'float32' | 'int64' }): number[] {
  return TensorData.fromWire(td).toArray();
}

test('loss configs travel with the request; zstd protobuf bodies when the server asks', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { config: { proto_compress_fwdbwd: true } });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const rl = new Datum({ modelInput: [1, 2, 3], lossFnInputs: { target_tokens: [2, 3, 4], logprobs: [-1, -1, -1], advantages: [0.5, -0.5, 1] } });
  const out = await tc.forwardBackward([rl], 'ppo', { clip_low_threshold: 0.9, clip_high_threshold: 1.1 });
  assert.equal(out.lossFnOutputs.length, 1);
  const sent = (await peer.log('forward_backward'))[0]!;
  assert.deepEqual([sent.contentType, sent.contentEncoding], ['application/x-protobuf', 'zstd']);
  const body = sent.body;
  assert.equal(body.forward_backward_input.loss_fn, 'ppo');
  assert.deepEqual(body.forward_backward_input.loss_fn_config, { clip_low_threshold: 0.9, clip_high_threshold: 1.1 });
  assert.deepEqual(protocolDense(body.forward_backward_input.data[0].loss_fn_inputs.advantages), [0.5, -0.5, 1]);
});
