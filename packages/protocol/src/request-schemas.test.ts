import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from './schema.js';
import * as s from './schema.js';
import {
  createModelRequestSchema,
  createSessionRequestSchema,
  forwardBackwardRequestSchema,
  loadWeightsRequestSchema,
  optimStepRequestSchema,
  checkpointTtlRequestSchema,
  copyWeightsRequestSchema,
  createSamplingSessionRequestSchema,
  REQUEST_LIMITS,
  REQUEST_SCHEMAS,
  sampleRequestSchema,
  saveWeightsForSamplerRequestSchema,
  saveWeightsRequestSchema,
} from './request-schemas.js';
import { ValidationError } from './errors.js';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.field;
  }
  assert.fail('expected a ValidationError');
}

const datum = (dtype = 'int64') => ({
  model_input: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] },
  loss_fn_inputs: { target_tokens: { data: [2, 3, 4], dtype }, weights: { data: [1, 1, 1], dtype: 'float32' } },
});

const fwdBwd = (data: unknown[]) => ({
  forward_backward_input: { data, loss_fn: 'cross_entropy', loss_fn_config: null },
  model_id: 'm1',
  seq_id: 1,
});

test('a valid forward_backward body parses to the typed request', () => {
  const req = parse(forwardBackwardRequestSchema, fwdBwd([datum()]));
  assert.equal(req.forward_backward_input.data[0]!.loss_fn_inputs.target_tokens!.dtype, 'int64');
  assert.equal(req.forward_backward_input.loss_fn_config, null);
});

test('a bad nested value is reported by its dotted path, with what was expected and what came', () => {
  const body = fwdBwd([datum(), datum(), datum(), datum('int32')]);
  assert.throws(
    () => parse(forwardBackwardRequestSchema, body),
    (err: unknown) =>
      err instanceof ValidationError &&
      err.field === 'forward_backward_input.data[3].loss_fn_inputs.target_tokens.dtype' &&
      /expected one of "int64", "float32", got string "int32"/.test(err.message),
  );
});

test('a missing required field is named', () => {
  const body = fwdBwd([datum()]) as Record<string, unknown>;
  delete body.model_id;
  assert.throws(
    () => parse(forwardBackwardRequestSchema, body),
    (err: unknown) => err instanceof ValidationError && err.field === 'model_id' && /required field is missing/.test(err.message),
  );
});

test('unknown extra keys from newer clients are accepted and dropped', () => {
  const body = { ...fwdBwd([datum()]), some_future_flag: true };
  const req = parse(forwardBackwardRequestSchema, body) as unknown as Record<string, unknown>;
  assert.equal('some_future_flag' in req, false);
});

test('numbers must be finite integers where ints are expected', () => {
  assert.equal(fieldOf(() => parse(forwardBackwardRequestSchema, { ...fwdBwd([datum()]), seq_id: 1.5 })), 'seq_id');
  const bad = datum();
  (bad.model_input.chunks[0]!.tokens as number[])[1] = -4;
  assert.equal(fieldOf(() => parse(forwardBackwardRequestSchema, fwdBwd([bad]))), 'forward_backward_input.data[0].model_input.chunks[0].tokens[1]');
  assert.equal(fieldOf(() => parse(optimStepRequestSchema, { model_id: 'm', adam_params: { learning_rate: Number.NaN } })), 'adam_params.learning_rate');
});

test('chunk without type is a token chunk; unknown chunk type is named', () => {
  const body = fwdBwd([{ ...datum(), model_input: { chunks: [{ tokens: [1, 2, 3] }] } }]);
  const req = parse(forwardBackwardRequestSchema, body);
  assert.deepEqual(req.forward_backward_input.data[0]!.model_input.chunks[0], { type: 'encoded_text', tokens: [1, 2, 3] });
  const bad = fwdBwd([{ ...datum(), model_input: { chunks: [{ type: 'video', tokens: [] }] } }]);
  assert.equal(fieldOf(() => parse(forwardBackwardRequestSchema, bad)), 'forward_backward_input.data[0].model_input.chunks[0].type');
});

