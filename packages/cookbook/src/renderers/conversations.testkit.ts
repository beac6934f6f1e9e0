// The conversations every renderer is checked on against its model's chat template (system
// prompts, several turns, reasoning, tool calls), and the token-for-token comparison.
import assert from 'node:assert/strict';
import type { Tokenizer } from '@tinker-ts/sdk';
import type { Message, ToolSpec } from './message.js';

export const WEATHER: ToolSpec = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

export const CONVERSATIONS: Record<string, Message[]> = {
  single: [
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: 'It is 4.' },
  ],
  system_multi_turn: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Name a colour.' },
    { role: 'assistant', content: 'Blue.' },
    { role: 'user', content: 'Another one, please.\nJust one word!' },
    { role: 'assistant', content: 'Green.' },
  ],
  // Content with surrounding spaces. Python's str.lstrip('\n') in the Qwen3 template keeps them;
  // @huggingface/jinja strips all whitespace, so this one is checked against Llama 3's `| trim` only.
  padded_reply: [
    { role: 'user', content: '  Say hi. ' },
    { role: 'assistant', content: ' Hi! ' },
  ],
  reasoning: [
    { role: 'user', content: 'Is 17 prime?' },
    { role: 'assistant', content: 'Yes.', thinking: 'Check 2, 3: 17 is not divisible by them.' },
    { role: 'user', content: 'And 21?' },
    { role: 'assistant', content: 'No, 21 = 3 × 7.', thinking: '\n21 / 3 = 7.\n' },
  ],
  tool_calls: [
    { role: 'system', content: 'Use tools when useful.' },
    { role: 'user', content: 'Weather in Paris and Rome?' },
    {
      role: 'assistant',
      content: 'Let me check.',
      toolCalls: [
        { name: 'get_weather', arguments: '{"city": "Paris"}' },
        { name: 'get_weather', arguments: '{"city": "Rome"}' },
      ],
    },
    { role: 'tool', content: '{"temp": 12}' },
    { role: 'tool', content: '{"temp": 18}' },
    { role: 'assistant', content: 'Paris 12°C, Rome 18°C.', thinking: 'Both answered.' },
  ],
  // One call per assistant message (harmony's shape), reasoning before the first.
  sequential_tool_calls: [
    { role: 'system', content: 'Use tools when useful.' },
    { role: 'user', content: 'Weather in Paris, then Rome?' },
    { role: 'assistant', content: '', thinking: 'Paris first.', toolCalls: [{ name: 'get_weather', arguments: '{"city": "Paris"}' }] },
    { role: 'tool', content: '{"temp": 12}' },
    { role: 'assistant', content: '', toolCalls: [{ name: 'get_weather', arguments: '{"city": "Rome"}' }] },
    { role: 'tool', content: '{"temp": 18}' },
    { role: 'assistant', content: 'Paris 12°C, then Rome 18°C.' },
  ],
  tool_call_without_text: [
    { role: 'user', content: 'Weather in Oslo?' },
    { role: 'assistant', content: '', toolCalls: [{ name: 'get_weather', arguments: '{"city": "Oslo"}' }] },
    { role: 'tool', content: '{"temp": -3}' },
    { role: 'assistant', content: 'Cold: -3°C.' },
  ],
};

/** Fails with the tokens around the first difference, decoded. */
export function assertSameTokens(tok: Tokenizer, actual: number[], expected: number[], what: string): void {
  if (actual.length === expected.length && actual.every((t, i) => t === expected[i])) return;
  const at = actual.findIndex((t, i) => t !== expected[i]);
  assert.fail(`${what}: differs at token ${at}\n  renderer: ${JSON.stringify(tok.decode(actual.slice(Math.max(0, at - 5), at + 10)))}\n  template: ${JSON.stringify(tok.decode(expected.slice(Math.max(0, at - 5), at + 10)))}`);
}
