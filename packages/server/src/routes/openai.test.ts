/**
 * The OpenAI-compatible endpoints driven by the `openai` npm client: chat and completions,
 * streaming with the usage chunk, n / seed / stop / logprobs, a trained checkpoint by its
 * tinker:// path, and bad input raising the client's own error classes with a clear message.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { OTHER_USER_KEY, OWNER_KEY, SERVED_MODEL, startServedCheckpoint, type ServedCheckpoint } from './served-checkpoint-testkit.js';

let served: ServedCheckpoint;
let client: OpenAI;
const messages = [
  { role: 'system' as const, content: 'You answer briefly.' },
  { role: 'user' as const, content: 'Name a colour.' },
];

before(async () => {
  served = await startServedCheckpoint('tinker-openai-');
  client = new OpenAI({ baseURL: `${served.url}/oai/api/v1`, apiKey: OWNER_KEY, maxRetries: 0 });
});
after(async () => {
  await served?.close();
});

function chatPrompt(): number[] {
  return served.tokenizer.encodeChat(messages, { addGenerationPrompt: true });
}

/** What the model's reply text is for these sampled tokens (the end-of-turn token is not text). */
function replyText(tokens: number[]): string {
  const eos = new Set([151645, 151643]);
  const kept = tokens.length > 0 && eos.has(tokens[tokens.length - 1]!) ? tokens.slice(0, -1) : tokens;
  return served.tokenizer.decode(kept);
}

test('chat completion: greedy text, usage and logprobs are those of the sampler', async () => {
  const res = await client.chat.completions.create({
    model: SERVED_MODEL, messages, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const want = await served.greedyTokens(chatPrompt(), 8);
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.model, SERVED_MODEL);
  assert.equal(res.choices.length, 1);
  const choice = res.choices[0]!;
  assert.equal(choice.message.role, 'assistant');
  assert.equal(choice.message.content, replyText(want));
  assert.equal(choice.finish_reason, want.length < 8 ? 'stop' : 'length');
  assert.deepEqual(res.usage, { prompt_tokens: chatPrompt().length, completion_tokens: want.length, total_tokens: chatPrompt().length + want.length });
  const lps = choice.logprobs!.content!;
  assert.ok(lps.length > 0);
  for (const lp of lps) {
    assert.equal(lp.top_logprobs.length, 3);
    // Greedy: the sampled token is the most likely one.
    assert.equal(lp.token, lp.top_logprobs[0]!.token);
    assert.ok(Math.abs(lp.logprob - lp.top_logprobs[0]!.logprob) < 1e-6);
  }
});

test('chat completion streams the same text, then the usage chunk', async () => {
  const plain = await client.chat.completions.create({ model: SERVED_MODEL, messages, max_tokens: 10, temperature: 0 });
  const stream = await client.chat.completions.create({
    model: SERVED_MODEL, messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) {
      assert.equal(chunk.choices.length, 0, 'the usage chunk has no choices');
      usage = chunk.usage;
    }
  }
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.equal(text, plain.choices[0]!.message.content);
  assert.equal(finish, plain.choices[0]!.finish_reason);
  assert.deepEqual(usage, plain.usage);
});

test('n samples with a seed repeat; a stop sequence ends the text before it', async () => {
  const ask = () => client.chat.completions.create({ model: SERVED_MODEL, messages, max_tokens: 6, temperature: 1, n: 3, seed: 42 });
  const [a, b] = [await ask(), await ask()];
  assert.equal(a.choices.length, 3);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
  assert.deepEqual(b.choices.map((c) => c.message.content), a.choices.map((c) => c.message.content));

  const greedy = await client.chat.completions.create({ model: SERVED_MODEL, messages, max_tokens: 12, temperature: 0 });
  const text = greedy.choices[0]!.message.content!;
  assert.ok(text.length >= 4, `greedy text too short to cut: ${JSON.stringify(text)}`);
  const stop = text.slice(2, 4);
  const cut = await client.chat.completions.create({ model: SERVED_MODEL, messages, max_tokens: 12, temperature: 0, stop: [stop] });
  assert.equal(cut.choices[0]!.message.content, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0]!.finish_reason, 'stop');
});

