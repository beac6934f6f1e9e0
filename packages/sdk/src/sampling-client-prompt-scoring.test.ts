// The prompt-scoring options of `sample` on the wire, against a fake server that, like servers
// before these fields, ignores them: what is sent, and the error instead of a silent omission.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectFakeTinker, validationFieldOf } from './fake-tinker-client.testkit.js';
import { ValidationError } from './errors.js';
import { TensorData } from './tensor-data.js';

test('target ids (as CSR), k alternatives and the last-n window are sent as the official SDK names them', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const sc = await service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const target = TensorData.sparseCsr([5, 6], [0, 1, 1, 2], [0, 1], [3, 2], 'int64');
  const sent = sc.sample({ prompt: [1, 2, 3, 4], targetPromptLogprobs: target, promptAltTokensK: 2, includePromptLogprobs: true, promptLogprobsLastN: 2 });
  await assert.rejects(async () => sent, (e: Error) => e instanceof ValidationError && /prompt_alt_tokens_k=2 was asked for, the server returned no prompt_alt_tokens/.test(e.message));
  const body = (await peer.log('asample'))[0]!.body;
  assert.deepEqual(body.target_prompt_logprobs, { data: [5, 6], dtype: 'int64', shape: [3, 2], sparse_crow_indices: [0, 1, 1, 2], sparse_col_indices: [0, 1] });
  assert.equal(body.prompt_alt_tokens_k, 2);
  assert.equal(body.prompt_logprobs_last_n, 2);
  // Rows of ids become a dense int64 tensor; a server that drops the answer is an error too.
  await assert.rejects(async () => sc.sample({ prompt: [1, 2, 3], targetPromptLogprobs: [[-1], [9]] }), /target_prompt_logprobs was asked for, the server returned none/);
  const dense = (await peer.log('asample'))[1]!.body;
  assert.deepEqual(dense.target_prompt_logprobs, { data: [-1, 9], dtype: 'int64', shape: [2, 1] });
  assert.equal('prompt_alt_tokens_k' in dense, false, 'not asked for, not sent');
});

test('what the prompt shows to be wrong is refused before sending, naming the field', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const sc = await service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' });
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1, 2, 3], targetPromptLogprobs: [[1], [2], [3]] })), 'target_prompt_logprobs.shape');
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1, 2, 3], targetPromptLogprobs: [[-1], [-1]] })), 'target_prompt_logprobs.data');
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1, 2, 3], promptAltTokensK: 1.5 })), 'prompt_alt_tokens_k');
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1, 2, 3], promptLogprobsLastN: 1 })), 'prompt_logprobs_last_n');
  assert.equal(validationFieldOf(() => sc.sample({ prompt: [1, 2, 3], includePromptLogprobs: true, promptLogprobsLastN: 3 })), 'prompt_logprobs_last_n');
  assert.equal((await peer.log('asample')).length, 0);
});
