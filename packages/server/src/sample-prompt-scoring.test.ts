/**
 * Prompt scoring on asample over real HTTP against the real engine: target_prompt_logprobs (dense
 * and CSR), prompt_alt_tokens_k and prompt_logprobs_last_n give the numbers the forward route
 * gives for the same tokens (a fresh adapter adds nothing to the base model), in JSON and
 * protobuf results; malformed or too costly requests get a 400 naming the field.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { denseValues, type TensorData } from '@tinker-ts/protocol';
import { startServer, type RunningServer } from './server.js';
import { TestClient, TINY_MODEL, nextTokenDatum } from './testkit.js';

const MAX_CELLS = 64;
let server: RunningServer;
let dataDir: string;
let client: TestClient;
let modelId: string;
let seq = 1; // seq_id 0 is the create_model request

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-prompt-scoring-'));
  server = await startServer({ dataDir, port: 0, limits: { maxPromptScoredCells: MAX_CELLS } });
  client = new TestClient(server.url);
  modelId = await client.createModel(await client.createSession(), 0);
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const prompt = [11, 22, 33, 44, 55, 66];
const T = prompt.length;

function asample(fields: Record<string, unknown>, samplingParams: Record<string, unknown> = { max_tokens: 2, seed: 3 }) {
  return client.request('POST', 'asample', {
    prompt: { chunks: [{ type: 'encoded_text', tokens: prompt }] },
    sampling_params: samplingParams,
    base_model: TINY_MODEL,
    ...fields,
  });
}

/** The forward route's logprob of `id` at logits row `row` of the prompt, for each [row, id]. */
async function forwardLogprobs(cells: Array<[number, number]>): Promise<number[]> {
  const data = cells.map(([row, id]) => nextTokenDatum([...prompt.slice(0, row + 1), id]));
  const fut = await client.post('forward', { forward_input: { data, loss_fn: 'cross_entropy', loss_fn_config: null }, model_id: modelId, seq_id: seq++ });
  const out = await client.result(fut.request_id);
  return out.loss_fn_outputs.map((o: { logprobs: TensorData }, i: number) => o.logprobs.data[cells[i]![0]]!);
}

test('target_prompt_logprobs answer in the request layout with the forward pass numbers, dense and CSR', async () => {
  // Rows 1, 1, 3, 4 name ids (row i scores prompt position i + 1); -1 asks for nothing.
  const dense = { data: [-1, -1, -1, 7, -1, 0, -1, -1, -1, -1, 33, -1, 90, -1, -1], dtype: 'int64', shape: [T - 1, 3] };
  const cells: Array<[number, number]> = [[1, 7], [1, 0], [3, 33], [4, 90]];
  const expected = await forwardLogprobs(cells);
  const ok = await asample({ target_prompt_logprobs: dense });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const viaProto = (await client.sampleResult(ok.json.request_id)).target_prompt_logprobs!;
  const viaJson = (await client.result(ok.json.request_id)).target_prompt_logprobs as TensorData;
  for (const td of [viaProto, viaJson]) {
    assert.deepEqual(td.shape, [T - 1, 3]);
    assert.equal(td.dtype, 'float32');
    assert.equal(td.sparse_crow_indices ?? null, null);
    const values = denseValues(td);
    [3, 5, 10, 12].forEach((slot, c) => assert.ok(Math.abs(values[slot]! - expected[c]!) <= 1e-4, `cell ${c}: ${values[slot]} vs ${expected[c]}`));
    values.forEach((v, slot) => [3, 5, 10, 12].includes(slot) || assert.equal(v, 0, `placeholder ${slot}`));
  }

  const sparse = { data: [7, 0, 33, 90], dtype: 'int64', shape: [T - 1, 3], sparse_crow_indices: [0, 0, 2, 2, 3, 4], sparse_col_indices: [0, 2, 1, 0] };
  const s = await asample({ target_prompt_logprobs: sparse });
  assert.equal(s.status, 200, JSON.stringify(s.json));
  const td = (await client.sampleResult(s.json.request_id)).target_prompt_logprobs!;
  assert.deepEqual(td.sparse_crow_indices, sparse.sparse_crow_indices);
  assert.deepEqual(td.sparse_col_indices, sparse.sparse_col_indices);
  td.data.forEach((v, c) => assert.ok(Math.abs(v - expected[c]!) <= 1e-4, `sparse cell ${c}`));
});

