// Each renderer against the model's own chat template, rendered with @huggingface/jinja (the
// SDK tokenizer's applyChatTemplate) and tokenized whole: the renderer's tokens must be the same,
// token for token, on conversations with system prompts, several turns, reasoning and tool calls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getTokenizer, type Tokenizer } from '@tinker-ts/sdk';
import { CONVERSATIONS, WEATHER, assertSameTokens } from './conversations.testkit.js';
import type { Message } from './message.js';
import { Llama3Renderer } from './llama3.js';
import { Qwen3Renderer } from './qwen3.js';
import { getRenderer } from './registry.js';
import { RoleColonRenderer } from './role-colon.js';
import type { Renderer } from './renderer.js';

const qwen = getTokenizer('Qwen/Qwen3-8B');
const llama = getTokenizer('meta-llama/Llama-3.1-8B-Instruct');

/** A message as the Hugging Face chat templates take it. */
function templateMessage(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.thinking !== undefined) out['reasoning_content'] = m.thinking;
  if (m.toolCalls) out['tool_calls'] = m.toolCalls.map((c) => ({ type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return out;
}

function templateTokens(tok: Tokenizer, messages: readonly Message[], variables: Record<string, unknown>, addGenerationPrompt: boolean): number[] {
  const text = tok.applyChatTemplate(messages.map(templateMessage) as never, { addGenerationPrompt, variables });
  return tok.encode(text, { addSpecialTokens: false });
}

function weightedText(r: Renderer, messages: Message[], trainOnWhat: Parameters<Renderer['buildSupervisedExample']>[1] extends infer O ? O extends { trainOnWhat?: infer W } ? W : never : never): string {
  const ex = r.buildSupervisedExample(messages, { trainOnWhat });
  return r.tokenizer.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1));
}

for (const thinking of [true, false]) {
  const renderer = new Qwen3Renderer(qwen, { thinking });
  const variables = thinking ? {} : { enable_thinking: false };
  for (const [name, conv] of Object.entries(CONVERSATIONS)) {
    if (name === 'padded_reply') continue;
    const tools = name.startsWith('tool') ? [WEATHER] : undefined;
    const vars = tools ? { ...variables, tools } : variables;
    test(`${renderer.name}: ${name} renders token for token as the chat template`, () => {
      const ex = renderer.buildSupervisedExample(conv, tools ? { tools, trainOnWhat: 'all_tokens' } : { trainOnWhat: 'all_tokens' });
      assertSameTokens(qwen, ex.tokens, templateTokens(qwen, conv, vars, false), 'conversation');
      const context = conv.slice(0, -1);
      const prompt = renderer.buildGenerationPrompt(context, tools ? { tools } : {});
      assertSameTokens(qwen, prompt, templateTokens(qwen, context, vars, true), 'generation prompt');
    });
  }
}

test('qwen3: the generation prompt is a prefix of the supervised example, and the weights cover the reply', () => {
  for (const thinking of [true, false]) {
    const r = new Qwen3Renderer(qwen, { thinking });
    const conv = CONVERSATIONS['single']!;
    const ex = r.buildSupervisedExample(conv);
    const prompt = r.buildGenerationPrompt(conv.slice(0, -1));
    assert.deepEqual(ex.tokens.slice(0, prompt.length), prompt);
    assert.ok(ex.weights.slice(0, prompt.length).every((w) => w === 0), 'nothing of the prompt is trained');
    assert.equal(qwen.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1)), (thinking ? '<think>\n\n</think>\n\n' : '') + 'It is 4.<|im_end|>');
  }
});

