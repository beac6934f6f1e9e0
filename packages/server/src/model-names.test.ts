/**
 * Model ids as hosted writes them, against a real server: the current lineup as stand-ins with
 * their `:peft:<ctx>` variants in get_server_capabilities, suffixed ids accepted wherever a base
 * model is (and malformed ones refused with a 400), the variant's context bounding a sample, the
 * stand-in notice shown by default, and retired names still served with a deprecation notice.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ServiceClient, ValidationError } from '@tinker-ts/sdk';
import { startRestFixture, type RestFixture } from './routes/rest-testkit.js';
import { TestClient, TINY_MODEL, nextTokenDatum } from './testkit.js';

let fx: RestFixture;
let client: TestClient;
let sessionId: string;

before(async () => {
  fx = await startRestFixture('tinker-model-names-');
  client = new TestClient(fx.server.url, 'tml-model-names');
  sessionId = await client.createSession();
});
after(async () => {
  await fx?.close();
});

const text = (tokens: number[]) => ({ chunks: [{ type: 'encoded_text', tokens }] });

test('capabilities list the current hosted lineup and its :peft variants, flagged trainable, sampleable and stand-in', async () => {
  const caps = (await client.request('GET', 'get_server_capabilities')).json;
  const byName = new Map<string, any>(caps.supported_models.map((m: any) => [m.model_name, m]));
  for (const name of ['Qwen/Qwen3.5-4B', 'Qwen/Qwen3-8B', 'openai/gpt-oss-20b', 'thinkingmachines/Inkling', 'moonshotai/Kimi-K2.6', 'nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16']) {
    const m = byName.get(name);
    assert.ok(m, name);
    assert.equal(m.trainable, true, name);
    assert.equal(m.sampleable, true, name);
    assert.equal(m.stand_in, true, name);
    assert.equal(m.deprecation_notice, null, name);
  }
  assert.equal(byName.get('thinkingmachines/Inkling').max_context_length, 65536);
  assert.equal(byName.get('thinkingmachines/Inkling:peft:262144').max_context_length, 262144);
  assert.equal(byName.get('moonshotai/Kimi-K2.6:peft:131072').max_context_length, 131072);
  assert.match(byName.get('meta-llama/Llama-3.2-1B').deprecation_notice, /retired by hosted Tinker on 2026-06-12/);
  assert.equal(byName.get('meta-llama/Llama-3.2-1B').trainable, true);
});

test('create_session warns (not merely informs) that the models are stand-ins', async () => {
  const res = await client.post('create_session', { tags: [], user_metadata: null, sdk_version: '0.38.0', type: 'create_session' });
  assert.equal(res.info_message, null);
  assert.match(res.warning_message, /stand-ins under hosted names \(tiny decoders with random weights/);
});

test('the SDK shows the stand-in notice with its default logger (console.warn), without TINKER_LOG', async () => {
  const warned: string[] = [];
  const original = console.warn;
  const saved = process.env['TINKER_LOG'];
  delete process.env['TINKER_LOG'];
  console.warn = (...args: unknown[]) => void warned.push(args.join(' '));
  const sc = new ServiceClient({ baseURL: fx.server.url, apiKey: 'tml-model-names' });
  try {
    await sc.createSamplingClient({ baseModel: 'Qwen/Qwen3.5-4B' });
  } finally {
    await sc.close();
    console.warn = original;
    if (saved !== undefined) process.env['TINKER_LOG'] = saved;
  }
  assert.ok(warned.some((w) => w.startsWith('[tinker] ') && /stand-ins/.test(w)), warned.join('\n'));
});

test('the SDK warns once per retired name, and the server still trains it', async () => {
  const warned: string[] = [];
  const sc = new ServiceClient({ baseURL: fx.server.url, apiKey: 'tml-model-names', logger: { warn: (m) => warned.push(m), info() {} } });
  try {
    const tc = await sc.createLoraTrainingClient({ baseModel: 'meta-llama/Llama-3.2-1B', rank: 2 });
    assert.ok(tc);
    await sc.createSamplingClient({ baseModel: 'meta-llama/Llama-3.2-1B' });
  } finally {
    await sc.close();
  }
  const notices = warned.filter((w) => /meta-llama\/Llama-3\.2-1B was retired by hosted Tinker on 2026-06-12.*use Qwen\/Qwen3-8B/.test(w));
  assert.equal(notices.length, 1, warned.join('\n'));
});

test('create_model takes a :peft:<ctx> id and records it as the run base model', async () => {
  const id = `${TINY_MODEL}:peft:4096`;
  const fut = await client.post('create_model', { session_id: sessionId, model_seq_id: 10, base_model: id, lora_config: { rank: 2 }, type: 'create_model' });
  const res = await client.result(fut.request_id);
  const run = (await client.request('GET', `training_runs/${encodeURIComponent(res.model_id)}`)).json;
  assert.equal(run.base_model, id);
  const info = await client.post('get_info', { model_id: res.model_id, type: 'get_info' });
  assert.equal(info.model_data.arch, 'qwen3');
});

test('malformed or impossible ids get a 400 naming the field, on every route that takes a model', async () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['create_model', { session_id: sessionId, model_seq_id: 11, base_model: `${TINY_MODEL}:peft:abc`, type: 'create_model' }, /positive integer/],
    ['create_model', { session_id: sessionId, model_seq_id: 12, base_model: `${TINY_MODEL}:peft:99999999`, type: 'create_model' }, /beyond any model|at most 32768 tokens/],
    ['create_model', { session_id: sessionId, model_seq_id: 13, base_model: `${TINY_MODEL}:peft:65536`, type: 'create_model' }, /at most 32768 tokens, not 65536/],
    ['create_model', { session_id: sessionId, model_seq_id: 14, base_model: `${TINY_MODEL}:sampling-nvfp4`, type: 'create_model' }, /sampling-only id/],
    ['create_model', { session_id: sessionId, model_seq_id: 15, base_model: `${TINY_MODEL}:fp8`, type: 'create_model' }, /unknown model id suffix ":fp8"/],
    ['create_sampling_session', { session_id: sessionId, sampling_session_seq_id: 50, base_model: `${TINY_MODEL}:peft`, type: 'create_sampling_session' }, /must be followed by ":<context length>"/],
    ['asample', { base_model: `${TINY_MODEL}:peft:0`, num_samples: 1, prompt: text([1, 2]), sampling_params: { max_tokens: 1 } }, /positive integer/],
  ];
  for (const [route, body, message] of cases) {
    const res = await client.request('POST', route, body);
    assert.equal(res.status, 400, `${route} ${JSON.stringify(body)}: ${JSON.stringify(res.json)}`);
    assert.equal(res.json.field, 'base_model', route);
    assert.match(res.json.error, message, route);
  }
});

test('a :sampling-nvfp4 id is sampleable; a :peft:<ctx> variant bounds prompt plus generation', async () => {
  const ss = await client.post('create_sampling_session', {
    session_id: sessionId, sampling_session_seq_id: 60, base_model: `${TINY_MODEL}:sampling-nvfp4`, type: 'create_sampling_session',
  });
  assert.ok(ss.sampling_session_id);
  const prompt = text(Array.from({ length: 10 }, (_, i) => i + 1));
  const ok = await client.post('asample', { base_model: `${TINY_MODEL}:peft:16`, num_samples: 1, prompt, sampling_params: { max_tokens: 4, temperature: 0 } });
  const sampled = await client.sampleResult(ok.request_id);
  assert.equal(sampled.sequences[0]!.tokens.length, 4);
  const tooLong = await client.post('asample', { base_model: `${TINY_MODEL}:peft:16`, num_samples: 1, prompt, sampling_params: { max_tokens: 10 } });
  const failed = (await client.retrieveRaw(tooLong.request_id)).json;
  assert.equal(failed.category, 'user');
  assert.match(failed.error, /exceeds the model's context length 16/);
});

test('the OpenAI and Anthropic endpoints take suffixed ids: the variant context bounds a completion, a bad suffix is a 400', async () => {
  const post = (path: string, body: unknown) =>
    fetch(`${fx.server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer tml-model-names', 'x-api-key': 'tml-model-names' }, body: JSON.stringify(body) });
  const ok = await post('/oai/api/v1/completions', { model: `${TINY_MODEL}:peft:64:sampling-nvfp4`, prompt: 'Hello', max_tokens: 3, temperature: 0 });
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal(((await ok.json()) as any).model, `${TINY_MODEL}:peft:64:sampling-nvfp4`);
  const tooLong = await post('/oai/api/v1/completions', { model: `${TINY_MODEL}:peft:16`, prompt: 'Hello', max_tokens: 40 });
  assert.equal(tooLong.status, 400);
  assert.match(((await tooLong.json()) as any).error.message, /maximum context length is 16 tokens/);
  const bad = await post('/oai/api/v1/chat/completions', { model: `${TINY_MODEL}:peft:x`, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(await bad.json()), /positive integer/);
  const anthropic = await post('/anthropic/api/v1/messages', { model: `${TINY_MODEL}:peft:16`, max_tokens: 4000, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(anthropic.status, 400);
  assert.match(JSON.stringify(await anthropic.json()), /context length is 16 tokens/);
});

test('through the SDK: capabilities carry the flags, a malformed id is refused before anything is sent', async () => {
  const sc = new ServiceClient({ baseURL: fx.server.url, apiKey: 'tml-model-names', logger: { warn() {}, info() {} } });
  try {
    const caps = await sc.getServerCapabilities();
    const inkling = caps.supportedModels.find((m) => m.modelName === 'thinkingmachines/Inkling:peft:262144')!;
    assert.deepEqual(
      { ...inkling },
      { modelName: 'thinkingmachines/Inkling:peft:262144', maxContextLength: 262144, trainable: true, sampleable: true, standIn: true },
    );
    assert.match(caps.supportedModels.find((m) => m.modelName === 'Qwen/Qwen3-4B-Instruct-2507')!.deprecationNotice!, /use Qwen\/Qwen3\.5-4B/);
    assert.throws(() => sc.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B:peft:abc' }), (e: unknown) => e instanceof ValidationError && e.field === 'base_model' && /positive integer/.test(e.message));
    assert.throws(() => sc.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B:int4' }), (e: unknown) => e instanceof ValidationError && /unknown model id suffix ":int4"/.test(e.message));
  } finally {
    await sc.close();
  }
});

test("a training run on a :peft:<ctx> variant takes data up to that context, no longer", async () => {
  const fut = await client.post('create_model', { session_id: sessionId, model_seq_id: 20, base_model: `${TINY_MODEL}:peft:16`, lora_config: { rank: 2 }, type: 'create_model' });
  const modelId = (await client.result(fut.request_id)).model_id;
  const tokens = (n: number) => Array.from({ length: n }, (_, i) => 100 + i);
  const fits = await client.forwardBackwardProto({ model_id: modelId, seq_id: 1, forward_backward_input: { data: [nextTokenDatum(tokens(17))], loss_fn: 'cross_entropy' } });
  assert.equal(fits.status, 200);
  await client.forwardBackwardResult(fits.json.request_id);
  const tooLong = await client.forwardBackwardProto({ model_id: modelId, seq_id: 2, forward_backward_input: { data: [nextTokenDatum(tokens(18))], loss_fn: 'cross_entropy' } });
  const failed = (await client.retrieveRaw(tooLong.json.request_id)).json;
  assert.equal(failed.category, 'user');
  assert.match(failed.error, /has 17 tokens but .*:peft:16 supports at most 16/);
});

test('other retired names are accepted as aliases (not listed), warned about once, and keep their suffixes', async () => {
  const caps = (await client.request('GET', 'get_server_capabilities')).json;
  assert.equal(caps.supported_models.some((m: any) => m.model_name === 'Qwen/Qwen3-32B'), false);
  const warned: string[] = [];
  const sc = new ServiceClient({ baseURL: fx.server.url, apiKey: 'tml-model-names', logger: { warn: (m) => warned.push(m), info() {} } });
  try {
    const tc = await sc.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-32B', rank: 2 });
    const info = await tc.getInfo();
    assert.equal(info.modelData.modelName, 'Qwen/Qwen3-32B');
    await sc.createSamplingClient({ baseModel: 'moonshotai/Kimi-K2.5:peft:131072' });
  } finally {
    await sc.close();
  }
  assert.ok(warned.some((w) => /Qwen\/Qwen3-32B was retired by hosted Tinker on 2026-06-12.*Qwen\/Qwen3\.6-27B/.test(w)), warned.join('\n'));
  assert.ok(warned.some((w) => /Kimi-K2\.5:peft:131072 was retired by hosted Tinker on 2026-07-12/.test(w)), warned.join('\n'));
  const tooLong = await client.request('POST', 'create_sampling_session', {
    session_id: sessionId, sampling_session_seq_id: 70, base_model: 'moonshotai/Kimi-K2.5:peft:262144', type: 'create_sampling_session',
  });
  assert.equal(tooLong.status, 400);
  assert.match(tooLong.json.error, /at most 131072 tokens/);
});

test("a stand-in without its own tokenizer names the one it uses in get_info, and the SDK's training client loads it", async () => {
  const sc = new ServiceClient({ baseURL: fx.server.url, apiKey: 'tml-model-names', logger: { warn() {}, info() {} } });
  try {
    const tc = await sc.createLoraTrainingClient({ baseModel: 'openai/gpt-oss-20b', rank: 2 });
    const info = await tc.getInfo();
    assert.equal(info.modelData.tokenizerId, 'Qwen/Qwen3-8B');
    const tok = await tc.getTokenizer();
    assert.equal(tok.source, 'qwen3');
    assert.deepEqual(tok.encode('Hello'), [9707]);
    const own = await sc.createLoraTrainingClient({ baseModel: 'meta-llama/Llama-3.2-1B', rank: 2 });
    assert.equal((await own.getInfo()).modelData.tokenizerId, 'meta-llama/Llama-3.2-1B');
  } finally {
    await sc.close();
  }
});