test('prompt_alt_tokens_k draws k tokens per position after the first, scored as the forward pass scores them, reproducible by seed', async () => {
  const k = 4;
  const first = await asample({ prompt_alt_tokens_k: k }, { max_tokens: 1, seed: 21, temperature: 1 });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  const alt = (await client.sampleResult(first.json.request_id)).prompt_alt_tokens!;
  assert.deepEqual(alt.tokens.shape, [T - 1, k]);
  assert.deepEqual(alt.logprobs.shape, [T - 1, k]);
  assert.equal(alt.tokens.dtype, 'int64');
  const cells = alt.tokens.data.map((tok, i) => [Math.floor(i / k), tok] as [number, number]);
  const expected = await forwardLogprobs(cells);
  alt.logprobs.data.forEach((lp, i) => assert.ok(Math.abs(lp - expected[i]!) <= 1e-4, `draw ${i}`));
  const again = await asample({ prompt_alt_tokens_k: k }, { max_tokens: 1, seed: 21, temperature: 1 });
  assert.deepEqual((await client.sampleResult(again.json.request_id)).prompt_alt_tokens, alt);
  // Not asked for, not returned.
  const plain = await asample({ prompt_alt_tokens_k: 0 });
  assert.equal((await client.result(plain.json.request_id)).prompt_alt_tokens ?? null, null);
});

test('prompt_logprobs_last_n reports only the last n prompt positions', async () => {
  const res = await asample({ prompt_logprobs: true, prompt_logprobs_last_n: 2 });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const lp = (await client.sampleResult(res.json.request_id)).prompt_logprobs!;
  assert.equal(lp.length, T);
  assert.deepEqual(lp.slice(0, T - 2), new Array(T - 2).fill(null));
  const expected = await forwardLogprobs([[T - 3, prompt[T - 2]!], [T - 2, prompt[T - 1]!]]);
  lp.slice(T - 2).forEach((v, i) => assert.ok(Math.abs((v as number) - expected[i]!) <= 1e-4));
});

test('malformed or too costly prompt scoring is refused with a 400 naming the field', async () => {
  const refused = async (fields: Record<string, unknown>, field: string, re: RegExp) => {
    const res = await asample(fields);
    assert.equal(res.status, 400, `${JSON.stringify(fields)} → ${res.status}`);
    assert.equal(res.json.field, field);
    assert.match(res.json.error, re);
  };
  const ids = (data: number[], shape: number[]) => ({ data, dtype: 'int64', shape });
  await refused({ target_prompt_logprobs: ids([1, 2, 3], [3, 1]) }, 'target_prompt_logprobs.shape', /has 3 rows; a prompt of 6 tokens needs exactly 5/);
  await refused({ target_prompt_logprobs: { data: [1, 1, 1, 1, 1], dtype: 'float32', shape: [5, 1] } }, 'target_prompt_logprobs.dtype', /int64 tensor of token ids/);
  await refused({ target_prompt_logprobs: ids([1, 2, 3, 4, 5], [5]) }, 'target_prompt_logprobs.shape', /must be 2-D/);
  await refused({ target_prompt_logprobs: ids([-1, -1, -1, -1, -1], [5, 1]) }, 'target_prompt_logprobs.data', /names no token id/);
  await refused({ target_prompt_logprobs: ids([1, -3, 1, 1, 1], [5, 1]) }, 'target_prompt_logprobs.data[1]', /-1 marks a cell to skip/);
  // 6 positions × 11 distinct ids = 66 > 64.
  const wide = Array.from({ length: 5 * 11 }, (_, i) => i % 11);
  await refused({ target_prompt_logprobs: ids(wide, [5, 11]) }, 'target_prompt_logprobs', /len\(prompt\) \(6\) × distinct target ids \(11\) = 66; one request may score at most 64/);
  await refused({ prompt_alt_tokens_k: 11 }, 'prompt_alt_tokens_k', /len\(prompt\) \(6\) × prompt_alt_tokens_k \(11\) = 66/);
  await refused({ prompt_alt_tokens_k: -1 }, 'prompt_alt_tokens_k', /./);
  await refused({ prompt_logprobs_last_n: 2 }, 'prompt_logprobs_last_n', /needs prompt_logprobs: true/);
  await refused({ prompt_logprobs: true, prompt_logprobs_last_n: 6 }, 'prompt_logprobs_last_n', /between 1 and len\(prompt\) - 1 = 5/);
  await refused({ record_stability_info: true }, 'record_stability_info', /only serves the stable_reinforce loss, which this server does not offer/);
  // Within the bound: 6 × 10 = 60.
  assert.equal((await asample({ prompt_alt_tokens_k: 10 })).status, 200);
  // Only the engine knows the vocabulary: an id outside it fails the future, as the user's fault.
  const outside = await asample({ target_prompt_logprobs: ids([1, 1, 1, 1, 1_000_000], [5, 1]) });
  assert.equal(outside.status, 200);
  const failed = await client.retrieveRaw(outside.json.request_id);
  assert.equal(failed.json.category, 'user');
  assert.match(failed.json.error, /token id 1000000 is outside the vocabulary/);
});