test('qwen3: TrainOnWhat picks the messages whose completions carry weight', () => {
  const r = new Qwen3Renderer(qwen, { thinking: false });
  const conv = CONVERSATIONS['system_multi_turn']!;
  assert.equal(weightedText(r, conv, 'last_assistant_message'), 'Green.<|im_end|>');
  assert.equal(weightedText(r, conv, 'all_assistant_messages'), 'Blue.<|im_end|>Green.<|im_end|>');
  assert.equal(weightedText(r, conv, 'all_user_and_system_messages'), 'You are terse.<|im_end|>Name a colour.<|im_end|>Another one, please.\nJust one word!<|im_end|>');
  assert.equal(weightedText(r, conv, 'all_messages'), 'You are terse.<|im_end|>Name a colour.<|im_end|>Blue.<|im_end|>Another one, please.\nJust one word!<|im_end|>Green.<|im_end|>');
  const custom = conv.map((m, i) => ({ ...m, trainable: i === 2 }));
  assert.equal(weightedText(r, custom, 'customized'), 'Blue.<|im_end|>');
  const all = r.buildSupervisedExample(conv, { trainOnWhat: 'all_tokens' });
  assert.ok(all.weights.every((w) => w === 1));
  assert.throws(() => r.buildSupervisedExample(conv.slice(0, -1)), /last message must be the assistant's/);
});

test('qwen3: parseResponse reads reasoning, tool calls and the stop token back', () => {
  const r = new Qwen3Renderer(qwen);
  const written: Message = { role: 'assistant', content: 'Checking.', thinking: 'Need the weather.', toolCalls: [{ name: 'get_weather', arguments: '{"city": "Paris"}' }] };
  const ex = r.buildSupervisedExample([{ role: 'user', content: 'Paris?' }, written]);
  const reply = ex.tokens.filter((_, i) => ex.weights[i] === 1);
  assert.deepEqual(r.parseResponse(reply), { message: written, ok: true });
  assert.equal(r.parseResponse(reply.slice(0, -1)).ok, false, 'no stop token: truncated');
  const broken = qwen.encode('<tool_call>\n{"name": oops}\n</tool_call><|im_end|>', { addSpecialTokens: false });
  assert.equal(r.parseResponse(broken).ok, false, 'a tool call that does not parse');
  assert.deepEqual(r.stopSequences(), [qwen.encode('<|im_end|>', { addSpecialTokens: false })[0]]);
});

for (const [name, conv] of Object.entries(CONVERSATIONS)) {
  if (conv.some((m) => m.toolCalls || m.thinking)) continue; // the Llama 3 template has neither
  test(`llama3: ${name} renders token for token as the chat template`, () => {
    const r = new Llama3Renderer(llama);
    // This template always ends with the assistant header: compare with the generation prompt.
    assertSameTokens(llama, r.buildGenerationPrompt(conv), templateTokens(llama, conv, {}, true), 'conversation');
    const ex = r.buildSupervisedExample(conv);
    assert.deepEqual(ex.tokens, r.buildGenerationPrompt(conv).slice(0, ex.tokens.length));
    assert.equal(llama.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1)), conv[conv.length - 1]!.content.trim() + '<|eot_id|>');
    assert.equal(ex.tokens[0], llama.bosTokenId);
  });
}

test('llama3: parseResponse stops at <|eot_id|>', () => {
  const r = new Llama3Renderer(llama);
  const tokens = llama.encode('Hello there.<|eot_id|>', { addSpecialTokens: false });
  assert.deepEqual(r.parseResponse(tokens), { message: { role: 'assistant', content: 'Hello there.' }, ok: true });
  assert.equal(r.parseResponse(tokens.slice(0, -1)).ok, false);
});

test('role_colon: turns as "Role: text" with blank lines, trained on the reply after the colon', () => {
  const r = new RoleColonRenderer(llama);
  const conv = CONVERSATIONS['system_multi_turn']!;
  assert.equal(r.renderText(conv), '<|begin_of_text|>System: You are terse.\n\nUser: Name a colour.\n\nAssistant: Blue.\n\nUser: Another one, please.\nJust one word!\n\nAssistant: Green.\n\n');
  assert.equal(r.renderGenerationText(conv.slice(0, 2)), '<|begin_of_text|>System: You are terse.\n\nUser: Name a colour.\n\nAssistant:');
  const ex = r.buildSupervisedExample(conv.slice(0, 3));
  assert.equal(llama.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1)), ' Blue.\n\n');
  assert.deepEqual(r.stopSequences(), ['\n\nUser:']);
  const sampled = llama.encode(' Red.\n\nUser: more', { addSpecialTokens: false });
  assert.deepEqual(r.parseResponse(sampled), { message: { role: 'assistant', content: 'Red.' }, ok: true });
});

test('getRenderer knows the cookbook names and refuses others with a clear message', () => {
  assert.equal(getRenderer('qwen3_disable_thinking', qwen).name, 'qwen3_disable_thinking');
  assert.equal(getRenderer('llama3', llama).name, 'llama3');
  assert.throws(() => getRenderer('nope', qwen), /unknown renderer "nope"; known: qwen3/);
});