test('unknown loss function is rejected naming loss_fn', () => {
  const body = fwdBwd([datum()]);
  (body.forward_backward_input as Record<string, unknown>).loss_fn = 'mse';
  assert.equal(fieldOf(() => parse(forwardBackwardRequestSchema, body)), 'forward_backward_input.loss_fn');
});

test('defaults are filled in (overwrite=false, num_samples=1, top_k=-1, lora train_* = true)', () => {
  assert.equal(parse(saveWeightsRequestSchema, { model_id: 'm', path: 'p' }).overwrite, false);
  const sample = parse(sampleRequestSchema, { prompt: { chunks: [] }, sampling_params: { max_tokens: 4 }, base_model: 'b' });
  assert.equal(sample.num_samples, 1);
  assert.equal(sample.sampling_params.top_k, -1);
  assert.equal(sample.topk_sample_logprobs, 0);
  const model = parse(createModelRequestSchema, { session_id: 's', model_seq_id: 0, base_model: 'b', lora_config: { rank: 8 } });
  assert.deepEqual(model.lora_config, { rank: 8, train_unembed: true, train_mlp: true, train_attn: true });
});

test('the SDK 0.29+ sample body with its newer fields is accepted', () => {
  const body = {
    num_samples: 2,
    prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2] }] },
    sampling_params: { max_tokens: 8, seed: null, stop: [13], temperature: 0.7, top_k: -1, top_p: 1.0 },
    sampling_session_id: 'ss',
    seq_id: 3,
    prompt_logprobs: false,
    topk_prompt_logprobs: 0,
    topk_sample_logprobs: 0,
    prompt_alt_tokens_k: 0,
    record_stability_info: false,
    type: 'sample',
  };
  assert.equal(parse(sampleRequestSchema, body).sampling_session_id, 'ss');
});

test('a sample request needs something to sample from', () => {
  assert.equal(fieldOf(() => parse(sampleRequestSchema, { prompt: { chunks: [] }, sampling_params: {} })), 'sampling_session_id');
});

test('load_weights takes exactly one addressing mode', () => {
  assert.ok(parse(loadWeightsRequestSchema, { model_id: 'm', seq_id: 1, path: 'tinker://r/weights/x', optimizer: true }));
  assert.ok(parse(loadWeightsRequestSchema, { session_id: 's', model_seq_id: 0, path: 'tinker://r/weights/x', optimizer: false }));
  assert.equal(fieldOf(() => parse(loadWeightsRequestSchema, { path: 'p', optimizer: true })), 'model_id');
  assert.equal(fieldOf(() => parse(loadWeightsRequestSchema, { session_id: 's', path: 'p', optimizer: true })), 'model_seq_id');
});

test('create_session accepts the SDK body (user_metadata may be null)', () => {
  const body = { tags: ['a'], user_metadata: null, sdk_version: '0.25.0', project_id: null, type: 'create_session' };
  assert.deepEqual(parse(createSessionRequestSchema, body), body);
  assert.equal(fieldOf(() => parse(createSessionRequestSchema, { tags: 'a', user_metadata: null, sdk_version: 'x' })), 'tags');
});

test('array length limits are enforced', () => {
  const tooMany = s.array(s.int(), { maxLength: 2 });
  assert.throws(() => parse(tooMany, [1, 2, 3], 'xs'), (err: unknown) => err instanceof ValidationError && err.field === 'xs' && /at most 2/.test(err.message));
});

