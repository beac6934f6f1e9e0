import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamParamsToWire, forwardBackwardOutputFromWire, sampleResponseFromWire, samplingParamsToWire, DEFAULT_ADAM_PARAMS } from './types.js';
import { ValidationError } from './errors.js';

test('AdamParams default to Tinker values and go to the wire in snake_case', () => {
  assert.deepEqual(DEFAULT_ADAM_PARAMS, { learningRate: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-12, weightDecay: 0, gradClipNorm: 0 });
  assert.deepEqual(adamParamsToWire({ learningRate: 3e-4, weightDecay: 0.01 }), {
    learning_rate: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-12, weight_decay: 0.01, grad_clip_norm: 0,
  });
});

test('SamplingParams fill the official defaults', () => {
  assert.deepEqual(samplingParamsToWire({}), { temperature: 1, top_k: -1, top_p: 1 });
  assert.deepEqual(samplingParamsToWire({ maxTokens: 8, seed: 1, stop: [13], topK: 5 }), { temperature: 1, top_k: 5, top_p: 1, max_tokens: 8, seed: 1, stop: [13] });
});

test('sample responses stamp sequence ids and turn NaN prompt logprobs into null', () => {
  const res = sampleResponseFromWire(
    {
      sequences: [
        { stop_reason: 'stop', tokens: new Int32Array([5, 6]), logprobs: new Float32Array([-0.5, -1]) },
        { stop_reason: 'length', tokens: [7] },
      ],
      prompt_logprobs: new Float32Array([Number.NaN, -2]) as unknown as number[],
      topk_prompt_logprobs: [null, [[3, -0.1], [4, -2.5]]],
    },
    ['s:0:0', 's:0:1'],
  );
  assert.deepEqual(res.sequences, [
    { stopReason: 'stop', tokens: [5, 6], logprobs: [-0.5, -1], sequenceId: 's:0:0' },
    { stopReason: 'length', tokens: [7], sequenceId: 's:0:1' },
  ]);
  assert.deepEqual(res.promptLogprobs, [null, -2]);
  assert.deepEqual(res.topkPromptLogprobs, [null, [[3, -0.1], [4, -2.5]]]);
  assert.equal(res.promptCacheHitTokens, 0);
  assert.throws(() => sampleResponseFromWire({ sequences: [{ stop_reason: 'stop', tokens: [1] }] }, ['a', 'b']), (e: unknown) => e instanceof ValidationError && e.field === 'sample_sequence_ids');
});

test('forward-backward outputs become typed tensors', () => {
  const out = forwardBackwardOutputFromWire({
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: [{ logprobs: { data: [-1, -2], dtype: 'float32', shape: [2] } }],
    metrics: { 'loss:sum': 3 },
  });
  assert.ok(out.lossFnOutputs[0]!['logprobs']!.values instanceof Float32Array);
  assert.deepEqual(out.metrics, { 'loss:sum': 3 });
  assert.throws(() => forwardBackwardOutputFromWire({} as never), ValidationError);
});
