import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from './tokenizer.js';
import { renderChatTemplate } from './chat-template.js';

const messages = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi there' },
];

test('bundled Qwen3 tokenizer encodes and decodes losslessly with its real ids', () => {
  const tok = Tokenizer.fromFiles(Tokenizer.bundledFiles('qwen3'));
  const ids = tok.encode('Hello world! 你好');
  assert.deepEqual(ids, [9707, 1879, 0, 220, 108386]);
  assert.equal(tok.decode(ids), 'Hello world! 你好');
  assert.equal(tok.tokenId('<|im_end|>'), 151645);
  assert.equal(tok.eosTokenId, 151645);
  assert.equal(tok.bosTokenId, null);
  assert.deepEqual(tok.encode('Hi', { addSpecialTokens: true }), tok.encode('Hi'));
});

test('Qwen3 chat template renders im_start turns and the generation prompt', () => {
  const tok = Tokenizer.fromFiles(Tokenizer.bundledFiles('qwen3'));
  const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
  assert.ok(text.startsWith('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n'), text);
  const ids = tok.encodeChat(messages, { addGenerationPrompt: true });
  assert.equal(ids[0], tok.tokenId('<|im_start|>'));
  assert.equal(tok.decode(ids), text);
});

test('bundled Llama 3 tokenizer adds BOS when asked and decodes back', () => {
  const tok = Tokenizer.fromFiles(Tokenizer.bundledFiles('llama'));
  const ids = tok.encode('Hello world!', { addSpecialTokens: true });
  assert.deepEqual(ids, [128000, 9906, 1917, 0]);
  assert.equal(tok.decode(ids), '<|begin_of_text|>Hello world!');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'Hello world!');
  assert.equal(tok.vocabSize, 128256);
});

test('Llama 3 chat template renders header ids and eot', () => {
  const tok = Tokenizer.fromFiles(Tokenizer.bundledFiles('llama'));
  const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
  assert.ok(text.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n'), text);
  assert.ok(text.includes('<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>'), text);
  assert.ok(text.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n'), text);
  const ids = tok.encodeChat(messages, { addGenerationPrompt: true });
  assert.equal(ids.filter((i) => i === 128000).length, 1);
});

test('renderChatTemplate passes variables and rejects malformed messages', () => {
  const t = '{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}{{ eos_token }}';
  assert.equal(renderChatTemplate(t, messages, { addGenerationPrompt: true, eosToken: '</s>' }), '[system:Be brief.][user:Hi there]></s>');
  assert.throws(() => renderChatTemplate(t, [{ role: 'user' } as never]), /string role and content/);
});
