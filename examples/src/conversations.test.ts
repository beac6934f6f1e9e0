import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getTokenizer } from '@tinker-ts/sdk';
import { conversationToDatum, promptTokens, readConversations, renderConversation, weightSum } from './conversations.js';

const messages = [
  { role: 'user', content: 'Play some jazz music.' },
  { role: 'assistant', content: '{"intent": "music"}' },
];

test('a conversation datum reads tokens[:-1], predicts tokens[1:] and weights only the reply', () => {
  const tokenizer = getTokenizer('Qwen/Qwen3-8B');
  const { tokens, promptLength } = renderConversation(tokenizer, messages);
  assert.deepEqual(tokens.slice(0, promptLength), promptTokens(tokenizer, messages));
  const datum = conversationToDatum(tokenizer, messages);
  assert.deepEqual(datum.modelInput.toInts(), tokens.slice(0, -1));
  assert.deepEqual(datum.lossFnInputs['target_tokens']!.toArray(), tokens.slice(1));
  const weights = datum.lossFnInputs['weights']!.toArray();
  // weights[i] weighs predicting tokens[i + 1]: zero up to the prompt's end, one after.
  assert.deepEqual(weights, tokens.slice(1).map((_, i) => (i + 1 >= promptLength ? 1 : 0)));
  const reply = tokenizer.decode(tokens.slice(promptLength));
  assert.ok(reply.startsWith('{"intent": "music"}'), reply);
  assert.equal(weightSum([datum]), tokens.length - promptLength);
});

test('readConversations names the file and line of a bad conversation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conversations-'));
  try {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, JSON.stringify({ messages }) + '\n\n{"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "?"}]}\n');
    assert.throws(() => readConversations(file), /bad\.jsonl line 3: the last message must be the assistant's reply/);
    writeFileSync(file, '{not json\n');
    assert.throws(() => readConversations(file), /bad\.jsonl line 1: not valid JSON/);
    writeFileSync(file, JSON.stringify({ messages }) + '\n');
    assert.equal(readConversations(file).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