test('schema primitives: nullable, union, record, literal, reject unknown keys', () => {
  const sch = s.object(
    { a: s.nullable(s.string()), b: s.union(s.int(), s.literal('auto')), c: s.optional(s.record(s.bool())) },
    { unknownKeys: 'reject' },
  );
  assert.deepEqual(parse(sch, { a: null, b: 'auto', c: { x: true } }), { a: null, b: 'auto', c: { x: true } });
  assert.throws(() => parse(sch, { a: 'x', b: 2.5 }), (err: unknown) => err instanceof ValidationError && err.field === 'b' && /integer \| "auto"/.test(err.message));
  assert.throws(() => parse(sch, { a: 'x', b: 1, c: { x: 1 } }), (err: unknown) => err instanceof ValidationError && err.field === 'c.x');
  assert.throws(() => parse(sch, { a: 'x', b: 1, d: 0 }), (err: unknown) => err instanceof ValidationError && err.field === 'd' && /unknown field/.test(err.message));
  assert.throws(() => parse(sch, []), (err: unknown) => err instanceof ValidationError && /expected object, got array/.test(err.message));
});

test('every route has a schema that rejects a non-object body', () => {
  for (const [route, schema] of Object.entries(REQUEST_SCHEMAS)) {
    assert.throws(() => parse(schema as s.Schema<unknown>, "nope"), ValidationError, route);
  }
});

test('client-numbered ids are non-negative safe integers on every route', () => {
  const bad = [1e21, 2 ** 53, 1.5, -1, '3'];
  const cases: Array<[string, (id: unknown) => unknown]> = [
    ['model_seq_id', (id) => parse(createModelRequestSchema, { session_id: 's', model_seq_id: id, base_model: 'b' })],
    ['sampling_session_seq_id', (id) => parse(createSamplingSessionRequestSchema, { session_id: 's', sampling_session_seq_id: id, base_model: 'b' })],
    ['sampling_session_seq_id', (id) => parse(saveWeightsForSamplerRequestSchema, { model_id: 'm', sampling_session_seq_id: id })],
    ['seq_id', (id) => parse(optimStepRequestSchema, { model_id: 'm', seq_id: id, adam_params: {} })],
    ['model_seq_id', (id) => parse(copyWeightsRequestSchema, { session_id: 's', model_seq_id: id, source_path: 'p' })],
    ['model_seq_id', (id) => parse(loadWeightsRequestSchema, { session_id: 's', model_seq_id: id, path: 'p', optimizer: false })],
  ];
  for (const [field, run] of cases) {
    assert.ok(run(REQUEST_LIMITS.maxId), `${field} accepts the largest id`);
    for (const id of bad) assert.equal(fieldOf(() => run(id)), field, `${field} = ${id}`);
  }
  // asample seq_ids of subprocess samplers go past 2^53, but not past 64 bits.
  const sample = (seq: unknown) => parse(sampleRequestSchema, { sampling_session_id: 's', seq_id: seq, prompt: { chunks: [] }, sampling_params: {} });
  assert.ok(sample(295131854000000000));
  for (const id of [2 ** 65, -1, 0.5]) assert.equal(fieldOf(() => sample(id)), 'seq_id', `asample seq_id ${id}`);
});

test('ttl_seconds has one range on every route that takes it', () => {
  const max = REQUEST_LIMITS.maxTtlSeconds;
  const routes: Array<(ttl: unknown) => unknown> = [
    (ttl) => parse(saveWeightsRequestSchema, { model_id: 'm', ttl_seconds: ttl }),
    (ttl) => parse(saveWeightsForSamplerRequestSchema, { model_id: 'm', ttl_seconds: ttl }),
    (ttl) => parse(copyWeightsRequestSchema, { session_id: 's', model_seq_id: 0, source_path: 'p', ttl_seconds: ttl }),
    (ttl) => parse(checkpointTtlRequestSchema, { ttl_seconds: ttl }),
  ];
  for (const route of routes) {
    assert.ok(route(1) && route(max) && route(null));
    for (const ttl of [0, max + 1, 10_000_000_000_000, 2.5, [[1]]]) {
      assert.throws(() => route(ttl), (err: unknown) => err instanceof ValidationError && err.field === 'ttl_seconds' && new RegExp(`<= ${max}`).test(err.message));
    }
  }
});
