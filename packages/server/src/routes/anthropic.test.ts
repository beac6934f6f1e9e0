/**
 * The Anthropic-compatible endpoints driven by the `@anthropic-ai/sdk` client: messages with a
 * system prompt, streaming assembled by the SDK, stop sequences, count_tokens, a trained
 * checkpoint by its tinker:// path, and bad input raising the client's own error classes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { OTHER_USER_KEY, OWNER_KEY, SERVED_MODEL, startServedCheckpoint, type ServedCheckpoint } from './served-checkpoint-testkit.js';

// Sampling options this server reads that the client's types no longer list.
const GREEDY: object = { temperature: 0 };

let served: ServedCheckpoint;
let client: Anthropic;
const system = 'You answer briefly.';
const messages = [{ role: 'user' as const, content: 'Name a colour.' }];

before(async () => {
  served = await startServedCheckpoint('tinker-anthropic-');
  client = new Anthropic({ baseURL: `${served.url}/anthropic/api`, apiKey: OWNER_KEY, maxRetries: 0, timeout: 120_000 });
});
after(async () => {
  await served?.close();
});

function chatPrompt(): number[] {
  return served.tokenizer.encodeChat([{ role: 'system', content: system }, ...messages], { addGenerationPrompt: true });
}

function textOf(message: Anthropic.Message): string {
  return message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

function replyText(tokens: number[]): string {
  const eos = new Set([151645, 151643]);
  const kept = tokens.length > 0 && eos.has(tokens[tokens.length - 1]!) ? tokens.slice(0, -1) : tokens;
  return served.tokenizer.decode(kept);
}

test('a message with a system prompt: greedy text and usage are those of the sampler', async () => {
  const res = await client.messages.create({ model: SERVED_MODEL, system, messages, max_tokens: 8, ...GREEDY });
  const want = await served.greedyTokens(chatPrompt(), 8);
  assert.equal(res.type, 'message');
  assert.equal(res.role, 'assistant');
  assert.equal(res.model, SERVED_MODEL);
  assert.equal(textOf(res), replyText(want));
  assert.equal(res.stop_reason, want.length < 8 ? 'end_turn' : 'max_tokens');
  assert.equal(res.usage.input_tokens, chatPrompt().length);
  assert.equal(res.usage.output_tokens, want.length);
  const counted = await client.messages.countTokens({ model: SERVED_MODEL, system, messages });
  assert.equal(counted.input_tokens, chatPrompt().length);
});

test('streaming: the SDK assembles the same message from the events', async () => {
  const plain = await client.messages.create({ model: SERVED_MODEL, system, messages, max_tokens: 10, ...GREEDY });
  const stream = client.messages.stream({ model: SERVED_MODEL, system, messages, max_tokens: 10, ...GREEDY });
  const events: string[] = [];
  let deltas = '';
  stream.on('streamEvent', (e) => events.push(e.type));
  stream.on('text', (t) => (deltas += t));
  const final = await stream.finalMessage();
  assert.equal(textOf(final), textOf(plain));
  assert.equal(deltas, textOf(plain));
  assert.equal(final.stop_reason, plain.stop_reason);
  assert.deepEqual(final.usage.output_tokens, plain.usage.output_tokens);
  assert.deepEqual(final.usage.input_tokens, plain.usage.input_tokens);
  assert.equal(events[0], 'message_start');
  assert.equal(events[1], 'content_block_start');
  assert.deepEqual(events.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
});

test('a stop sequence ends the text before it and is reported', async () => {
  const plain = await client.messages.create({ model: SERVED_MODEL, system, messages, max_tokens: 12, ...GREEDY });
  const text = textOf(plain);
  assert.ok(text.length >= 4, `greedy text too short to cut: ${JSON.stringify(text)}`);
  const stop = text.slice(2, 4);
  const cut = await client.messages.create({ model: SERVED_MODEL, system, messages, max_tokens: 12, ...GREEDY, stop_sequences: [stop] });
  assert.equal(textOf(cut), text.slice(0, text.indexOf(stop)));
  assert.equal(cut.stop_reason, 'stop_sequence');
  assert.equal(cut.stop_sequence, stop);
});

test('a trained checkpoint is served by its tinker:// path, to its owner only', async () => {
  const path = served.checkpointPath;
  const res = await client.messages.create({ model: path, system, messages, max_tokens: 8, ...GREEDY });
  assert.equal(res.model, path);
  assert.equal(textOf(res), replyText(await served.greedyTokens(chatPrompt(), 8, path)));
  const other = new Anthropic({ baseURL: `${served.url}/anthropic/api`, apiKey: OTHER_USER_KEY, maxRetries: 0 });
  await assert.rejects(
    other.messages.create({ model: path, messages, max_tokens: 4 }),
    (e: unknown) => e instanceof Anthropic.NotFoundError && /not found/.test(e.message),
  );
});

test('bad input raises the client error classes with a clear message', async () => {
  await assert.rejects(
    client.messages.create({ model: 'no/such-model', messages, max_tokens: 4 }),
    (e: unknown) => e instanceof Anthropic.NotFoundError && /no\/such-model.*does not exist/.test(e.message),
  );
  await assert.rejects(
    client.messages.create({ model: SERVED_MODEL, messages: [{ role: 'system' as never, content: 'hi' }], max_tokens: 4 }),
    (e: unknown) => e instanceof Anthropic.BadRequestError && /messages\.0\.role.*'user' or 'assistant'/.test(e.message),
  );
  await assert.rejects(
    client.messages.create({ model: SERVED_MODEL, messages, max_tokens: 40_000 }),
    (e: unknown) => e instanceof Anthropic.BadRequestError && /maximum context length is 32768/.test(e.message),
  );
  await assert.rejects(
    client.messages.create({ model: SERVED_MODEL, messages, max_tokens: 4, tools: [{ name: 'f', input_schema: { type: 'object' } }] }),
    (e: unknown) => e instanceof Anthropic.BadRequestError && /tools is not supported/.test(e.message),
  );
  const anonymous = new Anthropic({ baseURL: `${served.url}/anthropic/api`, apiKey: 'not-a-key', maxRetries: 0 });
  await assert.rejects(
    anonymous.messages.create({ model: SERVED_MODEL, messages, max_tokens: 4 }),
    (e: unknown) => e instanceof Anthropic.AuthenticationError && /invalid API key/.test(e.message),
  );
});
