// Protobuf SampleResponse carrying the prompt-scoring results: target logprobs in the request's
// layout (dense or CSR), prompt alternatives (also empty, for a one-token prompt), and prompt
// logprobs masked outside the last n positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSampleResponse, encodeSampleResponse } from './proto.js';
import { promptTargetLogprobs, readPromptTargets } from './prompt-targets.js';
import type { SampleResponse } from './types.js';

const seq = { stop_reason: 'length' as const, tokens: [4], logprobs: [-0.75] };
// The decoder always fills this in (0 when absent).
const cache = { prompt_cache_hit_tokens: 0 };

test('CSR target logprobs round trip with their row pointers and columns', () => {
  const targets = readPromptTargets(
    { data: [5, 6, 0], dtype: 'int64', shape: [3, 8], sparse_crow_indices: [0, 2, 2, 3], sparse_col_indices: [0, 7, 1] },
    4,
  );
  const resp: SampleResponse = { sequences: [seq], target_prompt_logprobs: promptTargetLogprobs(targets, [-0.5, -1.5, -2.5]) };
  const back = decodeSampleResponse(encodeSampleResponse(resp));
  assert.deepEqual(back.target_prompt_logprobs, {
    data: [-0.5, -1.5, -2.5], dtype: 'float32', shape: [3, 8], sparse_crow_indices: [0, 2, 2, 3], sparse_col_indices: [0, 7, 1],
  });
});

test('dense target logprobs and prompt alternatives round trip; a one-token prompt has [0, k] alternatives', () => {
  const resp: SampleResponse = {
    ...cache,
    sequences: [seq],
    target_prompt_logprobs: { data: [-0.5, 0, 0, -2], dtype: 'float32', shape: [2, 2] },
    prompt_alt_tokens: {
      tokens: { data: [7, 7, 3, 90], dtype: 'int64', shape: [2, 2] },
      logprobs: { data: [-0.25, -0.25, -3, -6.5], dtype: 'float32', shape: [2, 2] },
    },
  };
  assert.deepEqual(decodeSampleResponse(encodeSampleResponse(resp)), resp);
  const empty: SampleResponse = {
    ...cache,
    sequences: [seq],
    prompt_alt_tokens: { tokens: { data: [], dtype: 'int64', shape: [0, 3] }, logprobs: { data: [], dtype: 'float32', shape: [0, 3] } },
  };
  assert.deepEqual(decodeSampleResponse(encodeSampleResponse(empty)), empty);
});

test('prompt logprobs masked outside the last n positions come back as nulls', () => {
  const resp: SampleResponse = {
    ...cache,
    sequences: [seq],
    prompt_logprobs: [null, null, null, -1.5, -0.5],
    topk_prompt_logprobs: [null, null, null, [[3, -1.5], [9, -2]], [[1, -0.5], [2, -1]]],
  };
  assert.deepEqual(decodeSampleResponse(encodeSampleResponse(resp)), resp);
});