test('completions: a text prompt, legacy logprobs, streaming', async () => {
  const prompt = 'The capital of France is';
  const res = await client.completions.create({ model: SERVED_MODEL, prompt, max_tokens: 5, temperature: 0, logprobs: 2 });
  const want = await served.greedyTokens(served.tokenizer.encode(prompt), 5);
  assert.equal(res.object, 'text_completion');
  assert.equal(res.choices[0]!.text, replyText(want));
  assert.equal(res.usage!.prompt_tokens, served.tokenizer.encode(prompt).length);
  assert.equal(res.choices[0]!.logprobs!.top_logprobs!.length, res.choices[0]!.logprobs!.tokens!.length);
  let streamed = '';
  for await (const chunk of await client.completions.create({ model: SERVED_MODEL, prompt, max_tokens: 5, temperature: 0, stream: true })) {
    streamed += chunk.choices[0]?.text ?? '';
  }
  assert.equal(streamed, res.choices[0]!.text);
});

test('a trained checkpoint is served by its tinker:// path, to its owner only', async () => {
  const path = served.checkpointPath;
  const res = await client.chat.completions.create({ model: path, messages, max_tokens: 8, temperature: 0, logprobs: true });
  assert.equal(res.model, path);
  const want = await served.greedyTokens(chatPrompt(), 8, path);
  assert.equal(res.choices[0]!.message.content, replyText(want));
  // It is the checkpoint's distribution, not the base model's.
  const base = await client.chat.completions.create({ model: SERVED_MODEL, messages, max_tokens: 8, temperature: 0, logprobs: true });
  const a = res.choices[0]!.logprobs!.content!.map((t) => t.logprob);
  const b = base.choices[0]!.logprobs!.content!.map((t) => t.logprob);
  assert.ok(a.some((x, i) => Math.abs(x - (b[i] ?? 0)) > 1e-3), 'the checkpoint samples like the base model');
  // `<base>;<path>` names the same weights.
  const joined = await client.chat.completions.create({ model: `${SERVED_MODEL};${path}`, messages, max_tokens: 8, temperature: 0 });
  assert.equal(joined.choices[0]!.message.content, res.choices[0]!.message.content);

  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.ok(ids.includes(SERVED_MODEL) && ids.includes(path), `models: ${ids.join(', ')}`);

  const other = new OpenAI({ baseURL: `${served.url}/oai/api/v1`, apiKey: OTHER_USER_KEY, maxRetries: 0 });
  await assert.rejects(
    other.chat.completions.create({ model: path, messages, max_tokens: 4 }),
    (e: unknown) => e instanceof OpenAI.NotFoundError && /not found/.test(e.message),
  );
  assert.ok(!(await other.models.list()).data.some((m) => m.id === path), "another user's checkpoint is listed");
});

test('bad input raises the client error classes with a clear message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no/such-model', messages, max_tokens: 4 }),
    (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found' && /no\/such-model.*does not exist/.test(e.message),
  );
  await assert.rejects(
    client.chat.completions.create({ model: SERVED_MODEL, messages: [{ role: 'wizard', content: 'hi' } as never], max_tokens: 4 }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'messages[0].role' && /'wizard'.*Supported values/.test(e.message),
  );
  await assert.rejects(
    client.chat.completions.create({ model: SERVED_MODEL, messages, max_tokens: 40_000 }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded' && /maximum context length is 32768/.test(e.message),
  );
  await assert.rejects(
    client.chat.completions.create({
      model: SERVED_MODEL, messages, max_tokens: 4,
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
    }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'tools' && /tools is not supported/.test(e.message),
  );
  await assert.rejects(
    client.chat.completions.create({ model: SERVED_MODEL, messages, max_tokens: 4, response_format: { type: 'json_object' } }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /response_format is not supported/.test(e.message),
  );
  const anonymous = new OpenAI({ baseURL: `${served.url}/oai/api/v1`, apiKey: 'not-a-key', maxRetries: 0 });
  await assert.rejects(anonymous.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && /invalid API key/.test(e.message));
});
